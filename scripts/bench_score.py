"""Benchmark `mimicgen score`: N synthetic queries and replies (default 1M), timed by phase.

Target (SPEC §8): 1M predictions scored in < 30 s. The synthetic benchmark mixes the four tasks
(50% counting with 10% k = 2, 20% listing, 15% common, 15% odd-one) over the 80 COCO class
names, and replies are drawn from realistic templates (bare numbers, cues, markdown, several
numbers, plurals, synonyms, several classes, lists with "and", empty replies).

    .venv/bin/python scripts/bench_score.py [--n 1000000] [--seed 0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import msgspec
import numpy as np

from mimicgen.scoring import (
    SampleRows,
    load_benchmark,
    load_predictions,
    score_predictions,
    write_report,
)
from mimicgen.scoring.baselines import record_baselines
from mimicgen.scoring.score import assemble_report

CLASSES = [
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "mouse",
    "remote",
    "keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
]
WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _plural(name: str) -> str:
    return name + ("es" if name.endswith(("s", "sh", "ch")) else "s")


def make_benchmark(root: Path, n: int, rng: np.random.Generator) -> list[tuple[str, str]]:
    """Write benchmark.jsonl + manifest.json; returns (id, reply) pairs."""
    root.mkdir(parents=True, exist_ok=True)
    enc = msgspec.json.Encoder()
    tasks = rng.choice(4, size=n, p=[0.5, 0.2, 0.15, 0.15])
    cls = rng.integers(0, len(CLASSES), size=(n, 3))
    counts = rng.integers(0, 11, size=(n, 2))
    style = rng.integers(0, 8, size=n)
    buf = bytearray()
    replies: list[tuple[str, str]] = []
    for i in range(n):
        rid = f"q{i:07d}"
        a, b = (
            CLASSES[cls[i, 0]],
            CLASSES[cls[i, 1]] if cls[i, 1] != cls[i, 0] else CLASSES[cls[i, 2]],
        )
        if a == b:
            b = CLASSES[(cls[i, 0] + 1) % len(CLASSES)]
        c0, c1 = int(counts[i, 0]), int(counts[i, 1])
        s = int(style[i])
        task = ("counting", "listing", "common", "odd_one")[tasks[i]]
        if task == "counting" and i % 10 == 0:
            answer = {"counts": {a: c0, b: c1}}
            text = f"{a}: {c0}, {b}: {c1}"
            reply = [
                f"{c0} {_plural(a)} and {c1} {_plural(b)}",
                text,
                f"{c0}, {c1}",
                f"There are {WORDS[c0]} {_plural(a)} and {c1} {_plural(b)}.",
            ][s % 4]
        elif task == "counting":
            answer, text = {"counts": {a: c0}}, str(c0)
            guess = c0 if s < 6 else c1
            reply = [
                str(guess),
                f"There are {guess} {_plural(a)}.",
                f"answer: {guess}",
                f"**{guess}**",
                f"I see {c1} in image 1 and {guess} in total.",
                WORDS[guess] if guess else f"no {_plural(a)}",
                f"{c0} or {c1}",
                "",
            ][s]
        elif task == "listing":
            members = sorted({a, b})
            answer, text = {"classes": members}, ", ".join(members)
            reply = [
                text,
                f"{_plural(a)} and {_plural(b)}",
                f"{a}; {b}; {CLASSES[cls[i, 2]]}",
                f"- {a}\n- {b}",
                a,
                f"The sub-categories are: {text}",
                f"{a}/{b}",
                "",
            ][s]
        else:
            answer, text = {"class": a}, a
            reply = [
                a,
                f"The {_plural(a)}.",
                f"{a} and {b}",
                f"**{a.title()}**",
                b,
                f"The common class is {a}.",
                f"I think it's a {a}",
                "",
            ][s]
        images = [
            {
                "path": f"images/{rid}_0.jpg",
                "source_id": i,
                "position": 0,
                "role": "query",
                "class_counts": {a: c0},
            },
            {
                "path": f"images/{rid}_1.jpg",
                "source_id": i + 1,
                "position": 1,
                "role": "query" if s % 2 else "distractor",
                "class_counts": {b: c1},
            },
        ]
        record = {
            "id": rid,
            "task": task,
            "question": "q",
            "answer": answer,
            "answer_text": text,
            "images": images,
            "controls": {"n_images": 2, "spread": 1 + s % 2, "distractors": 1 - s % 2},
            "template": {"task": "t", "connector": "c"},
        }
        enc.encode_into(record, buf, len(buf))
        buf += b"\n"
        replies.append((rid, reply))
    (root / "benchmark.jsonl").write_bytes(bytes(buf))
    (root / "manifest.json").write_bytes(
        enc.encode({"schema_version": 1, "num_queries": n, "classes": CLASSES})
    )
    return replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, help="write the synthetic files here and keep them")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_score_"))
    try:
        t = time.perf_counter()
        replies = make_benchmark(root / "bench", args.n, np.random.default_rng(args.seed))
        enc = msgspec.json.Encoder()
        (root / "preds.jsonl").write_bytes(
            b"\n".join(enc.encode({"id": i, "prediction": p}) for i, p in replies) + b"\n"
        )
        del replies
        print(
            f"generated {args.n:,} queries + replies in {time.perf_counter() - t:.1f} s "
            "(not timed below)"
        )

        phases: list[tuple[str, float, float]] = []
        t0, c0 = time.perf_counter(), time.process_time()
        t, c = t0, c0

        def lap(name: str) -> None:
            nonlocal t, c
            phases.append((name, time.perf_counter() - t, time.process_time() - c))
            t, c = time.perf_counter(), time.process_time()

        bench = load_benchmark(root / "bench")
        _ = bench.contexts
        lap("load benchmark + contexts")
        preds = load_predictions(root / "preds.jsonl", bench)
        lap("load predictions")
        samples = SampleRows()
        # As `score_files` (the CLI path): baselines once per benchmark, shared by every file.
        base = record_baselines(bench)
        entry = score_predictions(bench, preds, seed=0, samples=samples, base=base)
        lap("baselines + extract + judge + aggregate (3 pipelines)")
        write_report(assemble_report(bench, [entry], 0, base), root / "report.json", samples)
        lap("write json/md/samples")
        total, cpu = time.perf_counter() - t0, time.process_time() - c0

        # CPU seconds are shown too: on a shared machine wall time includes waiting for a core.
        print("\n| phase | wall s | cpu s |\n|---|---|---|")
        for name, secs, cpu_secs in phases:
            print(f"| {name} | {secs:.2f} | {cpu_secs:.2f} |")
        print(
            f"| **total ({args.n:,} predictions x 3 pipelines)** | **{total:.2f}** | **{cpu:.2f}** |"
        )
        print(f"\ntarget < 30 s: {'PASS' if total < 30 else 'FAIL'}")
        for p, block in entry["pipelines"].items():
            o = block["overall"]
            print(
                f"{p}: accuracy {o['accuracy']:.4f} [{o['ci_low']:.4f}, {o['ci_high']:.4f}], "
                f"parse failures {o['parse_failure_rate']:.4f}"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
