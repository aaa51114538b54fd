#!/usr/bin/env bash
# Install lmms-eval 0.7.3 for the export tests (idempotent; called by scripts/setup_test_deps.sh).
#
# lmms-eval's own requirements pin torchvision, wandb and dozens of model libraries; its task
# loader (TaskManager, ConfigurableTask) and sample-log writer (EvaluationTracker) need only the
# few modules below, so it is installed with --no-deps. Its CLI (simple_evaluate) also needs
# filelock < 4 (it patches filelock._api), which this venv does not pin: the tests use the task
# loader and the log writer directly.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
[ -x "$PY" ] || { echo "setup_lmms_eval: no venv (run 'make install-all' first)" >&2; exit 1; }
if "$PY" -c "import importlib.metadata as m; assert m.version('lmms-eval') == '0.7.3'; import loguru, pytz, tenacity, evaluate, sacrebleu" 2>/dev/null; then
  exit 0
fi
"$PY" -m pip install -q --no-deps "lmms-eval==0.7.3"
"$PY" -m pip install -q loguru pytz tenacity evaluate sacrebleu
