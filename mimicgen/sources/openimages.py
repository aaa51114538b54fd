"""OpenImages V7 reader: box CSV (lazy polars scan), class names, hierarchy, image-level labels.

The box CSV of the train split has ~14.6M rows, so it is only ever scanned lazily with polars
(no Python loop over rows). :func:`scan_openimages` validates the small side files eagerly and
returns the box table as a :class:`polars.LazyFrame`; :func:`read_openimages` materialises it into
a :class:`SourceData`, while the index builder (:mod:`mimicgen.index.streaming`) aggregates it with
the streaming engine without ever holding all boxes in memory.

Coordinates are already normalised (``XMin..YMax`` in 0..1); ``area_frac`` is the box area;
``IsGroupOf == 1`` marks a group box; the other flags are True only where the CSV says 1
(OpenImages uses -1 for "unknown"). Images have ``file_name = f"{ImageID}.jpg"`` and null sizes.
Image ids are numbered (``image_idx``) in sorted ``ImageID`` order, so the numbering depends only on
the file content.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

import polars as pl

from mimicgen.errors import InputError
from mimicgen.sources.base import (
    BOX_SCHEMA,
    CLASS_SCHEMA,
    LABEL_SCHEMA,
    Hierarchy,
    SourceData,
    SourceFile,
)
from mimicgen.sources.digest import source_file
from mimicgen.sources.validate import raise_first, require_unique

__all__ = [
    "BOX_COLUMNS",
    "ROOT_LABEL",
    "OpenImagesScan",
    "images_table",
    "number_rows",
    "read_classes_csv",
    "read_hierarchy_json",
    "read_openimages",
    "scan_openimages",
]

#: Box CSV columns mimicgen reads, with their parse types (other columns are skipped).
#: Coordinates parse as Float64 so ``area_frac`` (compared with the area threshold) is the float64
#: product of the file's decimals; the stored coordinates are Float32 (``BOX_SCHEMA``).
BOX_COLUMNS: dict[str, Any] = {
    "ImageID": pl.String,
    "LabelName": pl.String,
    "XMin": pl.Float64,
    "XMax": pl.Float64,
    "YMin": pl.Float64,
    "YMax": pl.Float64,
    "IsOccluded": pl.Int8,
    "IsTruncated": pl.Int8,
    "IsGroupOf": pl.Int8,
    "IsDepiction": pl.Int8,
}
_FLAGS = ("IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction")
_COORDS = ("XMin", "XMax", "YMin", "YMax")
#: Characters that base-16 integer parsing accepts but a real ImageID (16 lowercase hex
#: digits) never has.
_NOT_LOWER_HEX = r"[A-F+]"
LABEL_COLUMNS: dict[str, Any] = {
    "ImageID": pl.String,
    "LabelName": pl.String,
    "Confidence": pl.Float32,
}

#: The hierarchy root ``/m/0bl9f`` is not a boxable class; it is named "Entity".
ROOT_LABEL = "/m/0bl9f"
ROOT_NAME = "Entity"


@dataclass(frozen=True)
class OpenImagesScan:
    """Validated side files plus the lazily scanned, not yet validated box CSV.

    ``boxes`` has the raw keys ``ImageID``/``LabelName`` plus ``area_frac``, ``is_group``,
    the three other flags, the normalised corners, and ``bad`` (True for an invalid row).
    ``keyed`` is the narrow integer-keyed view the index pass aggregates (:func:`_scan_keyed`).
    """

    boxes_csv: Path
    classes: pl.DataFrame
    hierarchy: Hierarchy
    files: tuple[SourceFile, ...]
    boxes: pl.LazyFrame
    keyed: pl.LazyFrame
    labels_csv: Path | None
    image_root: Path | None

    def fail_on_bad_rows(self) -> NoReturn:
        """Rescan the box CSV as text to report the first bad row (error path only)."""
        _raise_first_bad_box(self.boxes_csv, self.classes)

    def labels(self, images: pl.DataFrame) -> pl.DataFrame | None:
        """Image-level labels restricted to known images and boxable classes, or None."""
        if self.labels_csv is None:
            return None
        return _read_labels(self.labels_csv, images, self.classes)


def scan_openimages(
    boxes_csv: str | Path,
    classes_csv: str | Path,
    hierarchy_json: str | Path | None = None,
    labels_csv: str | Path | None = None,
    image_root: str | Path | None = None,
    memo_dir: Path | None = None,
) -> OpenImagesScan:
    """Validate the side files and the box CSV header; return the lazily scanned boxes."""
    boxes_csv = Path(boxes_csv)
    _require_header(boxes_csv, list(BOX_COLUMNS))
    classes = read_classes_csv(classes_csv)
    hierarchy = (
        read_hierarchy_json(hierarchy_json, classes) if hierarchy_json is not None else Hierarchy()
    )
    if labels_csv is not None:
        _require_header(Path(labels_csv), list(LABEL_COLUMNS))
    paths = [Path(p) for p in (boxes_csv, classes_csv, hierarchy_json, labels_csv) if p]
    files = tuple(source_file(p, memo_dir) for p in paths)  # SHA-256 computed when first used
    return OpenImagesScan(
        boxes_csv=boxes_csv,
        classes=classes,
        hierarchy=hierarchy,
        files=files,
        boxes=_scan_boxes(boxes_csv),
        keyed=_scan_keyed(boxes_csv, classes),
        labels_csv=Path(labels_csv) if labels_csv is not None else None,
        image_root=Path(image_root) if image_root is not None else None,
    )


def read_openimages(
    boxes_csv: str | Path,
    classes_csv: str | Path,
    hierarchy_json: str | Path | None = None,
    labels_csv: str | Path | None = None,
    image_root: str | Path | None = None,
) -> SourceData:
    """Read OpenImages CSVs into a :class:`SourceData` (the whole box table in memory)."""
    scan = scan_openimages(boxes_csv, classes_csv, hierarchy_json, labels_csv, image_root)
    raw = collect_checked(scan.boxes, scan)
    if raw.get_column("bad").any():
        scan.fail_on_bad_rows()
    numbered, images = number_rows(raw, scan)
    boxes = numbered.select(list(BOX_SCHEMA)).cast(BOX_SCHEMA)  # type: ignore[arg-type]
    return SourceData(
        kind="openimages",
        images=images,
        classes=scan.classes,
        boxes=boxes,
        hierarchy=scan.hierarchy,
        files=scan.files,
        image_root=scan.image_root,
        labels=scan.labels(images),
    )


def collect_checked(frame: pl.LazyFrame, scan: OpenImagesScan) -> pl.DataFrame:
    """Collect with the streaming engine; a CSV parse failure becomes a row-level InputError."""
    try:
        return frame.collect(engine="streaming")
    except pl.exceptions.PolarsError:
        scan.fail_on_bad_rows()


def number_rows(frame: pl.DataFrame, scan: OpenImagesScan) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Add dense ``image_idx`` (sorted ImageID order) and ``class_idx`` to rows with raw ids.

    Returns ``(frame, images)``. A dense rank avoids joining millions of rows on string keys;
    an unknown LabelName (null class) sends the caller to the row-level error report.
    """
    lookup = dict(zip(scan.classes["source_class_id"], scan.classes["class_idx"], strict=True))
    frame = frame.with_columns(
        _sorted_order(frame.get_column("ImageID")).alias("image_idx"),
        pl.col("LabelName")
        .replace_strict(lookup, default=None, return_dtype=pl.UInt32)
        .alias("class_idx"),
    )
    if frame.get_column("class_idx").null_count():
        scan.fail_on_bad_rows()
    ids = (  # one row per image; is_first_distinct is much cheaper than unique(subset=...)
        frame.select("image_idx", pl.col("ImageID").alias("source_id"))
        .filter(pl.col("image_idx").is_first_distinct())
        .sort("image_idx")
    )
    raise_first(
        ids,
        pl.col("source_id").str.contains(r"[/\\:]") | pl.col("source_id").is_in(["", ".", ".."]),
        scan.boxes_csv,
        lambda r: (
            f"ImageID {r['source_id']!r} is not a plain file stem (contains a path "
            "separator, ':' or is '..'); fix that ImageID"
        ),
    )
    return frame, images_table(ids.get_column("source_id"))


