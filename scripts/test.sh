#!/usr/bin/env bash
# Set up if needed, then run everything CI runs: lint, format check, type
# check and the whole test suite (real embedded model and real browser included).
# Extra arguments go to pytest (e.g. -k invariants).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/system.sh
. .venv/bin/activate
echo "== ruff check" && ruff check .
echo "== ruff format --check" && ruff format --check .
echo "== mypy" && bash scripts/typecheck.sh
echo "== import contracts (app -> engine -> storage)" && lint-imports --no-cache
# system.sh installed PostgreSQL: its tests must run, not skip.
echo "== pytest" && TREELIGHT_REQUIRE_POSTGRES=1 python -m pytest -q "$@"
