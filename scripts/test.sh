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
  exec python -m pytest -q -m "not model and not browser and not postgres and not slow" "$@"
fi

# system.sh installed PostgreSQL: its tests must run, not skip.
export TREELIGHT_REQUIRE_POSTGRES=1
# Two processes side by side: the tests that run the model or Chromium, one at a
# time (two llama.cpp processes on two cores thrash), beside all the others.
# Exit code 5 is pytest's "no test selected" (e.g. `-k` matched only one side).
heavy_log=$(mktemp)
python -m pytest -q -p no:cacheprovider -m "model or browser" "$@" >"$heavy_log" 2>&1 &
heavy=$!
echo "== pytest (no model, no browser; the model and browser tests run beside it)"
light_status=0
python -m pytest -q -m "not model and not browser" "$@" || light_status=$?
heavy_status=0
wait "$heavy" || heavy_status=$?
echo "== pytest (model and browser tests)"
cat "$heavy_log"
rm -f "$heavy_log"
for status in "$light_status" "$heavy_status"; do
  if [ "$status" -ne 0 ] && [ "$status" -ne 5 ]; then
    exit "$status"
  fi
done
