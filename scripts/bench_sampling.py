"""Benchmark: sample the whole Table 1 suite (task_specs/coco_eval) from a COCO-train-scale index.

Generates a COCO-like index in memory (118K images, ~860K boxes, 80 classes with a skewed
frequency: "person" in about half the images, box sizes log-uniform so about a third are
recognisable, ~1% group boxes), then times ``mimicgen.tasks.sample`` per spec (the index build
and the per-spec precomputation are timed separately). Prints a table.

    .venv/bin/python scripts/bench_sampling.py [--images 118000] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import polars as pl

os.environ.setdefault("MIMICGEN_PROGRESS", "0")

from mimicgen.index.table import build_index
from mimicgen.sources.base import (
    BOX_SCHEMA,
    CLASS_SCHEMA,
    IMAGE_SCHEMA,
    Hierarchy,
    SourceData,
)
from mimicgen.specs import load_suite, shipped_specs_dir
from mimicgen.tasks import make_sampler, sample


def coco_like(n_images: int, seed: int) -> SourceData:
    """A COCO-train-shaped source built with numpy (no Python loop over boxes)."""
    rng = np.random.default_rng(seed)
    n_classes = 80
    weights = 1.0 / np.arange(1, n_classes) ** 0.9
    p = np.concatenate(([0.54], 2.4 * weights / weights.sum()))
    p = np.minimum(p, 0.6)
    has = rng.random((n_images, n_classes)) < p
    img, cls = np.nonzero(has)
    inst = rng.geometric(0.4, size=img.size)
    inst[cls == 0] += rng.geometric(0.5, size=int((cls == 0).sum()))
    b_img = np.repeat(img, inst).astype(np.uint32)
    b_cls = np.repeat(cls, inst).astype(np.uint32)
    area = np.exp(rng.uniform(np.log(5e-4), np.log(0.6), size=b_img.size)).astype(np.float32)
    side = np.sqrt(area)
    boxes = pl.DataFrame(
        {
            "image_idx": b_img,
            "class_idx": b_cls,
            "x0": np.zeros(b_img.size, np.float32),
            "y0": np.zeros(b_img.size, np.float32),
            "x1": side,
            "y1": side,
            "area_frac": area,
            "is_group": rng.random(b_img.size) < 0.01,
            "is_occluded": np.zeros(b_img.size, bool),
            "is_truncated": np.zeros(b_img.size, bool),
            "is_depiction": np.zeros(b_img.size, bool),
        },
        schema=BOX_SCHEMA,
    )
    images = pl.DataFrame(
        {
            "image_idx": np.arange(n_images, dtype=np.uint32),
            "source_id": np.arange(1, n_images + 1),
            "file_name": [f"{i:012d}.jpg" for i in range(1, n_images + 1)],
            "width": np.full(n_images, 640),
            "height": np.full(n_images, 480),
        },
        schema=IMAGE_SCHEMA,
    )
    names = ["person"] + [f"class{c:02d}" for c in range(1, n_classes)]
    parents = ["person"] + [f"super{c % 11}" for c in range(1, n_classes)]
    classes = pl.DataFrame(
        {
            "class_idx": np.arange(n_classes, dtype=np.uint32),
            "source_class_id": np.arange(1, n_classes + 1),
            "name": names,
            "parent": parents,
        },
        schema=CLASS_SCHEMA,
    )
    children: dict[str, list[str]] = {}
    for n, par in zip(names, parents, strict=True):
        children.setdefault(par, []).append(n)
    return SourceData(
        kind="coco",
        images=images,
        classes=classes,
        boxes=boxes,
        hierarchy=Hierarchy({k: tuple(v) for k, v in children.items()}),
        files=(),
        image_root=None,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=118_000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    t0 = time.perf_counter()
    source = coco_like(args.images, args.seed)
    index = build_index(source)
    t_index = time.perf_counter() - t0
    print(
        f"index: {source.images.height} images, {source.boxes.height} boxes, "
        f"{index.table.height} (image, class) rows, built in {t_index:.2f} s"
    )
    specs = load_suite([shipped_specs_dir() / "coco_eval"])
    print(
        f"{'spec':<22}{'queries':>8}{'prepare s':>11}{'sample s':>10}{'cpu s':>8}{'ms/query':>10}"
    )
    total_q, total_t, total_cpu = 0, 0.0, 0.0
    for spec in specs:
        t0 = time.perf_counter()
        make_sampler(spec, index)
        t_prep = time.perf_counter() - t0
        t0, c0 = time.perf_counter(), time.process_time()
        queries = sample(spec, index)
        t, cpu = time.perf_counter() - t0, time.process_time() - c0
        total_q += len(queries)
        total_t += t
        total_cpu += cpu
        print(
            f"{spec.name:<22}{len(queries):>8}{t_prep:>11.2f}{t:>10.2f}{cpu:>8.2f}"
            f"{1000 * t / len(queries):>10.3f}"
        )
    print(f"{'total (Table 1 suite)':<22}{total_q:>8}{'':>11}{total_t:>10.2f}{total_cpu:>8.2f}")
    print(f"(load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")


if __name__ == "__main__":
    main()
