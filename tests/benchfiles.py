"""Shared pieces of hand-written benchmark folders (SPEC §4 ``benchmark.jsonl`` + ``manifest.json``).

Tests of scoring and exports must not depend on `mimicgen build`, so they write records by hand;
this module holds the record/manifest layout and the file writing they have in common. It is
imported as ``benchfiles`` (``tests/`` is on ``sys.path`` through ``tests/conftest.py``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["bench_record", "manifest_header", "write_bench_files", "write_predictions"]


def bench_record(
    rid: str,
    task: str,
    answer: dict[str, Any],
    answer_text: str,
    images: list[dict[str, Any]],
    controls: dict[str, Any],
    template: tuple[str, str] = ("t0", "c0"),
    **extra: Any,
) -> dict[str, Any]:
    """One SPEC §4 record with a placeholder question; ``extra`` keys go last."""
    return {
        "id": rid,
        "task": task,
        "question": f"question of {rid}?",
        "answer": answer,
        "answer_text": answer_text,
        "images": images,
        "controls": controls,
        "template": {"task": template[0], "connector": template[1]},
        **extra,
    }


def manifest_header(records: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    """A test manifest: fixed version/seed header, then ``fields``, then ``num_queries``."""
    return {
        "schema_version": 1,
        "generator_version": "test",
        "seed": 0,
        **fields,
        "num_queries": len(records),
    }


def write_bench_files(root: Path, records: list[dict[str, Any]], manifest: dict[str, Any]) -> None:
    """Write ``root/benchmark.jsonl`` (one JSON record per line) and ``root/manifest.json``."""
    with open(root / "benchmark.jsonl", "w", encoding="utf-8") as f:
        f.writelines(json.dumps(rec) + "\n" for rec in records)
    (root / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def write_predictions(path: Path, preds: Mapping[str, Any]) -> Path:
    """Write a predictions JSONL (``{"id", "prediction"}`` per line, in ``preds`` order)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(
            json.dumps({"id": rid, "prediction": text}) + "\n" for rid, text in preds.items()
        )
    return path
