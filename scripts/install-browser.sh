#!/usr/bin/env bash
# Installs the browser the browser suite (tests/tests/browser.rs) drives: Debian's
# `chromium` and `chromium-driver` packages, through apt-get, when /usr/bin/chromium or
# /usr/bin/chromedriver is missing. Does nothing when both are there.
#
# Runs as root, or through sudo when run as another user. Everything comes from the
# distribution's package archive; nothing is downloaded from anywhere else.
set -euo pipefail

log() { printf 'install-browser.sh: %s\n' "$*" >&2; }

CHROMIUM=/usr/bin/chromium
CHROMEDRIVER=/usr/bin/chromedriver

if [ -x "$CHROMIUM" ] && [ -x "$CHROMEDRIVER" ]; then
    log "chromium and chromedriver are already installed"
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not found: install Chromium and its matching chromedriver with your system's"
    log "package manager so that $CHROMIUM and $CHROMEDRIVER exist"
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo "$@"; }
else
    log "not root and sudo is not available: run this script as root"
    exit 1
fi

export DEBIAN_FRONTEND=noninteractive
log "apt-get update"
as_root apt-get update
log "apt-get install chromium chromium-driver"
as_root apt-get install -y --no-install-recommends chromium chromium-driver fonts-dejavu-core

for binary in "$CHROMIUM" "$CHROMEDRIVER"; do
    if [ ! -x "$binary" ]; then
        log "$binary is still missing after the install"
        exit 1
    fi
done
log "installed: $("$CHROMIUM" --version 2>/dev/null || echo chromium), $("$CHROMEDRIVER" --version 2>/dev/null || echo chromedriver)"
