"""Benchmark statistics in the shape of the MIMIC paper's Table 1, computed from output records.

Stats are computed from the public ``benchmark.jsonl`` records (plain dicts), never from sampler
internals, so ``mimicgen build``, ``mimicgen merge`` and ``mimicgen validate`` all agree and a
user can recompute them from the files. Definitions (also in ``docs/outputs.md``):

* ``queries``: number of base queries (records, twins left out; see below).
* ``distinct_images``: number of distinct image paths used by those records.
* ``classes_per_query``: mean number of classes in the answer (counting: k; listing: answer set
  size; common / odd-one: 1).
* ``objects_per_query``: mean number of annotated instances of the answer classes summed over the
  query's images (from each image's ``class_counts``; counting: the answer total).
* ``images_per_query``: ``min`` / ``max`` / ``median`` / ``mean`` of ``len(images)``.
* ``words_per_question``: ``mean`` / ``min`` / ``max`` whitespace-separated words of ``question``.

The rows count *base queries* only: a twin (``variants:``, a record whose ``variant`` is not
``base``) re-asks its base's question, so counting it would inflate the queries and skew the
per-query means, and its generated images are not dataset images. Twins get their own block
(:func:`twin_stats`): families, twins per control, generated images per kind and the source
images only twins use. Builds without twins have every record a base query and no block.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "answer_classes",
    "benchmark_stats",
    "group_stats",
    "is_base",
    "twin_stats",
    "twins_line",
]

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


def is_base(rec: Mapping[str, Any]) -> bool:
    """A base query: a record outside twin families, or the ``base`` member of one."""
    return rec.get("variant", "base") == "base"


def group_stats(records: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """Table 1 row for a group of records (see the module docstring for definitions)."""
    return _aggregate([_row(rec) for rec in records])


def _twin_block(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    base_paths = {img["path"] for r in records if is_base(r) for img in r["images"]}
    twins = [r for r in records if not is_base(r)]
    by_control: dict[str, int] = {}
    generated: dict[str, set[str]] = {}
    added: set[str] = set()
    for r in twins:
        control = str((r.get("twin") or {}).get("control", str(r["variant"]).split("-")[0]))
        by_control[control] = by_control.get(control, 0) + 1
        for img in r["images"]:
            if "content" in img:
                generated.setdefault(str(img["content"]), set()).add(img["path"])
            elif img["path"] not in base_paths:
                added.add(img["path"])
    return {
        "families": len({r["family"] for r in records if "family" in r}),
        "twins": len(twins),
        "by_control": by_control,
        "generated_images": {
            "total": sum(len(v) for v in generated.values()),
            **{k: len(v) for k, v in generated.items()},
        },
        "added_source_images": len(added),
    }


def twin_stats(records: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The manifest ``twins`` block, or None when no record is in a family (docs/outputs.md):
    ``families``, ``twins`` (records that are not a base), ``by_control`` (twins per control,
    first-appearance order), ``generated_images`` (distinct generated files: ``total`` and per
    ``content`` kind), ``added_source_images`` (distinct source images that only twins show:
    added distractors, spread images), overall and ``by_spec`` (specs with families)."""
    if not any("family" in r for r in records):
        return None
    by_spec: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        if "family" in r:
            by_spec.setdefault(r.get("spec", r["task"]), []).append(r)
    return {**_twin_block(records), "by_spec": {k: _twin_block(v) for k, v in by_spec.items()}}


def benchmark_stats(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``{"by_task": {task: row}, "by_spec": {spec: row}, "overall": row}`` over the base
    queries, plus ``"twins"`` (:func:`twin_stats`) when records are in twin families.

    Tasks are keyed in first-appearance order, which is the build's spec order, so the manifest
    bytes depend only on the records.
    """
    bases = [rec for rec in records if is_base(rec)]
    rows = [_row(rec) for rec in bases]
    by_task: dict[str, list[_Row]] = {}
    by_spec: dict[str, list[_Row]] = {}
    for rec, row in zip(bases, rows, strict=True):
        by_task.setdefault(rec["task"], []).append(row)
        by_spec.setdefault(rec.get("spec", rec["task"]), []).append(row)
    out: dict[str, Any] = {
        "by_task": {k: _aggregate(v) for k, v in by_task.items()},
        "by_spec": {k: _aggregate(v) for k, v in by_spec.items()},
        "overall": _aggregate(rows),
    }
    twins = twin_stats(records)
    if twins is not None:
        out["twins"] = twins
    return out


def twins_line(block: Mapping[str, Any]) -> str:
    """One line on a manifest ``twins`` block for the build summary (the Table 1 rows above it
    count base queries only)."""
    controls = ", ".join(f"{k} {v}" for k, v in block["by_control"].items())
    return (
        f"twins (not in the rows above): {block['twins']} in {block['families']} families "
        f"({controls}); {block['generated_images']['total']} generated images, "
        f"{block['added_source_images']} source images only twins show"
    )
