"""One real-size random-weight model on a GPU: predict (hf), probe pool:4, probe mask+attn, vllm.

Run by ``scripts/device_check.sh`` once per model (each in its own process, under a timeout);
appends one JSON line per step to ``OUT/results.jsonl``: queries/s and peak GPU memory
(``torch.cuda.max_memory_allocated``, reset before each step), or the step's error.

    python scripts/device_check.py random:qwen2-vl-2b BENCH OUT [--steps hf,pool,mask,vllm]
"""

from __future__ import annotations

import argparse
import json
import time
import traceback
from pathlib import Path
from typing import Any


def _write(out: Path, row: dict[str, Any]) -> None:
    with (out / "results.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    print(json.dumps(row), flush=True)


def _tokens(folder: Path) -> dict[str, Any]:
    rows = [json.loads(x) for x in (folder / "predictions.jsonl").read_text().splitlines()]
    vision = [r.get("n_vision_tokens", 0) for r in rows]
    prompt = [r.get("n_prompt_tokens", 0) for r in rows]
    return {"rows": len(rows), "max_vision_tokens": max(vision), "max_prompt_tokens": max(prompt)}


DEVICE = "cuda:0"


def step_hf(model: str, bench: Path, out: Path, queries: int, batch: int) -> dict[str, Any]:
    from mimicgen.predict.common import GenerationSettings
    from mimicgen.predict.hf import HFBackend
    from mimicgen.predict.runner import run_predict

    backend = HFBackend(model, dtype="bfloat16", device=DEVICE, batch_size=batch)
    settings = GenerationSettings(max_new_tokens=dict.fromkeys(_TASKS, 8))
    folder = out / "hf"
    summary = run_predict(backend, bench, folder, settings, limit=queries)
    return {"queries_per_s": summary.rate, "batch_size": batch, **_tokens(folder)}


def step_probe(model: str, bench: Path, out: Path, probe: str, limit: int) -> dict[str, Any]:
    from mimicgen.predict.common import DEFAULT_MAX_NEW_TOKENS
    from mimicgen.probes.adapters import load_adapter
    from mimicgen.probes.runner import RunOptions, run_probes
    from mimicgen.probes.spec import parse_config

    adapter = load_adapter(model, dtype="bfloat16", device=DEVICE)
    config = parse_config(probe)
    start = time.perf_counter()
    budgets = {**DEFAULT_MAX_NEW_TOKENS, **dict.fromkeys(_TASKS, 8)}
    run_probes(adapter, bench, [config], out / "probe", RunOptions(budgets, limit), model)
    seconds = time.perf_counter() - start
    summary = json.loads((out / "probe" / config.name / "tokens.json").read_text())
    return {
        "queries_per_s": limit / seconds,
        "probe": probe,
        "max_prompt_tokens": summary["prompt_tokens"]["max"],
        "mean_vision_tokens": summary["vision_tokens"]["mean"],
    }


def step_vllm(model: str, bench: Path, out: Path, queries: int) -> dict[str, Any]:
    from mimicgen.predict.common import GenerationSettings, load_queries
    from mimicgen.predict.runner import run_predict
    from mimicgen.predict.vllm_engine import VLLMBackend

    qs = load_queries(bench, "images-first", queries)
    backend = VLLMBackend(
        model, qs, dtype="bfloat16", gpu_memory_utilization=0.6, enforce_eager=True
    )
    settings = GenerationSettings(max_new_tokens=dict.fromkeys(_TASKS, 8))
    summary = run_predict(backend, bench, out / "vllm", settings, limit=queries)
    return {"queries_per_s": summary.rate, **_tokens(out / "vllm")}


_TASKS = ("counting", "listing", "common", "odd_one")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("bench", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--steps", default="hf,pool,mask")
    ap.add_argument("--queries", type=int, default=32)
    ap.add_argument("--probe-limit", type=int, default=6)
    ap.add_argument("--device", default="cuda:0", help="cpu: a smoke test of this script")
    args = ap.parse_args()
    import torch

    global DEVICE
    DEVICE = args.device
    cuda = torch.cuda.is_available() and DEVICE.startswith("cuda")

    out = args.out / args.model.removeprefix("random:").rstrip("/").split("/")[-1]
    out.mkdir(parents=True, exist_ok=True)
    steps = {
        "hf": lambda: step_hf(args.model, args.bench, out, args.queries, 8),
        "pool": lambda: step_probe(args.model, args.bench, out, "pool:4", args.probe_limit),
        "mask": lambda: step_probe(
            args.model, args.bench, out, "mask:blockdiag@12-23+attn", args.probe_limit
        ),
        "vllm": lambda: step_vllm(args.model, args.bench, out, args.queries),
    }
    for name in args.steps.split(","):
        if cuda:
            torch.cuda.empty_cache()
            torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        row: dict[str, Any] = {"model": args.model, "step": name}
        try:
            row |= steps[name]()
            row["ok"] = True
        except Exception as exc:  # noqa: BLE001  # record and go on to the next step
            row |= {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:500]}
            (out / f"{name}.traceback.txt").write_text(traceback.format_exc())
        row["seconds"] = round(time.perf_counter() - start, 2)
        if cuda:
            row["peak_gpu_gib"] = round(torch.cuda.max_memory_allocated() / 2**30, 3)
        _write(args.out, row)
        import gc

        gc.collect()


if __name__ == "__main__":
    main()
