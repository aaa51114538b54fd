#!/usr/bin/env bash
# GPU check of the model side at real sizes (random weights, nothing downloaded), < 8 min on one
# H200: per model `predict --backend hf` (batch 8), `probe pool:4`, `probe
# mask:blockdiag@12-23+attn`, and `predict --backend vllm` when vLLM is importable. Writes to
# $OUT: results.jsonl (one row per step: queries/s, peak torch GPU memory, or the error),
# smi_peak.jsonl (peak nvidia-smi memory per model process), install.log, env.txt, and per-model
# folders with the predictions/probe outputs and tracebacks.
#
#   OUT=/tmp/out bash scripts/device_check.sh          # from the repository root
#
# Installs the repo with its probes extra (torch==2.13.0) into a venv that sees the system's
# packages; without network (or if pip fails) it goes on with what is importable and says so.
set -u
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT"
START=$(date +%s)
BUDGET=${BUDGET:-450}  # seconds for everything; models that would start later are skipped
PER_MODEL=${PER_MODEL:-100}
MODELS=${MODELS:-"random:qwen2-vl-2b random:llava-ov-0.5b random:qwen2.5-vl-7b random:internvl3-2b random:qwen2.5-vl-3b"}
left() { echo $((BUDGET - ($(date +%s) - START))); }

PY=${PYTHON:-python3}
VENV=${VENV:-$PWD/.device_venv}
PIP="-m pip install -q --disable-pip-version-check"
{
  echo "== venv (sees the system's packages, so a preinstalled CUDA torch is used)"
  if [ ! -x "$VENV/bin/python" ]; then "$PY" -m venv --system-site-packages "$VENV"; fi
  PYV="$VENV/bin/python"
  TORCH=$("$PYV" -c "import torch; print(torch.__version__.split('+')[0])" 2>/dev/null || echo none)
  echo "preinstalled torch: $TORCH"
  echo "== pip install -e .[probes] (torch==2.13.0)"
  if timeout 240 "$PYV" $PIP -e '.[probes]'; then
    echo "installed with the probes extra"
  else
    echo "pip install -e .[probes] failed or timed out (no network, or torch 2.13.0 not reachable)"
    echo "== fallback: the repo and transformers, with whatever torch is importable"
    timeout 90 "$PYV" $PIP -e . 'transformers>=5.0,<6' safetensors \
      || timeout 30 "$PYV" $PIP --no-deps --no-build-isolation -e . \
      || echo "no install worked; running from the checkout (PYTHONPATH)"
  fi
} >"$OUT/install.log" 2>&1
PYV="$VENV/bin/python"
[ -x "$PYV" ] || PYV=$PY
# The checkout itself is importable either way (PYTHONPATH), so a failed editable install still runs.
export PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
{
  "$PYV" -c "import sys, torch, transformers; print(sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.is_available(), 'transformers', transformers.__version__)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  if "$PYV" -c "import vllm" 2>/dev/null; then "$PYV" -c "import vllm; print('vllm', vllm.__version__)"; else echo "vllm not importable"; fi
} >"$OUT/env.txt" 2>&1
cat "$OUT/env.txt"

STEPS="hf,pool,mask"
"$PYV" -c "import vllm" 2>/dev/null && STEPS="$STEPS,vllm"

BENCH=$OUT/bench
"$PYV" -m mimicgen build --out "$BENCH" --overwrite >"$OUT/build.log" 2>&1 || { echo "benchmark build failed"; tail -5 "$OUT/build.log"; exit 1; }

for MODEL in $MODELS; do
  if [ "$(left)" -lt 45 ]; then
    echo "{\"model\": \"$MODEL\", \"skipped\": \"time budget\"}" >>"$OUT/results.jsonl"
    continue
  fi
  LIMIT=$PER_MODEL
  [ "$(left)" -lt "$LIMIT" ] && LIMIT=$(left)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$OUT/smi.tmp" 2>/dev/null &
  SMI=$!
  T0=$(date +%s)
  timeout -k 5 "$LIMIT" "$PYV" scripts/device_check.py "$MODEL" "$BENCH" "$OUT" --steps "$STEPS" \
    >>"$OUT/run.log" 2>&1
  RC=$?
  kill "$SMI" 2>/dev/null; wait "$SMI" 2>/dev/null
  PEAK=$(sort -n "$OUT/smi.tmp" 2>/dev/null | tail -1)
  echo "{\"model\": \"$MODEL\", \"rc\": $RC, \"seconds\": $(($(date +%s) - T0)), \"smi_peak_mib\": ${PEAK:-null}}" >>"$OUT/smi_peak.jsonl"
  echo "$MODEL rc=$RC peak=${PEAK:-?} MiB left=$(left)s"
done
rm -f "$OUT/smi.tmp"
rm -rf "$BENCH/images"  # keep what comes back small
echo "== results"
cat "$OUT/results.jsonl" "$OUT/smi_peak.jsonl"
