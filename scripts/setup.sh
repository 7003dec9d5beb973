#!/usr/bin/env bash
# Create or refresh the project's virtual environment in .venv.
# Safe to run again: it reinstalls only when pyproject.toml changed.
# llama-cpp-python compiles from source the first time (about 5-6 minutes on
# two cores; pip caches the wheel, so later installs take seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.treelight-installed
want=$(cat pyproject.toml tests/plugin/pyproject.toml | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "Installing Treelight and its dependencies into .venv ..." >&2
  .venv/bin/python -m pip install -q --upgrade pip
  CMAKE_ARGS="${CMAKE_ARGS:--DLLAVA_BUILD=OFF -DGGML_NATIVE=OFF}" \
    .venv/bin/python -m pip install -q -e ".[dev,bench]"
  # The reference Tree of Thoughts, for `treelight bench game24 --methods reference`.
  # Its pins (openai 0.27 and friends) are not needed: its model call is redirected.
  .venv/bin/python -m pip install -q --no-deps "tree-of-thoughts-llm==0.1.0"
  # The example plugin the tests use (a third-party package, tests/plugin/).
  .venv/bin/python -m pip install -q --no-deps -e tests/plugin
  echo "$want" > "$stamp"
fi