def images_table(source_id: pl.Series) -> pl.DataFrame:
    """The images table of sorted, distinct ImageIDs (``image_idx`` = position)."""
    n = source_id.len()
    return pl.DataFrame(
        {
            "image_idx": pl.int_range(n, dtype=pl.UInt32, eager=True),
            "source_id": source_id,
            "file_name": source_id + ".jpg",
            "width": pl.repeat(None, n, dtype=pl.Int32, eager=True),
            "height": pl.repeat(None, n, dtype=pl.Int32, eager=True),
        }
    )


def _sorted_order(ids: pl.Series) -> pl.Series:
    """Dense 0-based rank of each id in sorted string order (UInt32).

    Real ImageIDs are 16 lowercase hex digits; for those, the numeric value orders exactly like
    the string, and ranking 64-bit integers is ~15x faster than ranking millions of strings.
    Any other id format falls back to the string rank (same result, slower).
    """
    as_int = ids.str.to_integer(base=16, strict=False, dtype=pl.UInt64)
    plain_hex = (
        as_int.null_count() == 0
        and ids.str.len_bytes().min() == ids.str.len_bytes().max() == 16
        and not ids.str.contains(_NOT_LOWER_HEX).any()
    )
    ranked = as_int if plain_hex else ids
    return (ranked.rank("dense") - 1).cast(pl.UInt32)


