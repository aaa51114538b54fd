"""The parts of a COCO ``instances_*.json`` that mimicgen reads, as msgspec structs, and the
annotation records as numpy columns.

msgspec decodes into these structs directly and skips every other key (``segmentation``, the
bulk of a COCO file, plus ``info``, ``licenses``, ``area`` ...), validating types and required
keys on the way.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain
from operator import attrgetter
from typing import Annotated, Any, NamedTuple

import msgspec
import numpy as np

__all__ = [
    "DECODER",
    "AnnotationColumns",
    "CocoAnnotation",
    "CocoCategory",
    "CocoFile",
    "CocoImage",
    "CocoRecords",
    "Int64",
    "annotation_columns",
    "int_column",
]


#: An integer that fits the int64 columns the records become: msgspec decodes JSON integers of
#: any size, and a larger one (``"width": 10**30``) must fail as a validation error naming its
#: record, not as an OverflowError when the column is built.
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]


class CocoImage(msgspec.Struct, gc=False):
    id: Int64
    file_name: str
    width: Int64
    height: Int64


class CocoAnnotation(msgspec.Struct, gc=False):
    id: Int64
    image_id: Int64
    category_id: Int64
    bbox: tuple[float, float, float, float]
    iscrowd: Int64 = 0


class CocoCategory(msgspec.Struct, gc=False):
    id: Int64
    name: str
    supercategory: str | None = None


class CocoFile(msgspec.Struct, gc=False):
    """Only the fields mimicgen uses; unknown keys (segmentation, info, licenses) are skipped."""

    images: list[CocoImage]
    annotations: list[CocoAnnotation]
    categories: list[CocoCategory]


DECODER = msgspec.json.Decoder(CocoFile)


class AnnotationColumns(NamedTuple):
    """Every annotation record's fields, one array each, in file order."""

    id: np.ndarray
    """int64 annotation ids."""
    image_id: np.ndarray
    """int64 image ids as written (not yet checked against the images)."""
    category_id: np.ndarray
    """int64 category ids as written."""
    iscrowd: np.ndarray
    """int64 ``iscrowd`` values (0 when absent)."""
    bbox: np.ndarray
    """float64 ``(n, 4)`` pixel boxes ``[x, y, w, h]``."""

    @classmethod
    def empty(cls, n: int) -> AnnotationColumns:
        """Uninitialised columns for ``n`` records (to be filled in place)."""
        ints = [np.empty(n, dtype=np.int64) for _ in range(4)]
        return cls(ints[0], ints[1], ints[2], ints[3], np.empty((n, 4), dtype=np.float64))

    @classmethod
    def concat(cls, parts: Sequence[AnnotationColumns]) -> AnnotationColumns:
        """The columns of consecutive runs of records, joined in order."""
        return cls(*(np.concatenate(arrays) for arrays in zip(*parts, strict=True)))


def int_column(items: Sequence[Any], attr: str) -> np.ndarray:
    """One integer attribute of every record as an int64 array: ``map``/``attrgetter`` iterate
    in C straight into ``np.fromiter`` (one pass per field is cheaper than one pass yielding
    tuples for several fields, and than a structured dtype)."""
    return np.fromiter(map(attrgetter(attr), items), dtype=np.int64, count=len(items))


def annotation_columns(anns: Sequence[CocoAnnotation]) -> AnnotationColumns:
    """The records as arrays: one C-level pass per integer field, the bbox tuples flattened."""
    n = len(anns)
    bbox = np.fromiter(
        chain.from_iterable(map(attrgetter("bbox"), anns)), dtype=np.float64, count=4 * n
    ).reshape(n, 4)
    return AnnotationColumns(
        id=int_column(anns, "id"),
        image_id=int_column(anns, "image_id"),
        category_id=int_column(anns, "category_id"),
        iscrowd=int_column(anns, "iscrowd"),
        bbox=bbox,
    )


class CocoRecords(NamedTuple):
    """A decoded COCO file: image and category records, annotations as columns."""

    images: list[CocoImage]
    categories: list[CocoCategory]
    annotations: AnnotationColumns

    @classmethod
    def of(cls, data: CocoFile) -> CocoRecords:
        """The records of a whole-file decode."""
        return cls(data.images, data.categories, annotation_columns(data.annotations))
