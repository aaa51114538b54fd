"""COCO ``instances_*.json`` reader (also used for the synthetic source, which writes COCO format).

The file is decoded by msgspec into typed structs that simply omit ``segmentation`` (the bulk of
a COCO file, see :mod:`~mimicgen.sources.coco_format`), which is several times faster than
``json``/``pycocotools`` and validates types and required keys on the way; large files are
decoded in pieces on several cores (:mod:`~mimicgen.sources.coco_split`). Users who already hold
a :class:`pycocotools.coco.COCO` object can hand it in through :func:`from_coco_api`; both paths
share the same checks and conversion.

Boxes: COCO ``bbox`` is ``[x, y, w, h]`` in pixels; it is normalised by the image size into
``x0, y0, x1, y1`` and ``area_frac = w * h / (W * H)``, i.e. the *box* area, not the COCO
``area`` field (which is the segmentation area and is ignored). ``iscrowd == 1`` marks a group box.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from operator import attrgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import polars as pl

from mimicgen.errors import InputError
from mimicgen.io import sha256_bytes
from mimicgen.sources.base import (
    BOX_SCHEMA,
    CLASS_SCHEMA,
    IMAGE_SCHEMA,
    Hierarchy,
    SourceData,
    SourceFile,
    SourceKind,
)
from mimicgen.sources.coco_format import (
    DECODER,
    AnnotationColumns,
    CocoFile,
    CocoRecords,
    int_column,
)
from mimicgen.sources.coco_split import split_decode
from mimicgen.sources.digest import read_buffer, source_file, take_bytes
from mimicgen.sources.validate import escapes_root_expr, raise_first, require_unique

if TYPE_CHECKING:  # pycocotools is a core dependency, but only needed for type hints here
    from pycocotools.coco import COCO

__all__ = ["BOX_TOLERANCE_PX", "default_image_root", "from_coco_api", "read_coco"]

#: Boxes may overshoot the image border by this many pixels (real COCO has sub-pixel overshoots
#: from rounding); larger overshoots are reported as bad input. Coordinates are then clipped.
BOX_TOLERANCE_PX = 1.0


def default_image_root(annotations: Path) -> Path | None:
    """COCO layout ``<root>/annotations/instances_<split>.json`` -> ``<root>/<split>``.

    Falls back to an ``images/`` folder next to the JSON (the synthetic layout); None if neither
    exists.
    """
    stem = annotations.stem
    if stem.startswith("instances_"):
        candidate = annotations.parent.parent / stem.removeprefix("instances_")
        if candidate.is_dir():
            return candidate
    candidate = annotations.parent / "images"
    return candidate if candidate.is_dir() else None


def read_coco(
    path: str | Path,
    image_root: str | Path | None = None,
    kind: SourceKind = "coco",
    memo_dir: Path | None = None,
) -> SourceData:
    """Read a COCO instances JSON into :class:`SourceData` (raises InputError on bad input).

    The provenance SHA-256 is computed on first use (``memo_dir`` remembers it, see
    :func:`~mimicgen.sources.digest.source_file`).
    """
    path = Path(path)
    raw = take_bytes(path)  # already in memory if the index cache just hashed it
    if raw is None:
        try:
            raw = read_buffer(path)
        except OSError as exc:
            raise InputError(f"{path}: cannot read COCO annotations ({exc.strerror})") from exc
    # Large files are decoded in pieces side by side; the whole-file decode is the fallback,
    # and the one that words any error.
    records = split_decode(raw)
    if records is None:
        try:
            records = CocoRecords.of(DECODER.decode(raw))
        except msgspec.ValidationError as exc:
            raise InputError(f"{path}: invalid COCO annotations: {_where(exc)}") from exc
        except msgspec.DecodeError as exc:
            raise InputError(f"{path}: malformed JSON: {exc}") from exc
    del raw
    root = Path(image_root) if image_root is not None else default_image_root(path)
    files = (source_file(path, memo_dir),)
    return _to_source(records, path, root, files, kind)


def from_coco_api(coco: COCO, image_root: str | Path | None) -> SourceData:
    """Convert an existing ``pycocotools.coco.COCO`` object (its ``dataset`` dict)."""
    label = "pycocotools.COCO"
    try:
        data = msgspec.convert(coco.dataset, CocoFile)
    except msgspec.ValidationError as exc:
        raise InputError(f"{label}: invalid COCO annotations: {_where(exc)}") from exc
    # Provenance hash over the fields that matter, in the object's own order (deterministic).
    files = (SourceFile(path=label, sha256=sha256_bytes(msgspec.json.encode(data))),)
    root = Path(image_root) if image_root else None
    return _to_source(CocoRecords.of(data), label, root, files, "coco")


def _where(exc: msgspec.ValidationError) -> str:
    """msgspec says ``... - at `$.annotations[3].bbox```; rephrase the JSON path as the record."""
    text = str(exc)
    if " - at `$." in text:
        message, at = text.rsplit(" - at `$.", 1)
        if message.startswith(("Expected `int` <=", "Expected `int` >=", "Number out of range")):
            message += " (numbers must fit in 64 bits; fix the value)"
        return f"record {at.rstrip('`')}: {message}"
    return text


def _col(items: Sequence[Any], attr: str, dtype: Any) -> pl.Series:
    """One attribute of every record as a Series (map/attrgetter iterate in C)."""
    return pl.Series(attr, list(map(attrgetter(attr), items)), dtype=dtype)


def _to_source(
    data: CocoRecords,
    path: str | Path,
    image_root: Path | None,
    files: tuple[SourceFile, ...],
    kind: SourceKind,
) -> SourceData:
    cats = pl.DataFrame(
        [
            pl.Series("id", int_column(data.categories, "id")),
            _col(data.categories, "name", pl.String),
            _col(data.categories, "supercategory", pl.String),
        ]
    )
    imgs = pl.DataFrame(
        {
            "id": int_column(data.images, "id"),
            "file_name": _col(data.images, "file_name", pl.String),
            "width": int_column(data.images, "width"),
            "height": int_column(data.images, "height"),
        }
    )
    _check_categories(cats, path)
    _check_images(imgs, path)
    classes = cats.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("class_idx"),
        pl.col("id").alias("source_class_id"),
        pl.col("name"),
        pl.col("supercategory").alias("parent"),
    ).cast(CLASS_SCHEMA)  # type: ignore[arg-type]
    images = imgs.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("image_idx"),
        pl.col("id").alias("source_id"),
        pl.col("file_name"),
        pl.col("width"),
        pl.col("height"),
    ).cast(IMAGE_SCHEMA)  # type: ignore[arg-type]
    return SourceData(
        kind=kind,
        images=images,
        classes=classes,
        boxes=_boxes(data.annotations, imgs, cats, path),
        hierarchy=coco_hierarchy(classes),
        files=files,
        image_root=image_root,
    )


def _positions(keys: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row of ``ids`` (unique) holding each key (int64, -1 where absent) and the found mask.

    The dense index of an image/class is its row number in the (unique, already checked) id
    column, so no join is needed: small non-negative ids (COCO's are) use a direct lookup table,
    any others a binary search over the sorted ids.
    """
    if ids.size == 0:
        return np.full(keys.size, -1, dtype=np.int64), np.zeros(keys.size, dtype=bool)
    lo, hi = int(ids.min()), int(ids.max())
    if lo >= 0 and hi < 4 * ids.size + 1024:  # table of at most ~4 entries per id
        table = np.full(hi + 1, -1, dtype=np.int64)
        table[ids] = np.arange(ids.size)
        if keys.size == 0 or (int(keys.min()) >= 0 and int(keys.max()) <= hi):
            rows = table[keys]  # the usual case: every key within the table
            return rows, rows >= 0
        inside = (keys >= 0) & (keys <= hi)
        rows = np.where(inside, table[np.where(inside, keys, 0)], -1)
        return rows, rows >= 0
    order = np.argsort(ids, kind="stable")
    sorted_ids = ids[order]
    slot = np.minimum(np.searchsorted(sorted_ids, keys), ids.size - 1)
    found = sorted_ids[slot] == keys
    return np.where(found, order[slot], -1), found


