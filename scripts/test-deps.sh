#!/usr/bin/env bash
# What only the tests need beyond `scripts/bootstrap.sh`: Debian's Chromium and its driver,
# for the viewer's headless-browser test. Safe to repeat; the test skips, saying why, where
# they cannot be installed.
set -euo pipefail
if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && [ -f /etc/debian_version ]; then
    printf '\033[1m[setup]\033[0m %s\n' "installing chromium and chromium-driver (apt), for the browser test" >&2
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null || \
        echo "warning: chromium could not be installed; the browser test will be skipped" >&2
fi
