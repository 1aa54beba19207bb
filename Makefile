# ICR's single entry point. `make up` runs the platform locally, `make test` runs every check.
# No Docker needed: Kafka and the MongoDB stand-in run from Maven Central jars (deploy/local/).
SHELL := /bin/bash
PYTHON ?= python3
export UV_PYTHON_DOWNLOADS := never
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

# Where `make up` keeps its state (the development signing key is in $(STATE)/dev/identity).
STATE := $(or $(ICR_STATE_DIR),.local)
PERSON ?= admin
HOURS ?= 8

.PHONY: help install up down status logs test lint typecheck unit infra-test-up infra-test-down schemas bench clean token seed simulate

help:
	@echo "make up       install everything and start Kafka, the store, three services and the gateway"
	@echo "make down     stop everything 'make up' started"
	@echo "make test     lint, type-check and run every test (starts test infrastructure itself)"
	@echo "make unit     the fast tier only: no Kafka, no store, a few seconds"
	@echo "make status   what is running"
	@echo "make token PERSON=ana [HOURS=8]   print a development bearer token for a person"
	@echo "make schemas  regenerate the event JSON Schemas under docs/events/"
	@echo "make seed     the demo organisation (make up does it once; ICR_SEED=0 skips it)"
	@echo "make simulate [WEEKS=4 RATE=20 SEED=1]   plausible activity through the API"

install:
	@bash deploy/local/install.sh

up: install
	@$(PYTHON) deploy/local/infra.py up --profile dev
	@$(PYTHON) deploy/local/apps.py up --profile dev
	@# The demo organisation on an empty directory: a later `make up` leaves yours alone.
	@if [ "$${ICR_SEED:-1}" != 0 ]; then \
	  $(UV) run --quiet icr seed --if-empty --size $${ICR_SEED_SIZE:-300}; fi
	@# And a month of its activity, once, in the background: the README's matrix, scores and
	@# leaderboards have something to show within minutes. Journaled, so a later `make up`
	@# that finds it done (or half done) sends nothing twice. ICR_SIMULATE=0 skips it.
	@if [ "$${ICR_SEED:-1}" != 0 ] && [ "$${ICR_SIMULATE:-1}" != 0 ] \
	    && ! [ -e $(STATE)/dev/simulate.done ]; then \
	  ( $(UV) run --quiet icr simulate --weeks 4 --rate 20 --seed 1 \
	      > $(STATE)/dev/simulate.log 2>&1 && touch $(STATE)/dev/simulate.done ) & \
	  echo $$! > $(STATE)/dev/simulate.pid; \
	  echo "Simulating a month of activity in the background (log: $(STATE)/dev/simulate.log)"; fi
	@echo
	@echo "ICR is up.  GraphQL (with GraphiQL): http://127.0.0.1:8000/graphql"
	@echo "Services: requests :8001, feedback :8002, incentives :8003 (/docs for OpenAPI)"
	@echo "The demo organisation (icr seed; ICR_SEED=0 skips it): ana (Sales), bo (IT agent), mei (IT manager), admin"
	@echo "A token for anyone: make -s token PERSON=ana.  More: uv run icr --help"
	@echo "Logs: .local/dev/apps/*.log, .local/dev/kafka/, .local/dev/mongo/.  Stop: make down"

# A development token, signed with the key `make up` created (the apps trust nothing else).
token:
	@$(UV) run --quiet icr token "$(PERSON)" --hours $(HOURS) --identity-dir $(STATE)/dev/identity

# The demo organisation again (idempotent: only what differs from the plan is written).
seed: install
	@$(UV) run icr seed

# A month of activity on the running platform (see docs/cli.md for how the clock works).
simulate: install
	@$(UV) run icr simulate --weeks $${WEEKS:-4} --rate $${RATE:-20} --seed $${SEED:-1}

down:
	@# A background simulation stops with the platform (`make up` resumes it from its journal).
	@if [ -e $(STATE)/dev/simulate.pid ]; then \
	  pkill -TERM -P "$$(cat $(STATE)/dev/simulate.pid)" 2>/dev/null || true; \
	  kill "$$(cat $(STATE)/dev/simulate.pid)" 2>/dev/null || true; rm -f $(STATE)/dev/simulate.pid; fi
	@$(PYTHON) deploy/local/apps.py down --profile dev
	@$(PYTHON) deploy/local/infra.py down --profile dev

status:
	@$(PYTHON) deploy/local/infra.py status --profile dev
	@$(PYTHON) deploy/local/apps.py status --profile dev

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .

typecheck: install
	$(UV) run mypy libs/kit/src libs/contracts/src services/requests/src services/feedback/src services/incentives/src gateway/src cli/src

# The fast tier: domain and use-case tests on in-memory fakes; needs neither Kafka nor the store.
unit: install
	$(UV) run pytest -m "not infra and not e2e and not slow" -q -p no:cacheprovider

# The whole suite: static checks, then every test tier against real Kafka and the stand-in.
test: install
	@bash deploy/local/test.sh

schemas: install
	$(UV) run python -m icr.contracts.export docs/events

bench: install
	@bash deploy/local/test.sh bench

clean: down
	rm -rf .local
