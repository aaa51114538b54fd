#!/usr/bin/env bash
# GPU check of the model side at real sizes (random weights, nothing downloaded), <= 12 min on one
# H200 (BUDGET, install included): first the training side, then the inference side with the
# time left. Training: `scripts/bench_finetune.py` (LoRA on the demo training set, 300 steps or
# FT_LIMIT s per run, random:llava-ov-0.5b with --mask none and --mask blockdiag@12-23: tokens/s,
# peak GPU memory, their ratios) and `scripts/bench_masked_attention.py` on CUDA (one attention
# layer, compiled FlexAttention dense vs block-diagonal, forward and backward). Inference, per
# model: `predict --backend hf` (batch 8), `probe pool:4`, `probe mask:blockdiag@12-23+attn`,
# and `predict --backend vllm` when vLLM is importable. Writes to $OUT: results.jsonl (one row
# per step: queries/s, peak torch GPU memory, or the error), finetune.json and finetune.log,
# masked_attention.json and .log, smi_peak.jsonl (peak nvidia-smi memory per process),
# install.log, env.txt, and per-model folders with the predictions/probe outputs and tracebacks.
#
#   OUT=/tmp/out bash scripts/device_check.sh          # from the repository root
#   SKIP_INSTALL=1 PYTHON=.venv/bin/python DEVICE=cpu MODELS=tiny_folder FT_MODEL=tiny FT_STEPS=6 \
#     ATTN_ARGS="--images 2 --vision-tokens 64 --text-tokens 8 --repeats 1" bash scripts/device_check.sh
#                                                      # a CPU smoke test of the script itself
#
# Installs the repo with its probes extra (torch==2.13.0) into a venv that sees the system's
# packages; without network (or if pip fails) it goes on with what is importable and says so.
set -u
OUT=${OUT:-$PWD/device_out}
mkdir -p "$OUT"
START=$(date +%s)
BUDGET=${BUDGET:-690}  # seconds for everything; steps that would start later are skipped
PER_MODEL=${PER_MODEL:-80}
MODELS=${MODELS:-"random:qwen2-vl-2b random:llava-ov-0.5b random:qwen2.5-vl-7b random:internvl3-2b random:qwen2.5-vl-3b"}
left() { echo $((BUDGET - ($(date +%s) - START))); }

PY=${PYTHON:-python3}
VENV=${VENV:-$PWD/.device_venv}
PIP="-m pip install -q --disable-pip-version-check --retries 1 --timeout 15"  # fail fast offline
if [ "${SKIP_INSTALL:-0}" = 1 ]; then echo "SKIP_INSTALL=1: using $PY as it is" >"$OUT/install.log"; VENV=/nonexistent; else
{
  echo "== venv (sees the system's packages, so a preinstalled CUDA torch is used)"
  if [ ! -x "$VENV/bin/python" ]; then "$PY" -m venv --system-site-packages "$VENV" || rm -rf "$VENV"; fi
  PYV="$VENV/bin/python"
  if [ ! -x "$PYV" ]; then PYV=$PY; PIP="$PIP --user"; echo "no venv: installing with --user"; fi
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
  # A torch install cut off by the timeout must not shadow the system's working one.
  if [ -x "$VENV/bin/python" ] && ! "$VENV/bin/python" -c "import torch" 2>/dev/null; then
    echo "the venv's torch does not import: removing it"; "$VENV/bin/python" -m pip uninstall -y -q torch
  fi
} >"$OUT/install.log" 2>&1
fi
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

HAVE_VLLM=0
"$PYV" -c "import vllm" 2>/dev/null && HAVE_VLLM=1

BENCH=$OUT/bench
"$PYV" -m mimicgen build --out "$BENCH" --overwrite >"$OUT/build.log" 2>&1 || { echo "benchmark build failed"; tail -5 "$OUT/build.log"; exit 1; }

