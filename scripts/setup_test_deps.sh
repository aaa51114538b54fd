#!/usr/bin/env bash
# Optional system-level test dependencies. Each step is best-effort: tests that need a missing
# piece skip with a message saying why.
set -u
cd "$(dirname "$0")/.."
for step in scripts/setup_fiftyone.sh scripts/setup_chromium.sh scripts/setup_lmms_eval.sh; do
  if [ -f "$step" ]; then
    bash "$step" || echo "note: $step failed; the tests that need it will skip" >&2
  fi
done
exit 0