def read_classes_csv(path: str | Path) -> pl.DataFrame:
    """``LabelName,DisplayName`` (header optional, as in older releases) -> CLASS_SCHEMA table."""
    path = Path(path)
    first = _first_row(path)
    has_header = first[:2] == ["LabelName", "DisplayName"]
    try:
        raw = pl.read_csv(
            path,
            has_header=has_header,
            new_columns=["LabelName", "DisplayName"],
            schema_overrides=[pl.String, pl.String],
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: malformed class CSV: {str(exc).splitlines()[0]}") from exc
    if raw.width != 2:
        raise InputError(f"{path}: expected two columns LabelName,DisplayName, got {raw.width}")
    rows = raw.with_row_index("line", offset=2 if has_header else 1)
    raise_first(
        rows,
        pl.col("LabelName").is_null() | pl.col("DisplayName").is_null(),
        path,
        lambda r: f"line {r['line']}: empty LabelName or DisplayName",
    )
    require_unique(raw, "LabelName", path, "LabelName")
    require_unique(raw, "DisplayName", path, "DisplayName")
    return raw.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("class_idx"),
        pl.col("LabelName").alias("source_class_id"),
        pl.col("DisplayName").alias("name"),
        pl.lit(None, dtype=pl.String).alias("parent"),
    ).cast({**CLASS_SCHEMA, "source_class_id": pl.String})  # type: ignore[arg-type,dict-item]


def read_hierarchy_json(path: str | Path, classes: pl.DataFrame) -> Hierarchy:
    """``bbox_labels_600_hierarchy.json`` -> name tree (``Subcategory`` edges only).

    ``Part`` edges (e.g. a face is part of a person) are not "is-a" relations and are skipped.
    Nodes reached twice (a class under two parents) get the union of their children.
    """
    path = Path(path)
    try:
        tree = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: cannot read hierarchy JSON: {exc}") from exc
    names = dict(zip(classes["source_class_id"], classes["name"], strict=True))
    names.setdefault(ROOT_LABEL, ROOT_NAME)
    children: dict[str, list[str]] = {}
    stack: list[tuple[Any, str]] = [(tree, "$")]
    while stack:  # iterative walk over the (small, ~850-node) tree
        node, where = stack.pop()
        if not isinstance(node, dict) or not isinstance(node.get("LabelName"), str):
            raise InputError(f"{path}: node {where} has no LabelName string; fix the hierarchy")
        label = node["LabelName"]
        if label not in names:
            raise InputError(
                f"{path}: node {where} has LabelName {label!r} that is not in the class CSV"
            )
        subs = node.get("Subcategory", [])
        if not isinstance(subs, list):
            raise InputError(f"{path}: node {where} ({label}) has a non-list Subcategory")
        kids = children.setdefault(names[label], [])
        for i, sub in enumerate(subs):
            child_label = sub.get("LabelName") if isinstance(sub, dict) else None
            if child_label in names and names[child_label] not in kids:
                kids.append(names[child_label])
            stack.append((sub, f"{where}.Subcategory[{i}]"))
        for i, part in enumerate(node.get("Part", []) or []):
            stack.append((part, f"{where}.Part[{i}]"))
    return Hierarchy(children={k: tuple(v) for k, v in children.items() if v})