# timed NAME LIMIT CMD...: one process under a timeout, with nvidia-smi sampling its peak memory.
timed() {
  local name=$1 limit=$2 t0 rc peak
  shift 2
  [ "$(left)" -lt "$limit" ] && limit=$(left)
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$OUT/smi.tmp" 2>/dev/null &
  local smi=$!
  t0=$(date +%s)
  timeout -k 5 "$limit" "$@"
  rc=$?
  kill "$smi" 2>/dev/null; wait "$smi" 2>/dev/null
  peak=$(sort -n "$OUT/smi.tmp" 2>/dev/null | tail -1)
  echo "{\"model\": \"$name\", \"rc\": $rc, \"seconds\": $(($(date +%s) - t0)), \"smi_peak_mib\": ${peak:-null}}" >>"$OUT/smi_peak.jsonl"
  echo "$name rc=$rc peak=${peak:-?} MiB, $(left) s left"
}

# run MODEL STEPS LIMIT: the inference steps of one model in one process.
run() {
  timed "$1 [$2]" "$3" "$PYV" scripts/device_check.py "$1" "$BENCH" "$OUT" --steps "$2" \
    --device "${DEVICE:-cuda:0}" >>"$OUT/run.log" 2>&1
}

# Training: two LoRA runs of FT_LIMIT s at most (each keeps the steps it logged), then the layer.
FT_LIMIT=${FT_LIMIT:-120}
FT_WORK=${FT_WORK:-/tmp/mimicgen-device-finetune}  # checkpoints and images stay out of $OUT
timed "finetune ${FT_MODEL:-random:llava-ov-0.5b}" $((2 * FT_LIMIT + 90)) \
  "$PYV" scripts/bench_finetune.py --model "${FT_MODEL:-random:llava-ov-0.5b}" \
  --device "${DEVICE:-cuda:0}" --steps "${FT_STEPS:-300}" --batch-size 2 --time-limit "$FT_LIMIT" \
  --work "$FT_WORK" --json "$OUT/finetune.json" >"$OUT/finetune.log" 2>&1
for run_dir in "$FT_WORK"/run-*; do
  [ -f "$run_dir/log.jsonl" ] && cp "$run_dir/log.jsonl" "$OUT/finetune_$(basename "$run_dir").jsonl"
done
tail -4 "$OUT/finetune.log"
# shellcheck disable=SC2086  # ATTN_ARGS is a list of options
timed "bench_masked_attention" "${ATTN_LIMIT:-90}" "$PYV" scripts/bench_masked_attention.py \
  --device "${DEVICE:-cuda:0}" --dtype "${ATTN_DTYPE:-bfloat16}" --hidden 896 ${ATTN_ARGS:-} \
  --json "$OUT/masked_attention.json" >"$OUT/masked_attention.log" 2>&1
tail -12 "$OUT/masked_attention.log"

# vLLM (its own engine processes, CUDA graphs off) gets the time it needs first if present.
VLLM_RESERVE=0
[ "$HAVE_VLLM" = 1 ] && VLLM_RESERVE=${VLLM_LIMIT:-150}
for MODEL in $MODELS; do
  if [ "$(left)" -lt $((45 + VLLM_RESERVE)) ]; then
    echo "{\"model\": \"$MODEL\", \"skipped\": \"time budget\"}" >>"$OUT/results.jsonl"
    continue
  fi
  run "$MODEL" hf,pool,mask "$PER_MODEL"
done
if [ "$HAVE_VLLM" = 1 ]; then
  for MODEL in ${VLLM_MODELS:-random:qwen2-vl-2b random:qwen2.5-vl-7b}; do
    if [ "$(left)" -lt 90 ]; then
      echo "{\"model\": \"$MODEL\", \"step\": \"vllm\", \"skipped\": \"time budget\"}" >>"$OUT/results.jsonl"
      continue
    fi
    run "$MODEL" vllm "${VLLM_LIMIT:-150}"
  done
else
  echo '{"step": "vllm", "skipped": "vllm is not importable"}' >>"$OUT/results.jsonl"
fi
rm -f "$OUT/smi.tmp"
rm -rf "$BENCH/images"  # keep what comes back small
echo "== results"
cat "$OUT/results.jsonl" "$OUT/smi_peak.jsonl" "$OUT/finetune.json" 2>/dev/null