def _boxes(
    anns: AnnotationColumns, imgs: pl.DataFrame, cats: pl.DataFrame, path: str | Path
) -> pl.DataFrame:
    """Check the annotations and turn pixel ``[x, y, w, h]`` into normalised, clipped corners.

    Everything is numpy over whole columns: image/class lookups are a table or binary search
    (no joins), and each check is one vectorised mask; only on failure is the first offending
    record formatted.
    """
    ann_id, image_id, category_id, iscrowd, bbox = anns
    n = ann_id.size
    bx, by, bw, bh = (bbox[:, k] for k in range(4))
    image_row, image_found = _positions(image_id, imgs.get_column("id").to_numpy())
    class_row, class_found = _positions(category_id, cats.get_column("id").to_numpy())

    def first(bad: np.ndarray, describe: Callable[[int], str]) -> None:
        if bad.any():
            raise InputError(f"{path}: {describe(int(np.argmax(bad)))}")

    if pl.Series(ann_id).n_unique() != n:
        require_unique(pl.DataFrame({"id": ann_id}), "id", path, "annotation id")
    first(
        ~image_found,
        lambda i: f"annotation id={ann_id[i]} refers to unknown image_id {image_id[i]}",
    )
    first(
        ~class_found,
        lambda i: f"annotation id={ann_id[i]} refers to unknown category_id {category_id[i]}",
    )
    first(
        iscrowd.view(np.uint64) > 1,  # anything but 0 or 1 (negatives wrap around)
        lambda i: f"annotation id={ann_id[i]} has iscrowd={iscrowd[i]} (must be 0 or 1)",
    )

    def box(i: int) -> str:  # Python floats, so the numbers print as in the JSON
        x, y, w, h = (float(v) for v in bbox[i])
        return f"[x={x}, y={y}, w={w}, h={h}]"

    bad_size = (bw <= 0) | (bh <= 0)
    finite = np.isfinite(bbox)
    if not finite.all():  # rare: only then the per-row reduction
        bad_size |= ~finite.all(axis=1)
    first(
        bad_size,
        lambda i: (
            f"annotation id={ann_id[i]} has a box with non-positive size {box(i)}; fix or remove it"
        ),
    )
    width = imgs.get_column("width").to_numpy()[image_row]
    height = imgs.get_column("height").to_numpy()[image_row]
    w = width.astype(np.float64)
    h = height.astype(np.float64)
    tol = BOX_TOLERANCE_PX
    right, bottom = bx + bw, by + bh
    first(
        (bx < -tol) | (by < -tol) | (right > w + tol) | (bottom > h + tol),
        lambda i: (
            f"annotation id={ann_id[i]} box {box(i)} lies outside its image "
            f"id={image_id[i]} ({width[i]}x{height[i]}); fix or remove it"
        ),
    )
    no = np.zeros(n, dtype=bool)
    return pl.DataFrame(
        {
            "image_idx": image_row.astype(np.uint32),
            "class_idx": class_row.astype(np.uint32),
            "x0": _unit(bx / w),
            "y0": _unit(by / h),
            "x1": _unit(right / w),
            "y1": _unit(bottom / h),
            "area_frac": bw * bh / (w * h),  # float64: compared with the area threshold
            "is_group": iscrowd == 1,
            "is_occluded": no,
            "is_truncated": no,
            "is_depiction": no,
        },
        schema=BOX_SCHEMA,
    )