def _first_row(path: Path) -> list[str]:
    try:
        with path.open(newline="", encoding="utf-8") as f:
            return next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"{path}: cannot read CSV: {exc}") from exc


def _require_header(path: Path, required: list[str]) -> None:
    header = _first_row(path)
    if not header:
        raise InputError(f"{path}: empty CSV; expected a header with {', '.join(required)}")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"{path}: header lacks column(s) {', '.join(missing)}; expected the OpenImages "
            f"columns {', '.join(required)}"
        )


def _row_ok() -> pl.Expr:
    """The value checks of a box row (both scans): coordinates in [0, 1] with positive size,
    flags in {-1, 0, 1}, ImageID and LabelName present. Null (unparsable) counts as failing."""
    x0, x1, y0, y1 = (pl.col(c) for c in _COORDS)
    return (
        pl.all_horizontal(pl.col(*_COORDS).is_between(0.0, 1.0))
        & (x0 < x1)
        & (y0 < y1)
        & pl.all_horizontal(pl.col(*_FLAGS).is_in([-1, 0, 1]))
        & pl.col("ImageID").is_not_null()
        & pl.col("LabelName").is_not_null()
    )


def _scan_boxes(path: Path) -> pl.LazyFrame:
    """Lazy box rows with derived columns; ``bad`` flags any row that fails a value check."""
    x0, x1, y0, y1 = (pl.col(c) for c in ("XMin", "XMax", "YMin", "YMax"))
    ok = _row_ok()
    return (
        pl.scan_csv(path, schema_overrides=BOX_COLUMNS, infer_schema=False)
        .select(list(BOX_COLUMNS))
        .select(
            "ImageID",
            "LabelName",
            *(
                c.cast(pl.Float32).alias(n)
                for c, n in ((x0, "x0"), (y0, "y0"), (x1, "x1"), (y1, "y1"))
            ),
            ((x1 - x0) * (y1 - y0)).alias("area_frac"),  # float64, from the parsed decimals
            (pl.col("IsGroupOf") == 1).fill_null(False).alias("is_group"),
            (pl.col("IsOccluded") == 1).fill_null(False).alias("is_occluded"),
            (pl.col("IsTruncated") == 1).fill_null(False).alias("is_truncated"),
            (pl.col("IsDepiction") == 1).fill_null(False).alias("is_depiction"),
            (~ok).fill_null(True).alias("bad"),
        )
    )


def _scan_keyed(path: Path, classes: pl.DataFrame) -> pl.LazyFrame:
    """Box rows keyed by integers, for the index pass; the checks of ``_scan_boxes`` folded in.

    * ``LabelName`` is parsed as an Enum of the class list, so the parser itself turns it into
      ``class_idx`` (its physical code is the position in the list) and an unknown label fails
      the scan (reported by the row-level rescan);
    * ``image`` is the ImageID's 64-bit value where it is 16 lowercase hex digits (the real
      format; its numeric order is the string order), else null (grouped by strings instead);
    * ``area_frac`` is -1 for a row that fails a value check, so one ``min`` per group both
      aggregates and validates (no separate bad-row count);
    * ``is_group`` as in ``_scan_boxes``.
    """
    x0, x1, y0, y1 = (pl.col(c) for c in _COORDS)
    ok = _row_ok()
    image_id = pl.col("ImageID")
    schema = {**BOX_COLUMNS, "LabelName": pl.Enum(classes.get_column("source_class_id"))}
    return (
        pl.scan_csv(path, schema_overrides=schema, infer_schema=False)
        .select(list(BOX_COLUMNS))
        .select(
            # 16 bytes that parse as hex, without upper case or sign: 16 lowercase hex digits
            # (cheaper than an anchored regex over every row).
            pl.when((image_id.str.len_bytes() == 16) & ~image_id.str.contains(_NOT_LOWER_HEX))
            .then(image_id.str.to_integer(base=16, dtype=pl.UInt64, strict=False))
            .alias("image"),
            pl.col("LabelName").to_physical().cast(pl.UInt32).alias("class_idx"),
            pl.when(ok)
            .then((x1 - x0) * (y1 - y0))
            .otherwise(pl.lit(-1.0, dtype=pl.Float64))
            .alias("area_frac"),
            (pl.col("IsGroupOf") == 1).fill_null(False).alias("is_group"),
        )
    )


