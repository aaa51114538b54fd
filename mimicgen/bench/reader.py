"""Reading a built benchmark folder: ``benchmark.jsonl`` records and ``manifest.json`` (SPEC §4).

The one place that knows the file names and the schema version, and turns unreadable files into
one-line :class:`~mimicgen.errors.InputError` messages. Callers (build/merge, validate, plots,
probes, predict, scoring, the harness exports) add their own checks of what a record must hold;
scoring builds its typed views on :func:`read_benchmark_bytes`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mimicgen.bench.jsonl import decode_line
from mimicgen.errors import InputError
from mimicgen.io import sha256_file

__all__ = [
    "BENCHMARK_FILE",
    "MANIFEST_FILE",
    "SCHEMA_VERSION",
    "BenchmarkBytes",
    "benchmark_inputs",
    "is_benchmark",
    "numbered_records",
    "read_benchmark_bytes",
    "read_manifest",
    "read_records",
    "records_file",
]

BENCHMARK_FILE = "benchmark.jsonl"
MANIFEST_FILE = "manifest.json"
SCHEMA_VERSION = 1
"""The version of the public formats: benchmark records, the manifest and the score report.
Bump it when a contract key is removed or renamed (``tests/bench/test_schema_contract.py``)."""


def is_benchmark(folder: str | Path) -> bool:
    """Whether ``folder`` holds a ``benchmark.jsonl`` (a quiet test; :func:`records_file` words
    the error)."""
    return (Path(folder) / BENCHMARK_FILE).is_file()


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
            yield n, decode_line(path, n, line)


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


# A dataclass, not a pydantic model: validation would copy the manifest and check a large buffer.
@dataclass(frozen=True)
class BenchmarkBytes:
    """A benchmark folder read for fast decoding: the records file's bytes and the manifest."""

    records_path: Path
    """``folder/benchmark.jsonl``."""
    data: bytes
    """Its bytes (one JSON object per line)."""
    manifest: dict[str, Any]
    """The decoded ``manifest.json``."""
    manifest_sha256: str
    """SHA-256 of ``manifest.json``'s bytes."""


def read_benchmark_bytes(folder: str | Path) -> BenchmarkBytes:
    """Both files of a benchmark folder (each must exist), records left undecoded: callers
    decode them in one call (:mod:`mimicgen.bench.jsonl`, scoring's typed views)."""
    path = records_file(folder)
    manifest = read_manifest(folder)
    sha = sha256_file(Path(folder) / MANIFEST_FILE)
    return BenchmarkBytes(path, path.read_bytes(), manifest, sha)
