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
from collections.abc import Iterable, Mapping
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


def group_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Table 1 row for a group of records (see the module docstring for definitions)."""
    n_images: list[int] = []
    n_words: list[int] = []
    n_classes: list[int] = []
    n_objects: list[int] = []
    paths: set[str] = set()
    for rec in records:
        images = rec["images"]
        n_images.append(len(images))
        n_words.append(len(rec["question"].split()))
        classes = answer_classes(rec["answer"])
        n_classes.append(len(classes))
        n_objects.append(sum(int(img["class_counts"].get(c, 0)) for img in images for c in classes))
        paths.update(img["path"] for img in images)
    if not n_images:
        return {"queries": 0}
    return {
        "queries": len(n_images),
        "distinct_images": len(paths),
        "classes_per_query": _number(statistics.fmean(n_classes)),
        "objects_per_query": _number(statistics.fmean(n_objects)),
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


def benchmark_stats(records: list[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"by_task": {task: row}, "by_spec": {spec: row}, "overall": row}``.

    Tasks are keyed in first-appearance order, which is the build's spec order, so the manifest
    bytes depend only on the records.
    """
    by_task: dict[str, list[Mapping[str, Any]]] = {}
    by_spec: dict[str, list[Mapping[str, Any]]] = {}
    for rec in records:
        by_task.setdefault(rec["task"], []).append(rec)
        by_spec.setdefault(rec.get("spec", rec["task"]), []).append(rec)
    return {
        "by_task": {k: group_stats(v) for k, v in by_task.items()},
        "by_spec": {k: group_stats(v) for k, v in by_spec.items()},
        "overall": group_stats(records),
    }
