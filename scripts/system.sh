#!/usr/bin/env bash
# Install the Debian packages the tests use, if they are missing:
# chromium (the browser tests; Playwright drives it and never downloads a
# browser of its own), bubblewrap (the sandbox for model-written code) and
# the PostgreSQL server (the storage tests also run against it; they start
# their own throwaway cluster, so no service is enabled or configured).
set -euo pipefail
missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v bwrap >/dev/null || missing+=(bubblewrap)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "Missing Debian packages: ${missing[*]} — install them to run every test." >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "Installing Debian packages for the tests: ${missing[*]} ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
