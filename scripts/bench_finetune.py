"""Benchmark `mimicgen finetune` with and without a per-image mask: tokens/s and peak memory.

Fine-tunes one model on the demo training set twice, `--mask none` and `--mask blockdiag@LAYERS`
(default: the back half of the decoder, 12-23 for a 24-layer model), and prints the median
tokens/s over the steps after warm-up and the peak memory of each run, and their ratios.
`--model` is `tiny` (the 4-layer test model, for CPU; the default) or `random:NAME`, a
random-weight model at a published size (mimicgen/probes/real_sizes.yaml; the losses mean
nothing, the throughput does). Peak memory is torch's peak GPU allocation on CUDA (from each
run's log.jsonl) and the training process's peak resident memory on CPU.

    .venv/bin/python scripts/bench_finetune.py                           # tiny, CPU, 6 steps
    .venv/bin/python scripts/bench_finetune.py --model random:llava-ov-0.5b --device cuda \
        --steps 200 [--batch-size 2] [--time-limit 150] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
WORK = Path("/tmp/mimicgen-bench/finetune")
WARMUP = 5
"""Steps left out of the median (compilation, allocator warm-up)."""


def _num_layers(model: str, work: Path) -> int:
    if model == "tiny":
        return int(
            json.loads((work / "tiny" / "config.json").read_text())["text_config"][
                "num_hidden_layers"
            ]
        )
    from mimicgen.probes.real_sizes import real_size

    return int(real_size(model)[1].config["text_config"]["num_hidden_layers"])


def _run(args: list[str], limit: float | None) -> tuple[int, float]:
    """Run ``python -m mimicgen ARGS``; ``(return code, peak RSS GiB)``. Past ``limit`` seconds
    the run is killed: the steps it logged still count."""
    proc = subprocess.Popen([sys.executable, "-m", "mimicgen", *args], cwd=ROOT)
    # Reaped with wait4, not proc.wait: it gives this child's own peak RSS
    # (getrusage(RUSAGE_CHILDREN) is the max over every child so far).
    deadline = time.monotonic() + limit if limit else None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline is not None and time.monotonic() > deadline:
            print(f"time limit ({limit:.0f} s): stopping the run, keeping its logged steps")
            proc.kill()
            deadline = None
        time.sleep(0.2)
    proc.returncode = os.waitstatus_to_exitcode(status)
    kib = usage.ru_maxrss if sys.platform != "darwin" else usage.ru_maxrss / 1024
    return proc.returncode, kib / 2**20


def _summary(log: list[dict[str, Any]], rss_gib: float) -> dict[str, Any]:
    steady = log[min(WARMUP, len(log) - 1) :]
    gpu = [r["peak_memory_gb"] for r in log if "peak_memory_gb" in r]
    return {
        "steps": len(log),
        "tokens_per_s": statistics.median(r["tokens_per_s"] for r in steady),
        "peak_memory_gib": max(gpu) if gpu else rss_gib,
        "memory": "gpu" if gpu else "rss",
        "tokens_per_step": statistics.mean(r["tokens"] for r in log),
        "final_loss": log[-1]["loss"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--model", default="tiny", help="tiny or random:NAME (real_sizes.yaml)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--batch-size", type=int, default=2)
    ap.add_argument("--mask", default=None, help="default: blockdiag over the back half")
    ap.add_argument("--dtype", default=None, help="default: bfloat16 on CUDA, else float32")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds per run")
    ap.add_argument("--work", type=Path, default=WORK)
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()
    from mimicgen.errors import InputError

    work: Path = args.work
    work.mkdir(parents=True, exist_ok=True)
    model = args.model
    if model == "tiny":
        from mimicgen.probes.tiny import build_tiny_model

        if not (work / "tiny" / "config.json").exists():
            build_tiny_model("llava_onevision", work / "tiny")
    elif not model.startswith("random:"):
        sys.exit("--model: use tiny or random:NAME")
    try:
        n_layers = _num_layers(model, work)
    except InputError as exc:
        sys.exit(str(exc))
    data = work / "train"
    if not (data / "llava.json").exists():
        subprocess.run(
            [sys.executable, "-m", "mimicgen", "build", "task_specs/demo", "--format", "llava",
             "--out", str(data), "--overwrite"],
            cwd=ROOT, check=True,
        )  # fmt: skip
    dtype = args.dtype or ("bfloat16" if args.device.startswith("cuda") else "float32")
    masked = args.mask or f"blockdiag@{n_layers // 2}-{n_layers - 1}"
    path = str(work / "tiny") if model == "tiny" else model
    rows: dict[str, dict[str, Any]] = {}
    for mask in ("none", masked):
        out = work / f"run-{mask.replace('@', '-')}"
        rc, rss = _run(
            ["finetune", str(data), "--model", path, "--out", str(out), "--overwrite",
             "--mask", mask, "--steps", str(args.steps), "--batch-size", str(args.batch_size),
             "--device", args.device, "--dtype", dtype, "--no-merge", "--log-every", "0",
             "--save-every", str(args.steps)],
            args.time_limit,
        )  # fmt: skip
        log_file = out / "log.jsonl"
        log = (
            [json.loads(x) for x in log_file.read_text().splitlines()] if log_file.exists() else []
        )
        if not log:
            sys.exit(f"--mask {mask}: the run logged no step (exit code {rc})")
        rows[mask] = {"rc": rc, **_summary(log, rss)}
    kind = rows["none"]["memory"]
    print(
        f"{model} on {args.device} ({dtype}), batch {args.batch_size}, median after {WARMUP} steps"
    )
    print(f"{'mask':<18}{'steps':>7}{'tokens/s':>11}{f'peak {kind} GiB':>16}{'tokens/step':>13}")
    for mask, r in rows.items():
        print(
            f"{mask:<18}{r['steps']:>7}{r['tokens_per_s']:>11.0f}{r['peak_memory_gib']:>16.2f}"
            f"{r['tokens_per_step']:>13.0f}"
        )
    speed = rows[masked]["tokens_per_s"] / rows["none"]["tokens_per_s"]
    memory = rows[masked]["peak_memory_gib"] / max(rows["none"]["peak_memory_gib"], 1e-9)
    print(f"{masked} / none: throughput {speed:.2f}x, peak memory {memory:.2f}x")
    if args.json:
        report = {"model": model, "device": args.device, "dtype": dtype,
                  "batch_size": args.batch_size, "runs": rows,
                  "throughput_ratio": speed, "memory_ratio": memory}  # fmt: skip
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
