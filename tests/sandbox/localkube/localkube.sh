#!/usr/bin/env bash
# Shell entry point: tests/sandbox/localkube/localkube.sh {build|up|down|status|env|nodes|crds} [args]
# Uses $KEIKO_PYTHON, else the project venv's python, else python3.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KEIKO_CACHE_DIR:-$HOME/.cache/keikolatam-gitops}"
py="${KEIKO_PYTHON:-}"
if [[ -z "$py" ]]; then
  if [[ -x "$cache/venv/bin/python" ]]; then py="$cache/venv/bin/python"; else py="$(command -v python3)"; fi
fi
PYTHONPATH="$(dirname "$here")${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONPATH
exec "$py" -m localkube "$@"
