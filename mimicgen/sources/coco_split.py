"""Decode a large COCO file's annotations in pieces, side by side in forked processes.

msgspec decodes on one core, and on a 2-core machine the decode plus turning the records into
arrays is about two thirds of a cold COCO index build. This module cuts the ``annotations``
array at record boundaries into one piece per worker: the parent decodes the head (everything
before the ``annotations`` key) and the first piece, forked children decode the others and send
their records back as numpy columns through pipes.

Cutting JSON text without parsing it is only correct at proven record boundaries of the
top-level ``annotations`` array. The decodes themselves prove it; if any condition fails,
:func:`split_decode` returns None and the caller decodes the file the ordinary way (so a
malformed file gets exactly the ordinary error message):

1. ``"annotations"`` first occurs at ``p``, followed by ``:`` and ``[`` (at ``q``).
2. The head ``text[:p] + '"":0}'`` decodes, ``p`` being where that key starts: a prefix of a
   JSON text can be completed by a new key and ``}`` only if it ends at a key position of the
   top-level object, so ``p`` is the top-level key.
3. The first piece ``text[q:c] + ']'`` decodes as a list of records: JSON is tokenised left to
   right, so the prefix closes into one array only if ``c`` is a comma between two of the
   array's elements. A middle piece ``'[' + text[c+1:c'] + ']'`` starts in the state the file
   is in after ``c``, so its decode proves the next cut ``c'`` the same way (induction).
4. The last piece ``'{"annotations":[' + text[c+1:]`` decodes: the remaining records, the keys
   after the array, and nothing else up to the end of the file. Its text holds neither
   ``"annotations"`` nor a backslash (no escaped spelling either): a later duplicate key would
   replace the array when the file is decoded whole (the last of duplicate keys wins). Earlier
   pieces need no such check, as 3 proves their text lies inside the array.
5. ``images`` and ``categories`` each appear in exactly one of the head and the last piece.

Pieces are decoded in place, not copied: the few bytes a piece needs (``]``, ``[``, the opening
of the last piece) are written over the cut's comma and the bytes before it. The parent restores
each patch after its decode; children patch only their own copy-on-write pages.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import re
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from typing import BinaryIO, TypeVar

import msgspec
from msgspec import UNSET, UnsetType

from mimicgen.cpus import usable_cpus
from mimicgen.sources.coco_format import (
    AnnotationColumns,
    CocoAnnotation,
    CocoCategory,
    CocoImage,
    CocoRecords,
    annotation_columns,
)

__all__ = ["MIN_SPLIT_BYTES", "split_decode"]

#: Smaller files are decoded in one piece (forking and piping cost more than they save).
MIN_SPLIT_BYTES = 32 << 20
#: At most this many pieces (processes) per file.
_MAX_PIECES = 4
#: Pipe buffer asked for (Linux allows up to 1 MiB to unprivileged processes by default).
_PIPE_BYTES = 1 << 20
#: A cut is the first record boundary within this many bytes after its target offset.
_WINDOW = 1 << 20

#: The last piece's size relative to the others: its process also scans it for duplicate keys
#: and sends its columns through a pipe.
_LAST_SHARE = 0.85

_KEY = b'"annotations"'
_ARRAY_OPEN = re.compile(rb"\s*:\s*\[")
_BOUNDARY = re.compile(rb"\}\s*(,)\s*\{")  # group 1: the comma between two records
_HEAD_CLOSE = b'"":0}'
_LAST_OPEN = b'{"annotations":['


class _Head(msgspec.Struct, gc=False):
    """The top-level keys besides ``annotations`` that a part of the file may hold."""

    images: list[CocoImage] | UnsetType = UNSET
    categories: list[CocoCategory] | UnsetType = UNSET


class _Last(_Head, kw_only=True):
    annotations: list[CocoAnnotation]


class _Sent(_Head, kw_only=True):
    """What a child sends ahead of its columns: its record count (and the last piece's keys)."""

    n: int


_HEAD = msgspec.json.Decoder(_Head)
_PIECE = msgspec.json.Decoder(list[CocoAnnotation])
_LAST = msgspec.json.Decoder(_Last)


class _NotSplit(Exception):
    """A condition of the module docstring failed: decode the file the ordinary way."""


def split_decode(buf: bytearray, workers: int | None = None) -> CocoRecords | None:
    """Decode a COCO file held in ``buf`` with up to ``workers`` processes (default: one per
    available CPU, at most 4); None when the file is small, the platform cannot fork, or any
    condition of the module docstring fails. ``buf`` is unchanged on return."""
    pieces = min(_MAX_PIECES, usable_cpus()) if workers is None else workers
    if pieces < 2 or len(buf) < MIN_SPLIT_BYTES or "fork" not in mp.get_all_start_methods():
        return None
    key = buf.find(_KEY)
    if key < 0:
        return None
    opened = _ARRAY_OPEN.match(buf, key + len(_KEY))
    if opened is None:
        return None
    start = opened.end() - 1  # the array's "["
    cuts = _cuts(buf, start, pieces)
    if cuts is None:
        return None
    children: list[tuple[int, int]] = []  # (pid, read end of its pipe)
    try:
        for k in range(1, len(cuts) + 1):
            children.append(_fork(lambda k=k: _child_piece(buf, cuts, k)))  # type: ignore[misc]
        with _patched(buf, key, _HEAD_CLOSE):
            head = _HEAD.decode(memoryview(buf)[: key + len(_HEAD_CLOSE)])
        with _patched(buf, cuts[0], b"]"):
            first = _PIECE.decode(memoryview(buf)[start : cuts[0] + 1])
        parts = [annotation_columns(first)]
        del first
        last = _Sent(n=0)
        while children:
            pid, fd = children.pop(0)
            try:
                last, columns = _receive(fd)  # closes fd: a child still writing then exits
            finally:
                status = os.waitpid(pid, 0)[1]
            if status != 0:
                raise _NotSplit
            parts.append(columns)
        return CocoRecords(
            images=_exactly_one(head.images, last.images),
            categories=_exactly_one(head.categories, last.categories),
            annotations=AnnotationColumns.concat(parts),
        )
    except (_NotSplit, msgspec.DecodeError, OSError):
        return None
    finally:
        for pid, fd in children:  # only after a failure: stop and reap the rest
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            os.close(fd)


def _cuts(buf: bytearray, start: int, pieces: int) -> list[int] | None:
    """Commas between two records near each ``k/pieces`` of the text from the array's start
    (candidates: the decodes prove them), or None if one is missing or they are too close."""
    cuts: list[int] = []
    low = start + len(_LAST_OPEN)  # room for the last piece's opening before its cut
    share = (len(buf) - start) / (pieces - 1 + _LAST_SHARE)
    for k in range(1, pieces):
        target = max(start + int(share * k), low)
        found = _BOUNDARY.search(buf, target, target + _WINDOW)
        if found is None:
            return None
        cuts.append(found.start(1))
        low = cuts[-1] + len(_LAST_OPEN)
    return cuts


def _child_piece(buf: bytearray, cuts: list[int], k: int) -> tuple[_Sent, AnnotationColumns]:
    """Piece ``k`` (1-based: after cut ``k - 1``), decoded in this child's copy of ``buf``."""
    cut = cuts[k - 1]
    if k < len(cuts):  # a middle piece: "[" + records + "]"
        end = cuts[k]
        buf[cut] = ord("[")
        buf[end] = ord("]")
        records = _PIECE.decode(memoryview(buf)[cut : end + 1])
        return _Sent(n=len(records)), annotation_columns(records)
    if buf.find(b"\\", cut) >= 0 or buf.find(_KEY, cut) >= 0:
        raise _NotSplit
    begin = cut + 1 - len(_LAST_OPEN)
    buf[begin : cut + 1] = _LAST_OPEN
    last = _LAST.decode(memoryview(buf)[begin:])
    sent = _Sent(n=len(last.annotations), images=last.images, categories=last.categories)
    return sent, annotation_columns(last.annotations)


def _fork(work: Callable[[], tuple[_Sent, AnnotationColumns]]) -> tuple[int, int]:
    """Run ``work`` in a forked child that writes its result to a pipe; (pid, read end)."""
    read, write = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read)
        os.close(write)
        raise
    if pid == 0:  # the child: never returns, never runs the parent's exit handlers
        code = 1  # any failure: the parent sees a short read or this exit code
        try:
            os.close(read)
            sent, columns = work()
            with os.fdopen(write, "wb") as out:
                header = msgspec.msgpack.encode(sent)
                out.write(len(header).to_bytes(8, "little"))
                out.write(header)
                for array in columns:
                    out.write(array.data)
            code = 0
        finally:
            os._exit(code)
    os.close(write)
    import fcntl  # POSIX only, like fork

    if hasattr(fcntl, "F_SETPIPE_SZ"):  # Linux: fewer wake-ups for tens of MB of columns
        with suppress(OSError):
            fcntl.fcntl(read, fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
    return pid, read


def _receive(fd: int) -> tuple[_Sent, AnnotationColumns]:
    """A child's header and columns, read straight into fresh arrays."""
    with os.fdopen(fd, "rb") as src:
        size = int.from_bytes(_read_exactly(src, 8), "little")
        sent = msgspec.msgpack.decode(_read_exactly(src, size), type=_Sent)
        n = sent.n
        columns = AnnotationColumns.empty(n)
        for array in columns:
            view = array.data.cast("B")
            got = 0
            while got < view.nbytes:
                step = src.readinto(view[got:])
                if not step:
                    raise _NotSplit
                got += step
    return sent, columns


def _read_exactly(src: BinaryIO, size: int) -> bytes:
    data = src.read(size)
    if len(data) != size:
        raise _NotSplit
    return data


@contextmanager
def _patched(buf: bytearray, at: int, data: bytes) -> Iterator[None]:
    """``data`` written over ``buf[at:]`` for the duration of the block."""
    saved = bytes(buf[at : at + len(data)])
    buf[at : at + len(data)] = data
    try:
        yield
    finally:
        buf[at : at + len(saved)] = saved


_T = TypeVar("_T")


def _exactly_one(head: _T | UnsetType, last: _T | UnsetType) -> _T:
    """A top-level key's value from the one part that holds it (both or neither: no split)."""
    if isinstance(head, UnsetType) == isinstance(last, UnsetType):
        raise _NotSplit
    return last if isinstance(head, UnsetType) else head  # type: ignore[return-value]
