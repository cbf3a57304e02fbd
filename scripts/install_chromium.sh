#!/usr/bin/env bash
# Install headless Chromium for the browser test (tests/browser/test_report_renders.py).
#
# Idempotent: does nothing when /usr/bin/chromium already exists. Needs root
# (apt-get); without root it only explains what to do and exits 0, because the
# browser test skips itself cleanly when Chromium is absent.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
    echo "chromium already installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "chromium is not installed at $CHROMIUM and this script is not running as root." >&2
    echo "Install it with:  sudo apt-get update && sudo apt-get install -y chromium" >&2
    echo "Until then tests/browser/test_report_renders.py will be skipped." >&2
    exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
    echo "apt-get not found; install Chromium at $CHROMIUM with your package manager." >&2
    echo "Until then tests/browser/test_report_renders.py will be skipped." >&2
    exit 0
fi

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq chromium
echo "installed: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
