#!/usr/bin/env bash
# Install the browser the UI end-to-end test drives: Debian's `chromium` package (no browser
# download by Playwright). Idempotent and quick when chromium is already there. Needs root (or sudo)
# and the Debian package registry. Prints the browser's path on success.
#
#   bash scripts/install_browser.sh          # install if missing
#   CHROMIUM=/path/to/chromium bash scripts/install_browser.sh   # use another binary, install nothing
set -euo pipefail
BIN="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
  echo "$BIN"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install_browser.sh: no apt-get here; install chromium yourself or set CHROMIUM=/path" >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "install_browser.sh: need root (or sudo) to apt-get install chromium" >&2
    exit 1
  fi
fi
# Other processes may hold the dpkg lock for a while on a busy machine: wait for it, don't fail.
APT=($SUDO apt-get -o DPkg::Lock::Timeout=600 -o Acquire::Retries=3)
export DEBIAN_FRONTEND=noninteractive
echo "install_browser.sh: apt-get update && apt-get install chromium" >&2
"${APT[@]}" update -q >&2
"${APT[@]}" install -y -q --no-install-recommends chromium fonts-liberation >&2
"$BIN" --version >&2
echo "$BIN"
