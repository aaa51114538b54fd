"""Benchmark statistics in the shape of the MIMIC paper's Table 1, computed from output records.

Stats are computed from the public ``benchmark.jsonl`` records (plain dicts), never from sampler
internals, so ``mimicgen build``, ``mimicgen merge`` and ``mimicgen validate`` all agree and a
user can recompute them from the files. Definitions (also in ``docs/outputs.md``):

* ``queries``: number of records.
* ``distinct_images``: number of distinct image paths used by those records.
* ``classes_per_query``: mean number of classes in the answer (counting: k; listing: answer set
  size; common / odd-one: 1).
* ``objects_per_query``: mean number of annotated instances of the answer classes summed over the
  query's images (from each image's ``class_counts``; counting: the answer total).
* ``images_per_query``: ``min`` / ``max`` / ``median`` / ``mean`` of ``len(images)``.
* ``words_per_question``: ``mean`` / ``min`` / ``max`` whitespace-separated words of ``question``.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["answer_classes", "benchmark_stats", "group_stats"]

_DIGITS = 4  # rounding keeps the manifest short and its bytes stable


def answer_classes(answer: Mapping[str, Any]) -> list[str]:
    """Class names an answer refers to, for any task's answer shape."""
    if "counts" in answer:
        return list(answer["counts"])
    if "classes" in answer:
        return list(answer["classes"])
    return [answer["class"]]


def _number(x: float) -> int | float:
    """Integral values as int (``7`` not ``7.0``), others rounded: stable, readable JSON."""
    return int(x) if float(x).is_integer() else round(float(x), _DIGITS)


@dataclass(frozen=True)
class _Row:
    """The per-record numbers every statistic is made of (computed once per record)."""

    n_images: int
    n_words: int
    n_classes: int
    n_objects: int
    paths: tuple[str, ...]


def _row(rec: Mapping[str, Any]) -> _Row:
    images = rec["images"]
    classes = answer_classes(rec["answer"])
    objects = sum(int(img["class_counts"].get(c, 0)) for img in images for c in classes)
    return _Row(
        len(images),
        len(rec["question"].split()),
        len(classes),
        objects,
        tuple(img["path"] for img in images),
    )


def _aggregate(rows: list[_Row]) -> dict[str, Any]:
    if not rows:
        return {"queries": 0}
    n_images = [r.n_images for r in rows]
    n_words = [r.n_words for r in rows]
    return {
        "queries": len(rows),
        "distinct_images": len({p for r in rows for p in r.paths}),
        "classes_per_query": _number(statistics.fmean(r.n_classes for r in rows)),
        "objects_per_query": _number(statistics.fmean(r.n_objects for r in rows)),
        "images_per_query": {
            "min": min(n_images),
            "max": max(n_images),
            "median": _number(statistics.median(n_images)),
            "mean": _number(statistics.fmean(n_images)),
        },
        "words_per_question": {
            "mean": _number(statistics.fmean(n_words)),
            "min": min(n_words),
            "max": max(n_words),
        },
    }


def group_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Table 1 row for a group of records (see the module docstring for definitions)."""
    return _aggregate([_row(rec) for rec in records])


def benchmark_stats(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"by_task": {task: row}, "by_spec": {spec: row}, "overall": row}``.

    Tasks are keyed in first-appearance order, which is the build's spec order, so the manifest
    bytes depend only on the records.
    """
    rows = [_row(rec) for rec in records]
    by_task: dict[str, list[_Row]] = {}
    by_spec: dict[str, list[_Row]] = {}
    for rec, row in zip(records, rows, strict=True):
        by_task.setdefault(rec["task"], []).append(row)
        by_spec.setdefault(rec.get("spec", rec["task"]), []).append(row)
    return {
        "by_task": {k: _aggregate(v) for k, v in by_task.items()},
        "by_spec": {k: _aggregate(v) for k, v in by_spec.items()},
        "overall": _aggregate(rows),
    }
