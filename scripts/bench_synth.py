"""Benchmark the synthetic renderer: wall time and images/s for rendering a dataset to disk.

Target (issue 2): 1,000 images at the default 384 px in under 30 s on the 2-core dev machine.

    .venv/bin/python scripts/bench_synth.py                 # 1000 images, automatic workers
    .venv/bin/python scripts/bench_synth.py --workers 1 --images 300
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from mimicgen.sources.synthetic import render_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--format", choices=("png", "jpeg"), default="png")
    parser.add_argument("--workers", type=int, default=None, help="default: automatic")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_synth.") as tmp:
        out = Path(tmp) / "ds"
        start, cpu0 = time.perf_counter(), os.times()
        ann = render_dataset(
            out, args.images, args.seed, image_size=args.size, fmt=args.format, workers=args.workers
        )
        elapsed, cpu1 = time.perf_counter() - start, os.times()
        doc = json.loads(ann.read_text("utf-8"))
        disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())

    # CPU of this process plus the (joined) worker processes: independent of other load.
    cpu = sum(
        getattr(cpu1, f) - getattr(cpu0, f)
        for f in ("user", "system", "children_user", "children_system")
    )
    n_boxes = len(doc["annotations"])
    small = sum(a["area"] < 0.05 * args.size**2 for a in doc["annotations"] if not a["iscrowd"])
    groups = sum(a["iscrowd"] for a in doc["annotations"])
    per_1000 = elapsed / args.images * 1000
    verdict = f"{'PASS' if per_1000 < 30 else 'FAIL'} ({per_1000:.1f} s per 1000 at this load)"
    rows = [
        ("images", f"{args.images}"),
        ("size / format", f"{args.size}px / {args.format}"),
        ("workers", f"{args.workers or 'auto'} (cpu_count={os.cpu_count()})"),
        ("wall time", f"{elapsed:.2f} s"),
        ("images/s", f"{args.images / elapsed:.1f}"),
        ("cpu time", f"{cpu:.2f} s ({cpu / args.images * 1e3:.1f} ms/image)"),
        ("load avg (1 min)", f"{os.getloadavg()[0]:.1f}"),
        ("boxes", f"{n_boxes} ({small} small <5%, {groups} group)"),
        ("disk", f"{disk / 2**20:.1f} MiB"),
        ("1000 images < 30 s", verdict),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")


if __name__ == "__main__":
    main()
