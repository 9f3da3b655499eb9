#!/usr/bin/env bash
# Sets up (tools/setup.sh) and runs the whole test suite. Extra arguments go to pytest.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# The suite also checks the ARM instruction counts, which need qemu-plugin.h (fetched once).
EDGEBNN_QEMU_PLUGIN=${EDGEBNN_QEMU_PLUGIN:-1} "$repo/tools/setup.sh"
cd "$repo"
exec "${EDGEBNN_VENV:-$repo/.venv}/bin/python" -m pytest -q -p no:cacheprovider "$@"
