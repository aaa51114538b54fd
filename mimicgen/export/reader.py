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
