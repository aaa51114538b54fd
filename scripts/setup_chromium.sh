#!/usr/bin/env bash
# Install Debian's headless-capable Chromium for the HTML report end-to-end test.
# Idempotent and best-effort: always exits 0; the test skips with a message when chromium is absent.
set -u
if command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ]; then
  echo "chromium: already installed ($(command -v chromium || echo /usr/bin/chromium))"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "chromium: not installed and not running as root; the HTML screenshot test will skip" >&2
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "chromium: no apt-get on this system; the HTML screenshot test will skip" >&2
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
  echo "chromium: installed ($(command -v chromium))"
else
  echo "chromium: apt-get install failed; the HTML screenshot test will skip" >&2
fi
exit 0
