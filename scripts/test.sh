#!/usr/bin/env bash
# Set up if needed, then run everything CI runs: lint, format check, type
# check and the whole test suite (real embedded model, real browser and real
# PostgreSQL included).
#
#   bash scripts/test.sh            everything (what CI runs)
#   bash scripts/test.sh --quick    lint, types, contracts and every test that needs
#                                   no model, browser, PostgreSQL or long wait
#
# Extra arguments go to pytest (e.g. -k invariants).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
if [ "${1:-}" = "--quick" ]; then
  quick=1
  shift
fi
bash scripts/setup.sh
bash scripts/system.sh
. .venv/bin/activate
echo "== ruff check" && ruff check .
echo "== ruff format --check" && ruff format --check .
echo "== mypy" && bash scripts/typecheck.sh
echo "== import contracts (app -> engine -> storage)" && lint-imports --no-cache
if [ "$quick" = 1 ]; then
  echo "== pytest (quick tier: no model, browser, PostgreSQL or slow tests)"
  python -m pytest -q -m "not model and not browser and not postgres and not slow" "$@"
else
  # system.sh installed PostgreSQL: its tests must run, not skip.
  echo "== pytest" && TREELIGHT_REQUIRE_POSTGRES=1 python -m pytest -q "$@"
fi