def _unit(values: np.ndarray) -> np.ndarray:
    """Clip a fresh float64 array to [0, 1] in place and store it as Float32."""
    return np.clip(values, 0.0, 1.0, out=values).astype(np.float32)


def coco_hierarchy(classes: pl.DataFrame) -> Hierarchy:
    """Supercategory -> its classes (file order). Classes without a supercategory are roots."""
    grouped = (
        classes.filter(pl.col("parent").is_not_null())
        .group_by("parent", maintain_order=True)
        .agg(pl.col("name"))
    )
    return Hierarchy(children={row[0]: tuple(row[1]) for row in grouped.iter_rows()})


def _check_categories(cats: pl.DataFrame, path: str | Path) -> None:
    require_unique(cats, "id", path, "category id")
    require_unique(cats, "name", path, "category name")


def _check_images(imgs: pl.DataFrame, path: str | Path) -> None:
    require_unique(imgs, "id", path, "image id")
    raise_first(
        imgs,
        (pl.col("width") <= 0) | (pl.col("height") <= 0),
        path,
        lambda r: f"image id={r['id']} has non-positive size {r['width']}x{r['height']}",
    )
    raise_first(
        imgs,
        escapes_root_expr("file_name"),
        path,
        lambda r: (
            f"image id={r['id']} file_name {r['file_name']!r} escapes the image root "
            "(absolute, empty or '..' paths are not allowed); use a path relative to the image root"
        ),
    )
