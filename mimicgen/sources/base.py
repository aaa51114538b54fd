"""The contract between annotation sources and the index.

Every source (COCO, OpenImages, synthetic, FiftyOne) is read into one :class:`SourceData`: four
polars tables with the fixed schemas below plus a class hierarchy. Everything downstream (index,
samplers, exports) sees only this shape, never a source's raw format.

Dense integer keys (``image_idx``, ``class_idx``) keep the tables small and joins fast; the
source's own ids are kept in ``images.source_id`` and ``classes.source_class_id`` for provenance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import polars as pl

__all__ = [
    "BOX_SCHEMA",
    "CLASS_SCHEMA",
    "IMAGE_SCHEMA",
    "LABEL_SCHEMA",
    "Hierarchy",
    "SourceData",
    "SourceFile",
    "SourceKind",
]

SourceKind = Literal["coco", "openimages", "synthetic", "fiftyone"]

#: One row per image. ``source_id`` is Int64 for COCO/synthetic ids and String for OpenImages;
#: ``file_name`` is relative to the source's image root; width/height are null where the source
#: does not record them (OpenImages CSVs).
IMAGE_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "image_idx": pl.UInt32,
    "source_id": pl.Int64,  # or pl.String for OpenImages
    "file_name": pl.String,
    "width": pl.Int32,
    "height": pl.Int32,
}

#: One row per class, in the source's own order. ``name`` is the display name used everywhere in
#: questions and answers (COCO ``name``, OpenImages ``DisplayName``); ``parent`` is the COCO
#: supercategory (null for OpenImages, whose hierarchy is a tree in :class:`Hierarchy`).
CLASS_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "class_idx": pl.UInt32,
    "source_class_id": pl.Int64,  # or pl.String for OpenImages label ids ("/m/01g317")
    "name": pl.String,
    "parent": pl.String,
}

#: One row per box. Coordinates are normalised to 0..1 of the image (x0 < x1, y0 < y1) so that
#: sources without image sizes still give area fractions. ``is_group`` is COCO ``iscrowd=1`` or
#: OpenImages ``IsGroupOf=1``; ``is_occluded``/``is_truncated``/``is_depiction`` are False where
#: the source lacks them. ``area_frac`` is Float64, computed in float64 straight from the raw values
#: (COCO pixel ``w * h / (W * H)``, OpenImages decimals): the recognisability threshold is compared
#: against it, and a float32 area would round e.g. 0.04999999925 up to 0.05.
BOX_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "image_idx": pl.UInt32,
    "class_idx": pl.UInt32,
    "x0": pl.Float32,
    "y0": pl.Float32,
    "x1": pl.Float32,
    "y1": pl.Float32,
    "area_frac": pl.Float64,
    "is_group": pl.Boolean,
    "is_occluded": pl.Boolean,
    "is_truncated": pl.Boolean,
    "is_depiction": pl.Boolean,
}

#: Image-level labels (OpenImages only): ``confidence`` 1 = verified present, 0 = verified absent.
LABEL_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "image_idx": pl.UInt32,
    "class_idx": pl.UInt32,
    "confidence": pl.Float32,
}


@dataclass(frozen=True)
class Hierarchy:
    """A category tree over class names.

    ``children`` maps a node name to its direct children (node or class names). Leaves are class
    names from the source's class table. COCO: supercategory -> classes. OpenImages: the official
    ``bbox_labels_600_hierarchy.json`` tree (inner nodes such as "Vehicle" are classes too).
    """

    children: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def nodes(self) -> list[str]:
        """Every inner node (a name with at least one child), sorted."""
        return sorted(k for k, v in self.children.items() if v)

    def descendants(self, node: str) -> list[str]:
        """All names strictly below ``node`` (inner nodes and leaves), sorted, no duplicates."""
        seen: set[str] = set()
        stack = list(self.children.get(node, ()))
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            stack.extend(self.children.get(name, ()))
        return sorted(seen)

    def leaves(self, node: str) -> list[str]:
        """Leaf classes below ``node``, sorted: names with no children of their own.

        A node that lists its own name as a child (COCO supercategory "person" holding class
        "person", or a YAML ``bird: [bird, sparrow]``) also holds the class of that name, which
        then counts as a leaf; otherwise ``leaves("person")`` would be empty.
        """
        return [
            n
            for n in self.descendants(node)
            if n in self.children.get(n, ()) or not self.children.get(n)
        ]


class SourceFile:
    """An input file and its SHA-256 content hash (recorded in every manifest for provenance).

    The hash is either given or, with ``resolve``, computed on first access: a cold index build
    keys its cache by a much faster hash, so the SHA-256 of a multi-GB file is only computed when
    something (a benchmark manifest) records it. Equal when path and hash are equal.
    """

    __slots__ = ("_path", "_resolve", "_sha256")

    def __init__(
        self, path: str, sha256: str | None = None, *, resolve: Callable[[], str] | None = None
    ) -> None:
        if (sha256 is None) == (resolve is None):
            raise TypeError("SourceFile needs exactly one of sha256 and resolve")
        self._path = path
        self._sha256 = sha256
        self._resolve = resolve

    @property
    def path(self) -> str:
        return self._path

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content (computed once, on first access, for lazy files)."""
        if self._sha256 is None:
            assert self._resolve is not None
            self._sha256 = self._resolve()
            self._resolve = None
        return self._sha256

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceFile):
            return NotImplemented
        return (self.path, self.sha256) == (other.path, other.sha256)

    def __hash__(self) -> int:
        return hash((self.path, self.sha256))

    def __repr__(self) -> str:
        shown = self._sha256 if self._sha256 is not None else "<not computed yet>"
        return f"SourceFile(path={self.path!r}, sha256={shown!r})"


@dataclass(frozen=True)
class SourceData:
    """A fully read source: the four tables above plus hierarchy and provenance."""

    kind: SourceKind
    images: pl.DataFrame
    classes: pl.DataFrame
    boxes: pl.DataFrame
    hierarchy: Hierarchy
    files: tuple[SourceFile, ...]
    image_root: Path | None
    labels: pl.DataFrame | None = None
