#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: uv (from PyPI), the Python workspace and
# GraphiQL's files for the gateway (npm registry, cached under ~/.cache/icr; no CDN at run time).
# Java 17 and Maven come with the machine; infra.py checks them and says what is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
export UV_PYTHON_DOWNLOADS=never
if ! command -v uv >/dev/null 2>&1 && [ ! -x "$HOME/.local/bin/uv" ]; then
  echo "install: uv not found; installing it from PyPI"
  python3 -m pip install --quiet --user uv 2>/dev/null || python3 -m pip install --quiet uv
fi
UV=$(command -v uv || echo "$HOME/.local/bin/uv")
"$UV" sync --frozen --quiet
# The files strawberry's GraphiQL page names, checked against its integrity hashes; a second run
# finds them in place (or in the cache) and downloads nothing.
if command -v npm >/dev/null 2>&1; then
  "$UV" run --frozen --quiet python -m icr.gateway.ide fetch .local/graphiql >/dev/null
else
  echo "install: npm not found; GraphiQL at /graphql will say how to install its files" >&2
fi