def _raise_first_bad_box(path: Path, classes: pl.DataFrame) -> NoReturn:
    """Find the first offending row by rescanning everything as text; always raises."""
    text = pl.scan_csv(path, infer_schema=False, row_index_name="_row")
    nums = {c: pl.col(c).cast(pl.Float64, strict=False) for c in (*_COORDS, *_FLAGS)}
    unparsable = pl.any_horizontal([pl.col(c).is_not_null() & nums[c].is_null() for c in nums])
    known = classes.get_column("source_class_id").implode()
    reason = (
        pl.when(pl.col("ImageID").is_null() | pl.col("LabelName").is_null())
        .then(pl.lit("empty ImageID or LabelName"))
        .when(unparsable)
        .then(pl.lit("a coordinate or flag is not a number"))
        .when(pl.any_horizontal([nums[c].is_null() for c in nums]))
        .then(pl.lit("a coordinate or flag is empty"))
        .when(~pl.all_horizontal([nums[c].is_between(0.0, 1.0) for c in _COORDS]))
        .then(pl.lit("a coordinate lies outside [0, 1]"))
        .when((nums["XMin"] >= nums["XMax"]) | (nums["YMin"] >= nums["YMax"]))
        .then(pl.lit("non-positive box size (needs XMin < XMax and YMin < YMax)"))
        .when(~pl.all_horizontal([nums[c].is_in([-1.0, 0.0, 1.0]) for c in _FLAGS]))
        .then(pl.lit("a flag column is not 0, 1 or -1"))
        .when(~pl.col("LabelName").is_in(known))
        .then(pl.format("unknown LabelName {} (not in the class CSV)", pl.col("LabelName")))
    )
    try:
        hit = (
            text.select("_row", "ImageID", "LabelName", *_COORDS, *_FLAGS, reason.alias("why"))
            .filter(pl.col("why").is_not_null())
            .head(1)
            .collect(engine="streaming")
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: malformed CSV: {str(exc).splitlines()[0]}") from exc
    if hit.height == 0:  # pragma: no cover - the fast path flagged something the rescan cannot
        raise InputError(f"{path}: malformed box CSV (could not locate the offending row)")
    r = hit.row(0, named=True)
    raise InputError(
        f"{path}: line {r['_row'] + 2} (ImageID={r['ImageID']}, LabelName={r['LabelName']}, "
        f"XMin={r['XMin']}, XMax={r['XMax']}, YMin={r['YMin']}, YMax={r['YMax']}): {r['why']}; "
        "fix or remove that row"
    )


def _read_labels(path: Path, images: pl.DataFrame, classes: pl.DataFrame) -> pl.DataFrame:
    """Image-level labels; rows for non-boxable classes or images without boxes are dropped."""
    ok = pl.col("Confidence").is_between(0.0, 1.0) & pl.col("ImageID").is_not_null()
    try:
        raw = (
            pl.scan_csv(
                path, schema_overrides=LABEL_COLUMNS, infer_schema=False, row_index_name="_row"
            )
            .select("_row", *LABEL_COLUMNS, (~ok).fill_null(True).alias("bad"))
            .collect(engine="streaming")
        )
    except pl.exceptions.PolarsError as exc:
        raise InputError(f"{path}: malformed labels CSV: {str(exc).splitlines()[0]}") from exc
    raise_first(
        raw,
        pl.col("bad"),
        path,
        lambda r: (
            f"line {r['_row'] + 2} (ImageID={r['ImageID']}, LabelName={r['LabelName']}): "
            f"Confidence {r['Confidence']} is not in [0, 1]"
        ),
    )
    return (
        raw.join(images.select(pl.col("source_id").alias("ImageID"), "image_idx"), on="ImageID")
        .join(
            classes.select(pl.col("source_class_id").alias("LabelName"), "class_idx"),
            on="LabelName",
        )
        .select("image_idx", "class_idx", pl.col("Confidence").alias("confidence"))
        .sort("image_idx", "class_idx", "confidence")
        .cast(LABEL_SCHEMA)  # type: ignore[arg-type]
    )
