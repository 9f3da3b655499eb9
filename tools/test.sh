#!/usr/bin/env bash
# Sets up (tools/setup.sh) and runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
"$repo/tools/setup.sh"
cd "$repo"
exec "${EDGEBNN_VENV:-$repo/.venv}/bin/python" -m pytest -q -p no:cacheprovider "$@"
