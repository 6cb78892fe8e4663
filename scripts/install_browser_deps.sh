#!/usr/bin/env bash
# Install Debian's Chromium (and chromium-driver) for the browser tests in
# tests/browser/, when /usr/bin/chromium is missing. Idempotent and quiet: does
# nothing when Chromium is already there. Needs root (CI runs as root) or sudo.
set -euo pipefail

if [ -x /usr/bin/chromium ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "install_browser_deps: /usr/bin/chromium is missing and this is not root; run as root" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "install_browser_deps: installing chromium and chromium-driver with apt-get" >&2
if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq --no-install-recommends \
        chromium chromium-driver fonts-dejavu-core; } >"$log" 2>&1; then
    cat "$log" >&2
    echo "install_browser_deps: apt-get failed" >&2
    exit 1
fi

if [ ! -x /usr/bin/chromium ]; then
    echo "install_browser_deps: apt-get finished but /usr/bin/chromium is still missing" >&2
    exit 1
fi
