#!/bin/sh
# Debian's chromium and its matching chromium-driver for the report's browser tests
# (tests/test_html_report.py), installed with apt-get when they are missing and apt-get is
# there and we are root. Quiet when done; never fails setup: elsewhere those tests say why
# they are skipped.
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1 || [ "$(id -u)" != 0 ]; then
    echo "setup_browser: no chromium and no apt-get as root here; the browser tests will be skipped"
    exit 0
fi
echo "setup_browser: installing Debian's chromium and chromium-driver (apt-get)"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        chromium chromium-driver; } >/tmp/setup_browser.log 2>&1; then
    echo "setup_browser: apt-get failed (see /tmp/setup_browser.log); the browser tests will be skipped"
fi
exit 0
