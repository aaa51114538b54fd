"""Hand-written benchmark directories (benchmark.jsonl + manifest.json + tiny PNGs).

Imported by tests/scoring/conftest.py (fixtures) and by the export tests; the record and
manifest layout shared with other hand-written benchmarks is in ``tests/benchfiles.py``.

Scoring tests must not depend on `mimicgen build`, so records are written here by hand in the
SPEC §4 format.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchfiles import bench_record, manifest_header, write_bench_files, write_predictions
from PIL import Image

__all__ = ["TINY_CLASSES", "TINY_RECORDS", "make_record", "write_benchmark", "write_predictions"]


def make_record(
    rid: str,
    task: str,
    answer: dict[str, Any],
    answer_text: str,
    images: list[dict[str, Any]],
    controls: dict[str, Any],
) -> dict[str, Any]:
    """One SPEC §4 record; images get paths images/<id>_<position>.png."""
    full = [
        {
            "path": f"images/{rid}_{im['position']}.png",
            "source_id": 1000 + im["position"],
            "position": im["position"],
            "role": im["role"],
            "class_counts": im["class_counts"],
        }
        for im in images
    ]
    return bench_record(rid, task, answer, answer_text, full, controls)


def write_benchmark(root: Path, records: list[dict[str, Any]], **manifest_extra: Any) -> Path:
    """Write benchmark.jsonl, manifest.json and one 4x4 PNG per image path; returns root."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(exist_ok=True)
    for i, rec in enumerate(records):
        for j, im in enumerate(rec["images"]):
            Image.new("RGB", (4, 4), ((37 * i) % 256, (91 * j) % 256, 7)).save(root / im["path"])
    manifest = manifest_header(records, spec={}, spec_hash="x", sources=[], stats={})
    manifest.update(manifest_extra)
    write_bench_files(root, records, manifest)
    return root


def _im(position: int, role: str, **counts: int) -> dict[str, Any]:
    return {"position": position, "role": role, "class_counts": counts}


TINY_RECORDS = [
    make_record(
        "c1",
        "counting",
        {"counts": {"dog": 3}},
        "3",
        [_im(0, "query", dog=2), _im(1, "distractor"), _im(2, "query", dog=1)],
        {"n_images": 3, "spread": 2, "distractors": 1, "k": 1},
    ),
    make_record(
        "c2",
        "counting",
        {"counts": {"dog": 2, "cat": 1}},
        "dog: 2, cat: 1",
        [_im(0, "query", dog=2, cat=1), _im(1, "distractor")],
        {"n_images": 2, "spread": 1, "distractors": 1, "k": 2},
    ),
    make_record(
        "c3",
        "counting",
        {"counts": {"cat": 4}},
        "4",
        [_im(0, "distractor"), _im(1, "query", cat=4)],
        {"n_images": 2, "spread": 1, "distractors": 1, "k": 1},
    ),
    make_record(
        "c4",
        "counting",
        {"counts": {"dog": 3}},
        "3",
        [_im(0, "query", dog=3)],
        {"n_images": 1, "spread": 1, "distractors": 0, "k": 1},
    ),
    make_record(
        "l1",
        "listing",
        {"classes": ["bus", "car"]},
        "bus, car",
        [_im(0, "query", car=2), _im(1, "query", bus=1)],
        {"n_images": 2, "category": "vehicle", "n_answer_classes": 2},
    ),
    make_record(
        "l2",
        "listing",
        {"classes": ["person"]},
        "person",
        [_im(0, "query", person=1), _im(1, "distractor")],
        {"n_images": 2, "category": "person", "n_answer_classes": 1},
    ),
    make_record(
        "m1",
        "common",
        {"class": "dog"},
        "dog",
        [_im(0, "context", dog=1, cat=1), _im(1, "context", dog=2)],
        {"n_images": 2},
    ),
    make_record(
        "o1",
        "odd_one",
        {"class": "cat"},
        "cat",
        [_im(0, "context", dog=1), _im(1, "context", dog=1, cat=1), _im(2, "context", dog=2)],
        {"n_images": 3},
    ),
]


TINY_CLASSES = ["dog", "cat", "car", "bus", "person", "tv"]
