"""Typed views of benchmark records: the fields scoring reads, decoded without building dicts.

``benchmark.jsonl`` records (SPEC §4) are consumed as dicts by the exports, FiftyOne and plots.
Scoring reads only a few fields, so it decodes each line straight into a :class:`RecordView`
(msgspec skips the question, paths, hashes and templates, and builds no dict per image): about
3x cheaper than dicts at 1M records. Values keep their JSON types (``Any``), so every rule applied
to a view gives what it gives on the dict.

``answer``, ``controls`` and ``spec`` repeat across records, so they stay raw JSON
(``msgspec.Raw``): the benchmark factorises them by their bytes and decodes each distinct one
once (:func:`raw_codes`); every per-record rule on them becomes a rule per distinct value.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any, Literal

import msgspec
import numpy as np

from mimicgen.registry import task_names

__all__ = ["ImageView", "RecordView", "decode_views", "factorize", "raw_codes", "view_of"]


Role = Literal["query", "distractor", "context"]
if TYPE_CHECKING:
    Task = str
else:
    Task = Literal[task_names()]  # every registered task


class ImageView(msgspec.Struct, gc=False):
    """One entry of a record's ``images``: ``image.get(field)`` for the fields scoring reads.

    ``role`` and the record's ``task`` are typed as their SPEC values, so msgspec hands out one
    shared string per value (2M fewer strings at 1M records); any other value does not fit the
    view and the file is read through the dict path instead.
    """

    position: Any = None
    role: Role | None = None
    class_counts: Any = None


_NULL = msgspec.Raw(b"null")


class RecordView(msgspec.Struct, gc=False):
    """One benchmark record as scoring sees it; optional fields are None when absent.

    ``gc=False``: decoded JSON holds no reference cycles, so the collector need not track
    millions of views.
    """

    id: Any
    task: Task
    answer: msgspec.Raw
    answer_text: Any
    images: list[ImageView] | None = None
    controls: msgspec.Raw = _NULL
    """``record.get("controls")`` as raw JSON (``null`` when absent)."""
    spec: msgspec.Raw = _NULL


_VIEWS = msgspec.json.Decoder(RecordView)
_DECODE = msgspec.json.Decoder().decode
_ENCODE = msgspec.json.Encoder().encode


def decode_views(data: bytes) -> list[RecordView] | None:
    """Every line of a JSONL buffer as a view (one C call), or None when any line does not fit.

    The caller must have checked that object ``i`` is on line ``i + 1`` (see
    :func:`mimicgen.bench.jsonl.plain_lines`); None sends it to the dict path, which names bad lines.
    """
    try:
        return _VIEWS.decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def view_of(record: dict[str, Any]) -> RecordView:
    """The view of an already decoded (and validated) record dict.

    ``images`` that are not a list of objects raise ``TypeError``; the caller words the error.
    """
    images = record.get("images")
    views = None
    if images:
        views = [
            ImageView(im.get("position"), im.get("role"), im.get("class_counts")) for im in images
        ]
    return RecordView(
        record["id"],
        record["task"],
        msgspec.Raw(_ENCODE(record["answer"])),
        record["answer_text"],
        views,
        msgspec.Raw(_ENCODE(record.get("controls"))),
        msgspec.Raw(_ENCODE(record.get("spec"))),
    )


def factorize(values: Iterable[Hashable]) -> tuple[np.ndarray, list[Any]]:
    """Hashable values as (code per value, distinct values); codes number values by first
    appearance, so the result does not depend on hashing order."""
    seen: dict[Any, int] = {}
    codes = [seen.setdefault(v, len(seen)) for v in values]
    return np.asarray(codes, np.int64), list(seen)


def raw_codes(raws: list[msgspec.Raw]) -> tuple[np.ndarray, list[Any]]:
    """Factorise raw JSON values by their bytes: (code per value, distinct values decoded).

    Equal values written differently get different codes; each code's value is still right,
    so rules computed per code give what they give per record.
    """
    codes, distinct = factorize(map(bytes, raws))
    return codes, [_DECODE(b) for b in distinct]
