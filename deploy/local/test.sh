#!/usr/bin/env bash
# `make test`: static checks, then all test tiers on the real Kafka broker and the Mongo stand-in.
# Starts the test infrastructure (profile `test`, its own ports, wiped each run) unless
# KAFKA_BOOTSTRAP_SERVERS / MONGO_URL point elsewhere, and stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
export UV_PYTHON_DOWNLOADS=never
UV=$(command -v uv || echo "$HOME/.local/bin/uv")
mode=${1:-test}

started=0
cleanup() { if [ "$started" = 1 ]; then python3 deploy/local/infra.py down --profile test || true; fi; }
trap cleanup EXIT

start=$(date +%s)
# The benchmark keeps 100k requests in the in-memory store.
if [ "$mode" = bench ]; then export ICR_MONGO_HEAP=${ICR_MONGO_HEAP:-4g}; fi
if [ "$mode" = test ]; then
  # Two commands, not `a && b`: `set -e` ignores a failure on the left of `&&`, so a lint error
  # went unnoticed as long as the format check passed.
  echo "== ruff"
  "$UV" run ruff check .
  "$UV" run ruff format --check .
  # Markdown and YAML escape ruff: a merge's leftover conflict markers would ship unnoticed.
  if git grep -nE '^(<<<<<<<|>>>>>>>) ' -- . 2>/dev/null; then
    echo "merge conflict markers left in the files above"; exit 1
  fi
  echo "== mypy"; "$UV" run mypy libs/kit/src libs/contracts/src services/requests/src \
    services/feedback/src services/incentives/src gateway/src cli/src
fi

if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || [ -z "${MONGO_URL:-}" ]; then
  echo "== test infrastructure"
  # Stop afterwards only what this run started; a developer's running test infra stays up.
  if ! python3 deploy/local/infra.py status --profile test >/dev/null 2>&1; then
    started=1
  elif [ "$mode" = bench ]; then
    echo "note: reusing the running test infrastructure; if its store runs out of heap at 100k"
    echo "requests, stop it (python3 deploy/local/infra.py down --profile test) and rerun."
  fi
  python3 deploy/local/infra.py up --profile test
  eval "$(python3 deploy/local/infra.py env --profile test)"
fi
export KAFKA_BOOTSTRAP_SERVERS MONGO_URL

if [ "$mode" = bench ]; then
  for b in bench/bench_*.py; do echo "== $b"; "$UV" run python "$b"; done
else
  echo "== pytest"
  "$UV" run pytest -q -p no:cacheprovider
fi
echo "== done in $(( $(date +%s) - start ))s"
