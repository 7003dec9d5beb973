#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, if it is not there yet.
# (Playwright drives it; it never downloads a browser of its own.)
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ] && ! command -v sudo >/dev/null; then
  echo "Chromium is missing: install Debian's 'chromium' package to run the browser tests." >&2
  exit 1
fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "Installing Debian's chromium for the browser tests ..." >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
