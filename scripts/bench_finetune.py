"""Benchmark `mimicgen finetune` with and without the block-diagonal mask: tokens/s and memory.

Fine-tunes `random:llava-ov-0.5b` (random weights at LLaVA-OneVision-0.5B's published shapes,
mimicgen.probes.real_sizes) on the demo training set twice, `--mask none` and
`--mask blockdiag@12-23`, and prints the median tokens/s over the steps after warm-up and the
peak GPU memory, from each run's log.jsonl. Random weights: the losses mean nothing, the
throughput does.

    .venv/bin/python scripts/bench_finetune.py --device cuda [--steps 200] [--batch-size 2]
    .venv/bin/python scripts/bench_finetune.py --tiny --steps 6     # the 4-layer test model, CPU
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/mimicgen-bench/finetune")


def _mimicgen(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "mimicgen", *args], cwd=ROOT, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--tiny", action="store_true", help="the 4-layer test model (mask 2-3)")
    ap.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, else float32")
    args = ap.parse_args()
    from mimicgen.probes.tiny import build_tiny_model

    WORK.mkdir(parents=True, exist_ok=True)
    model = "random:llava-ov-0.5b"
    if args.tiny:
        model = str(WORK / "tiny")
        if not (WORK / "tiny" / "config.json").exists():
            build_tiny_model("llava_onevision", model)
    data = WORK / "train"
    if not (data / "llava.json").exists():
        _mimicgen("build", "task_specs/demo", "--format", "llava", "--out", str(data))
    dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    masks = {"none": "none", "blockdiag": "blockdiag@2-3" if args.tiny else "blockdiag@12-23"}
    rows = {}
    for name, mask in masks.items():
        out = WORK / f"run-{name}"
        _mimicgen(
            "finetune", str(data), "--model", model, "--out", str(out), "--overwrite",
            "--mask", mask, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
            "--device", args.device, "--dtype", dtype, "--no-merge", "--log-every", "0",
            "--save-every", str(args.steps),
        )  # fmt: skip
        log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
        steady = log[min(5, len(log) - 1) :]  # after compilation and warm-up
        rows[name] = {
            "tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady),
            "peak_memory_gb": max((r.get("peak_memory_gb", 0.0) for r in log), default=0.0),
            "tokens_per_step": statistics.mean(r["tokens"] for r in log),
        }
    print(f"{'mask':<12}{'tokens/s':>12}{'peak GiB':>10}{'tokens/step':>13}")
    for name, r in rows.items():
        print(
            f"{masks[name]:<12}{r['tokens_per_s']:>12.0f}{r['peak_memory_gb']:>10.2f}"
            f"{r['tokens_per_step']:>13.0f}"
        )
    ratio = rows["blockdiag"]["tokens_per_s"] / rows["none"]["tokens_per_s"]
    print(f"block-diagonal / dense throughput: {ratio:.2f}x ({args.device}, {dtype})")


if __name__ == "__main__":
    main()
