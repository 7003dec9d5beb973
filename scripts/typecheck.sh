#!/usr/bin/env bash
# Type-check the installed layout: mypy cannot follow setuptools' editable
# finder, so link the folders in as build/typecheck/treelight/{app,engine,...}
# (pyproject.toml points mypy there) and check the package `treelight`.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/typecheck/treelight
for folder in app assets engine storage; do
  ln -sfn "../../../$folder" "build/typecheck/treelight/$folder"
done
mypy "$@"
