"""Shared pieces of the harness exports (lmms-eval, VLMEvalKit, Hugging Face): provenance and
image resolution. Every export records the benchmark's manifest hash so a result can be traced
to the exact eval set it was computed on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mimicgen import __version__ as _version
from mimicgen.errors import InputError
from mimicgen.io import atomic_write_text
from mimicgen.scoring.ingest import Benchmark

__all__ = [
    "PROVENANCE_FILE",
    "check_images",
    "image_file",
    "image_paths",
    "ordered_json",
    "provenance",
    "write_provenance",
]

PROVENANCE_FILE = "mimicgen_export.json"


def ordered_json(obj: object) -> str:
    """Compact JSON that keeps key order: counting answers list classes in question order."""
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def provenance(bench: Benchmark, fmt: str, **extra: Any) -> dict[str, Any]:
    """What an export was made from: benchmark path, manifest hash, size, class vocabulary."""
    return {
        "format": fmt,
        "mimicgen_version": _version,
        "benchmark_dir": str(bench.path.resolve()),
        "manifest_sha256": bench.manifest_sha256,
        "num_queries": len(bench.records),
        "classes": list(bench.vocabulary.names),
        **extra,
    }


def write_provenance(out_dir: Path, info: dict[str, Any]) -> None:
    """Write ``info`` (see :func:`provenance`) as ``out_dir/mimicgen_export.json``."""
    atomic_write_text(
        out_dir / PROVENANCE_FILE, json.dumps(info, indent=2, ensure_ascii=False) + "\n"
    )


def image_paths(record: dict[str, Any]) -> list[str]:
    """The record's image paths (relative to the benchmark directory) in prompt order."""
    images = sorted(record.get("images") or [], key=lambda im: int(im.get("position", 0)))
    return [str(im["path"]) for im in images]


def image_file(bench: Benchmark, rel: str, record_id: str) -> Path:
    """Absolute path of one image; InputError when it is missing."""
    path = bench.path / rel
    if not path.is_file():
        raise InputError(
            f"{path}: image of query {record_id!r} is missing; rebuild the benchmark "
            "or restore its images/ folder"
        )
    return path


def check_images(bench: Benchmark) -> None:
    """InputError for the first missing image, so an export fails before writing anything."""
    for record in bench.records:
        for rel in image_paths(record):
            image_file(bench, rel, record["id"])
