#!/usr/bin/env bash
# Install lmms-eval 0.7.3 for the export tests (idempotent; called by scripts/setup_test_deps.sh).
#
# lmms-eval's own requirements pin torchvision, wandb and dozens of model libraries; its task
# loader (TaskManager, ConfigurableTask) and sample-log writer (EvaluationTracker) need only the
# few modules below, so it is installed with --no-deps. Its CLI (`python -m lmms_eval`,
# simple_evaluate) also needs filelock < 4 (its evaluator patches filelock._api, gone in 4.x;
# with filelock 4 the CLI logs "No module named 'filelock._api'" and still exits 0) and
# pytablewriter (the results table). filelock < 4 conflicts with nothing installed: torch and
# datasets require plain `filelock`, huggingface_hub `filelock>=3.10`, transformers none
# (checked with `pip install --dry-run "filelock<4" pytablewriter`: filelock 3.32.7,
# pytablewriter 1.2.1 and its five pure-Python dependencies, no conflict). The CLI test
# (tests/export/test_lmms_eval.py, lmms-eval's dummy model) skips without them.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${VENV:-.venv}/bin/python"
[ -x "$PY" ] || { echo "setup_lmms_eval: no venv (run 'make install-all' first)" >&2; exit 1; }
if "$PY" -c "import importlib.metadata as m; assert m.version('lmms-eval') == '0.7.3'; import loguru, pytz, tenacity, evaluate, sacrebleu, pytablewriter; assert int(m.version('filelock').split('.')[0]) < 4" 2>/dev/null; then
  exit 0
fi
"$PY" -m pip install -q --no-deps "lmms-eval==0.7.3"
"$PY" -m pip install -q loguru pytz tenacity evaluate sacrebleu pytablewriter "filelock<4"
