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
if [ "$mode" = test ]; then
  echo "== ruff"; "$UV" run ruff check . && "$UV" run ruff format --check .
  echo "== mypy"; "$UV" run mypy libs/kit/src libs/contracts/src services/requests/src \
    services/feedback/src services/incentives/src gateway/src
fi

if [ -z "${KAFKA_BOOTSTRAP_SERVERS:-}" ] || [ -z "${MONGO_URL:-}" ]; then
  echo "== test infrastructure"
  python3 deploy/local/infra.py up --profile test
  started=1
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
