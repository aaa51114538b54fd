"""Fast JSONL decoding: a whole file in one C call, line by line only to name a bad line.

Shared by the benchmark reader and the prediction readers (scoring); every malformed line is an
:class:`~mimicgen.errors.InputError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from mimicgen.errors import InputError

__all__ = ["decode_line", "decode_lines", "decode_plain_lines", "plain_lines", "read_json_lines"]

_DECODE = msgspec.json.Decoder()
_SPACE = np.frombuffer(b" \t\n\r\f\v", np.uint8)


def decode_lines(data: bytes) -> list[Any]:
    """Every line of a JSONL buffer decoded in one C call (``msgspec.DecodeError`` if any fails)."""
    return _DECODE.decode_lines(data)


def decode_line(path: Path, lineno: int, line: bytes | str) -> Any:
    """One JSON line; malformed -> a one-line InputError naming ``path:lineno``."""
    try:
        return _DECODE.decode(line)
    except msgspec.DecodeError as exc:
        raise InputError(
            f"{path}:{lineno}: malformed JSON line ({exc}); fix or remove that line"
        ) from None


def plain_lines(data: bytes) -> int | None:
    """The number of lines when object ``i`` can only be on line ``i + 1``, else None.

    That holds when no line is blank or starts with whitespace (checked on the byte after each
    newline, vectorised); the caller must still check that it decoded as many objects.
    """
    if not data:
        return None
    raw = np.frombuffer(data, np.uint8)
    starts = np.flatnonzero(raw == 10) + 1  # the first byte of every line after the first
    n_lines = len(starts) + 1
    if starts[-1:].tolist() == [len(data)]:
        starts, n_lines = starts[:-1], n_lines - 1  # the file ends with a newline
    if np.isin(raw[:1], _SPACE).any() or np.isin(raw[starts], _SPACE).any():
        return None
    return n_lines


def decode_plain_lines(data: bytes) -> list[Any] | None:
    """Every line decoded in one C call, when object ``i`` is certainly on line ``i + 1``;
    otherwise None (the caller falls back to splitting the file into numbered lines)."""
    n_lines = plain_lines(data)
    if n_lines is None:
        return None
    try:
        objs = _DECODE.decode_lines(data)
    except msgspec.DecodeError:
        return None
    return objs if len(objs) == n_lines else None


def read_json_lines(path: Path, data: bytes | None = None) -> Iterator[tuple[int, Any]]:
    """(line number, decoded object) for each non-blank line; malformed -> InputError.

    ``data``: the file's bytes when already read. The whole file is decoded in one C call
    first (fast); only when that fails is it decoded line by line, to name the bad line.
    """
    if data is None:
        data = path.read_bytes()
    objs = decode_plain_lines(data)
    if objs is not None:
        yield from enumerate(objs, 1)
        return
    numbered = [(i, line) for i, line in enumerate(data.split(b"\n"), 1) if line.strip()]
    try:
        objs = msgspec.json.decode(b"[" + b",".join(line for _, line in numbered) + b"]")
    except msgspec.DecodeError:
        objs = None
    if objs is not None and len(objs) == len(numbered):
        yield from zip((i for i, _ in numbered), objs, strict=True)
        return
    for lineno, line in numbered:  # slow path: find the bad line
        yield lineno, decode_line(path, lineno, line)
