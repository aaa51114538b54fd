"""Reading a built benchmark folder: ``benchmark.jsonl`` records and ``manifest.json`` (SPEC §4).

The one place that knows the file names and turns unreadable files into one-line
:class:`~mimicgen.errors.InputError` messages. Callers (build/merge, validate, plots, probes)
add their own checks of what a record must hold.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from mimicgen.errors import InputError

__all__ = [
    "BENCHMARK_FILE",
    "MANIFEST_FILE",
    "benchmark_inputs",
    "numbered_records",
    "read_manifest",
    "read_records",
    "records_file",
]

BENCHMARK_FILE = "benchmark.jsonl"
MANIFEST_FILE = "manifest.json"


def records_file(folder: str | Path) -> Path:
    """``folder/benchmark.jsonl``, with a one-line error if it is missing."""
    path = Path(folder) / BENCHMARK_FILE
    if not path.is_file():
        raise InputError(f"{path} not found; is {folder} a folder written by 'mimicgen build'?")
    return path


def numbered_records(path: Path, *, skip_blank: bool = False) -> Iterator[tuple[int, Any]]:
    """``(line number, parsed JSON)`` per line of a JSONL file (1-based, for error messages).

    ``skip_blank`` passes over empty lines (hand-edited files); otherwise every line must parse.
    """
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if skip_blank and not line.strip():
                continue
            try:
                yield n, json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{path}:{n}: not valid JSON ({exc.msg})") from None


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """Parse a ``benchmark.jsonl`` (or a chunk file) line by line."""
    for _, record in numbered_records(path):
        yield record


def benchmark_inputs(folder: str | Path, manifest: dict[str, Any]) -> list[str]:
    """The benchmark folder plus the annotation files and image roots its manifest names (its
    images may be symlinks or hard links into them): what an output written from the benchmark
    must stay clear of (:func:`mimicgen.outdir.check_out`). Paths inside the render cache
    (written with its ``<cache>`` placeholder) are left out."""
    from mimicgen.sources.registry import CACHE_PLACEHOLDER

    paths = [str(folder)]
    for source in manifest.get("sources") or []:
        if not isinstance(source, dict):
            continue
        named = [source.get("annotations"), source.get("image_root")]
        named += [f.get("path") for f in source.get("files") or [] if isinstance(f, dict)]
        paths += [p for p in named if isinstance(p, str) and not p.startswith(CACHE_PLACEHOLDER)]
    return paths


def read_manifest(folder: str | Path, *, missing_ok: bool = False) -> dict[str, Any]:
    """Load ``manifest.json`` of a built benchmark, with a one-line error if it is missing
    (or ``{}`` when ``missing_ok``) or is not a JSON object."""
    path = Path(folder) / MANIFEST_FILE
    if not path.is_file():
        if missing_ok:
            return {}
        raise InputError(f"{path} not found; is {folder} a folder written by 'mimicgen build'?")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc.msg})") from None
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: expected a JSON object")
    return manifest
