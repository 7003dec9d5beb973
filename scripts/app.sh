#!/usr/bin/env bash
# Set up if needed, then open the Treelight explorer on the embedded model.
# Extra arguments go to `treelight app` (e.g. --port 8600).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/treelight app "$@"
