#!/usr/bin/env bash
# Installs what the project needs on a fresh machine: uv (from PyPI) and the Python workspace.
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
