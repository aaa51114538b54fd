"""Benchmark one attention layer: dense vs block-diagonal (block-sparse), beside the FLOPs model.

At the MIMIC paper's shapes by default (Table 7: M = 10.4 images x 730 vision tokens + 17.4
text tokens, d = 896; timed with whole numbers, 10 images and 17 text tokens): forward with
compiled FlexAttention (causal vs block-diagonal block masks) and sdpa, and forward + backward
(FlexAttention on CUDA; on CPU, where PyTorch has no FlexAttention backward, the block-diagonal
attention as per-image sdpa calls against dense sdpa). The same as `mimicgen flops --measure
--backward`, for several widths in one run.

    .venv/bin/python scripts/bench_masked_attention.py [--hidden 896 1536] [--images 10.4]
        [--vision-tokens 730] [--text-tokens 17.4] [--device cpu|cuda] [--dtype float32]
        [--repeats 3] [--threads N] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from mimicgen.cli.flops_cmd import measure_and_report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--hidden", type=int, nargs="+", default=[896])
    ap.add_argument("--images", type=float, default=10.4)
    ap.add_argument("--vision-tokens", type=float, default=730.0)
    ap.add_argument("--text-tokens", type=float, default=17.4)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--no-backward", action="store_true")
    ap.add_argument("--json", default=None, help="also write the numbers to this file")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")
    out = []
    for d in args.hidden:
        t0 = time.perf_counter()
        row = measure_and_report(
            d,
            args.images,
            args.text_tokens,
            args.vision_tokens,
            None,
            None,
            args.device,
            args.dtype,
            not args.no_backward,
            args.repeats,
            print,
        )
        print(f"(d = {d}: {time.perf_counter() - t0:.0f} s with compilation)\n")
        out.append({"hidden": d, **row})
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
