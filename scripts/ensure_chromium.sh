#!/usr/bin/env bash
# ensure_chromium.sh: make sure a headless-capable `chromium` is on PATH (Debian/Ubuntu).
# Installs Debian's `chromium` package with apt-get when it is missing; prints its path.
# Used by .ci/run before the test suite (tests/test_report_html.py needs the browser).
# Exits non-zero with one line on stderr if it cannot be installed.
set -euo pipefail
for name in chromium chromium-browser; do
    if path=$(command -v "$name" 2>/dev/null); then
        printf '%s\n' "$path"
        exit 0
    fi
done
command -v apt-get >/dev/null \
    || { echo "ensure_chromium: chromium missing and apt-get not available" >&2; exit 1; }
SUDO=
[[ $(id -u) == 0 ]] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >&2
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2 \
    || { echo "ensure_chromium: apt-get install chromium failed" >&2; exit 1; }
command -v chromium \
    || { echo "ensure_chromium: chromium installed but not on PATH" >&2; exit 1; }
