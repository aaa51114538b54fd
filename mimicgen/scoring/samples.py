"""Per-sample rows (``report.samples.jsonl``): one per (model, pipeline, query).

1M predictions make 3M rows, but only as many *distinct* rows (up to the id) as distinct
(context, reply) pairs. :class:`SampleRows` keeps them compactly: per model, the distinct rows
(``templates``, id left empty), the raw ids and, per record, which distinct row it has. Rows are
built on demand when read (it is a ``Sequence`` of :class:`SampleRow`), and
:meth:`SampleRows.jsonl_pieces` gives the file without building them: each distinct row is
encoded once around a hole for the id, and a record's lines are its encoded id joined into
its distinct rows' encoded parts.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import msgspec
import numpy as np

__all__ = ["SampleBlock", "SampleRow", "SampleRows"]


class SampleRow(msgspec.Struct, gc=False):
    """One line of ``report.samples.jsonl``; reads like a dict (``row["id"]``).

    A struct, not a dict: cheaper to create and to encode (field order = key order, so the
    JSONL bytes are the same). ``gc=False``: rows hold only plain values (no cycles), so the
    collector need not track millions of them.
    """

    model: str
    pipeline: str
    id: Any
    task: str
    prediction: str | None
    extracted: Any
    status: str
    parsed: bool
    correct: bool
    f1: float | None

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """``dict.get``: the field's value, else ``default``."""
        return getattr(self, key, default)


_ENCODER = msgspec.json.Encoder()
_CHUNK = 4096  # records per written piece: a few MB, so the buffers are reused, not re-mapped


@dataclass(frozen=True)
class SampleBlock:
    """The rows of one model: ``templates[which[i]]`` with ``id = ids[i]``, per record ``i``.

    Each template is a tuple of rows (one per pipeline, in report order) with ``id`` None.
    """

    templates: list[tuple[SampleRow, ...]]
    which: np.ndarray
    ids: Sequence[Any]

    def __len__(self) -> int:
        return len(self.which) * (len(self.templates[0]) if self.templates else 0)

    def rows(self) -> Iterator[SampleRow]:
        """Every row in file order (record by record, pipelines in order)."""
        replace = msgspec.structs.replace
        for raw_id, k in zip(self.ids, self.which.tolist(), strict=True):
            for row in self.templates[k]:
                yield replace(row, id=raw_id)

    def row(self, i: int) -> SampleRow:
        """Row ``i`` in file order."""
        rec, j = divmod(i, len(self.templates[0]))
        return msgspec.structs.replace(self.templates[int(self.which[rec])][j], id=self.ids[rec])

    def jsonl_pieces(self) -> Iterator[bytes]:
        """The block's JSONL bytes, in pieces of up to ``_CHUNK`` records."""
        if not self.templates:
            return
        head, parts = _chained_parts(self.templates)
        ids = list(map(_ENCODER.encode, self.ids))
        which = self.which.tolist()
        yield head
        for s in range(0, len(which), _CHUNK):
            # Record i's lines (and the next record's head): its encoded id joined into its
            # template's parts, in C loops.
            piece = b"".join(
                map(bytes.join, ids[s : s + _CHUNK], map(parts.__getitem__, which[s : s + _CHUNK]))
            )
            yield piece if s + _CHUNK < len(which) else piece[: -len(head)]


def _chained_parts(templates: list[tuple[SampleRow, ...]]) -> tuple[bytes, list[tuple[bytes, ...]]]:
    """``(head, parts)``: the block's file is ``head``, then per record ``id.join(parts[k])``
    (``k`` its template, ``id`` its encoded id), less the final ``head``.

    Every row is encoded with ``id`` None, so each line is its pipeline's fixed head
    ``{"model":..,"pipeline":..,"id":`` then ``null`` then the rest. Each ``null`` after a head
    becomes a hole (a NUL byte: never in JSON output) and the buffer is split at the holes:
    the pieces run from one id to the next, so a template's last piece ends with the first
    pipeline's head (the next record's start). Parts are ``("", piece_1, ..., piece_width)``.
    """
    width = len(templates[0])
    heads = [
        b'{"model":%b,"pipeline":%b,"id":'
        % (_ENCODER.encode(row.model), _ENCODER.encode(row.pipeline))
        for row in templates[0]
    ]
    data = _ENCODER.encode_lines([row for t in templates for row in t])
    holed = data
    for head in heads:
        holed = holed.replace(head + b"null", head + b"\x00")
    pieces = holed.split(b"\x00")
    if len(pieces) != width * len(templates) + 1:  # a head inside a value: cut line by line
        pieces = [heads[0], *_pieces_by_line(data, heads)]
    pieces[-1] += heads[0]
    chunks = iter(pieces[1:])
    return heads[0], [(b"", *group) for group in zip(*[chunks] * width, strict=True)]


def _pieces_by_line(data: bytes, heads: list[bytes]) -> list[bytes]:
    """The pieces of :func:`_chained_parts`, cutting each line after its own head and null
    (encoded strings never hold a raw newline, so splitting on newlines is exact)."""
    width = len(heads)
    lines = data.split(b"\n")[:-1]
    out = []
    for r, line in enumerate(lines):
        head = heads[r % width]
        if not line.startswith(head + b"null,"):  # impossible for this field order
            raise AssertionError(f"unexpected sample row encoding: {line[:80]!r}")
        after = heads[(r + 1) % width] if r + 1 < len(lines) else b""
        out.append(line[len(head) + 4 :] + b"\n" + after)
    return out


class SampleRows(Sequence[SampleRow]):
    """Per-sample rows of several models, kept compact (see the module docstring).

    Pass one as ``samples`` to ``score_files`` / ``score_predictions`` and then to
    ``write_report``; reading it (``len``, indexing, iteration) gives :class:`SampleRow` s, the
    same as a plain list would hold.
    """

    def __init__(self) -> None:
        self.blocks: list[SampleBlock] = []

    def add(self, block: SampleBlock) -> None:
        """Append one model's rows."""
        self.blocks.append(block)

    def __len__(self) -> int:
        return sum(len(b) for b in self.blocks)

    @overload
    def __getitem__(self, i: int) -> SampleRow: ...
    @overload
    def __getitem__(self, i: slice) -> list[SampleRow]: ...
    def __getitem__(self, i: int | slice) -> SampleRow | list[SampleRow]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        n = len(self)
        if i < 0:
            i += n
        if not 0 <= i < n:
            raise IndexError("sample row index out of range")
        for block in self.blocks:
            if i < len(block):
                return block.row(i)
            i -= len(block)
        raise IndexError("sample row index out of range")  # unreachable

    def __iter__(self) -> Iterator[SampleRow]:
        for block in self.blocks:
            yield from block.rows()

    def jsonl_pieces(self) -> Iterator[bytes]:
        """``report.samples.jsonl`` in pieces: equal to encoding every row as one JSON line."""
        for block in self.blocks:
            yield from block.jsonl_pieces()
