"""Benchmark `mimicgen predict` and the `attn` probe's memory, as ratios, in one run.

1. ``--backend hf`` on the CPU with a tiny random Qwen2-VL checkpoint: queries/s at batch 8 vs
   batch 1 (and whether the replies are the same).
   ``mimicgen probe`` on the same checkpoint: queries/s at ``--batch-size`` 8 vs 1 (``none`` and
   a ``pool:2+mask:blockdiag@all`` configuration; and whether the predictions are the same).
2. ``--backend openai`` against ``scripts/serve_openai_hf.py`` (an OpenAI-compatible batching
   server on the same checkpoint, on 127.0.0.1): queries/s at concurrency 8 vs 1.
   ``transformers serve`` cannot be used here: it needs FastAPI/uvicorn (the ``serving`` extra)
   and builds an ``AutoProcessor``, whose Qwen2-VL video processor needs torchvision.
3. ``attn``: peak live tensor memory of one recorded decoder layer at Qwen2.5-VL-7B's shape
   (28 heads of 128, 10 images of 34 x 34 tokens, L = 12,000), chunked vs all rows at once,
   against the dense fp32 weights estimate (heads x L x L x 4 bytes), measured on the ``meta``
   device (real shapes, no memory).

    PYTHONPATH=. .venv/bin/python scripts/bench_predict.py [--queries 48] [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _build_benchmark(folder: Path) -> Path:
    """The built-in synthetic evaluation set (150 queries of 2-8 images)."""
    subprocess.run(
        [sys.executable, "-m", "mimicgen", "build", "--out", str(folder)],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    return folder


def _rows(path: Path) -> dict[str, str]:
    return {
        r["id"]: r["prediction"]
        for r in (json.loads(x) for x in path.read_text(encoding="utf-8").splitlines())
    }


def bench_hf(bench: Path, model: Path, out: Path, queries: int) -> dict[str, float]:
    from mimicgen.predict.common import GenerationSettings
    from mimicgen.predict.hf import HFBackend
    from mimicgen.predict.runner import run_predict

    settings = GenerationSettings(
        max_new_tokens=dict.fromkeys(("counting", "listing", "common", "odd_one"), 8)
    )
    rates, replies = {}, {}
    for batch in (1, 8):
        backend = HFBackend(str(model), dtype="float32", batch_size=batch)
        folder = out / f"hf-b{batch}"
        rates[batch] = run_predict(backend, bench, folder, settings, limit=queries).rate
        replies[batch] = _rows(folder / "predictions.jsonl")
    return {"b1": rates[1], "b8": rates[8], "same": float(replies[1] == replies[8])}


def bench_probe(bench: Path, model: Path, out: Path, queries: int) -> dict[str, float]:
    import time

    from mimicgen.probes.adapters import load_adapter
    from mimicgen.probes.runner import RunOptions, run_probes
    from mimicgen.probes.spec import parse_config

    adapter = load_adapter(str(model), dtype="float32")
    configs = [parse_config(p) for p in ("none", "pool:2+mask:blockdiag@all")]
    budgets = dict.fromkeys(("counting", "listing", "common", "odd_one"), 8)
    rates, replies = {}, {}
    for batch in (1, 8):
        folder = out / f"probe-b{batch}"
        options = RunOptions(max_new_tokens=budgets, limit=queries, batch_size=batch)
        start = time.perf_counter()
        run_probes(adapter, bench, configs, folder, options, "tiny")
        rates[batch] = len(configs) * queries / (time.perf_counter() - start)
        replies[batch] = [_rows(folder / c.name / "predictions.jsonl") for c in configs]
    return {"b1": rates[1], "b8": rates[8], "same": float(replies[1] == replies[8])}


def bench_openai(bench: Path, model: Path, out: Path, queries: int) -> dict[str, float]:
    from mimicgen.predict.common import GenerationSettings
    from mimicgen.predict.openai_api import OpenAIBackend
    from mimicgen.predict.runner import run_predict

    proc = subprocess.Popen(
        [
            sys.executable,
            str(REPO / "scripts/serve_openai_hf.py"),
            "--model",
            str(model),
            "--name",
            "tiny",
            "--port",
            "0",
            "--max-batch",
            "8",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("listening on "):
            raise RuntimeError(f"the server did not start: {line!r}")
        url = line.split()[-1]
        settings = GenerationSettings(
            max_new_tokens=dict.fromkeys(("counting", "listing", "common", "odd_one"), 8)
        )
        rates, replies = {}, {}
        for conc in (1, 8):
            backend = OpenAIBackend(url, "tiny", concurrency=conc, timeout=300, retries=0)
            folder = out / f"openai-c{conc}"
            rates[conc] = run_predict(backend, bench, folder, settings, limit=queries).rate
            replies[conc] = _rows(folder / "predictions.jsonl")
    finally:
        proc.kill()
        proc.wait()
    return {"c1": rates[1], "c8": rates[8], "same": float(replies[1] == replies[8])}


def bench_attn() -> dict[str, float]:
    from mimicgen.probes.attention import CHUNK_BYTES
    from mimicgen.probes.memory import recorded_attention_peak

    L, H, D = 12000, 28, 128
    return {
        "dense": H * L * L * 4,
        "chunked": recorded_attention_peak(L, H, D, 10, 34 * 34),
        "all_rows": recorded_attention_peak(L, H, D, 10, 34 * 34, chunk_bytes=2**50),
        "budget": CHUNK_BYTES,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--queries", type=int, default=48, help="queries per predict run")
    ap.add_argument("--keep", type=Path, help="keep the work folder here")
    args = ap.parse_args()
    import torch

    from mimicgen.probes.tiny import build_tiny_model

    torch.manual_seed(0)
    work = Path(tempfile.mkdtemp(prefix="bench_predict_"))
    try:
        bench = _build_benchmark(work / "bench")
        model = build_tiny_model("qwen2_vl", work / "tiny", with_chat_template=True)
        hf = bench_hf(bench, model, work, args.queries)
        probe = bench_probe(bench, model, work, args.queries)
        api = bench_openai(bench, model, work, args.queries)
        attn = bench_attn()
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work)
    mib = 2**20
    print(f"{args.queries} queries of the synthetic eval set; tiny Qwen2-VL, CPU, fp32")
    print(f"torch threads: {torch.get_num_threads()}, CPUs: {os.cpu_count()}")
    print()
    print("| measure | baseline | compared | ratio |")
    print("|---|---|---|---|")
    print(
        f"| hf queries/s, batch 8 vs 1 | {hf['b1']:.2f} | {hf['b8']:.2f} | "
        f"{hf['b8'] / hf['b1']:.2f}x (same replies: {bool(hf['same'])}) |"
    )
    print(
        f"| probe queries/s, batch 8 vs 1 (none, pool:2+mask:blockdiag@all) | "
        f"{probe['b1']:.2f} | {probe['b8']:.2f} | {probe['b8'] / probe['b1']:.2f}x "
        f"(same predictions: {bool(probe['same'])}) |"
    )
    print(
        f"| openai queries/s, concurrency 8 vs 1 (serve_openai_hf.py, --max-batch 8) | "
        f"{api['c1']:.2f} | {api['c8']:.2f} | {api['c8'] / api['c1']:.2f}x "
        f"(same replies: {bool(api['same'])}) |"
    )
    print(
        f"| attn peak, one layer at L=12000, 28 heads: chunked vs dense fp32 weights "
        f"| {attn['dense'] / mib:,.0f} MiB | {attn['chunked'] / mib:,.0f} MiB | "
        f"{attn['chunked'] / attn['dense']:.3f}x (chunk budget {attn['budget'] / mib:.0f} MiB) |"
    )
    print(
        f"| attn peak, all rows in one chunk vs dense fp32 weights "
        f"| {attn['dense'] / mib:,.0f} MiB | {attn['all_rows'] / mib:,.0f} MiB | "
        f"{attn['all_rows'] / attn['dense']:.2f}x |"
    )


if __name__ == "__main__":
    main()
