"""Index build for huge box tables (OpenImages train: ~14.6M rows) with the polars streaming engine.

One streaming pass over the box CSV groups the boxes by (image, class) and, in the same pass,
counts invalid rows. Only the per-pair result (a few million rows at most) is materialised; dense
``image_idx`` values are assigned afterwards on that small table. The boxes themselves are never
held in memory, which keeps peak RSS low.

Grouping by two string keys costs more than parsing the numbers, so the pass groups by integers:
``LabelName`` becomes its ``class_idx`` (a 600-entry lookup) and ``ImageID`` its 64-bit value
(real ImageIDs are 16 lowercase hex digits, whose numeric order is their string order). A file
with any other ImageID format is grouped by the raw strings instead (same result, slower).
"""

from __future__ import annotations

import polars as pl

from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import INDEX_SCHEMA, AnnotationIndex, aggregate_boxes
from mimicgen.sources.openimages import OpenImagesScan, collect_checked, number_rows

__all__ = ["build_index_streaming"]

_HEX_ID = r"^[0-9a-f]{16}$"
_HEX_DIGITS = list("0123456789abcdef")


def build_index_streaming(scan: OpenImagesScan, rules: PresenceRules) -> AnnotationIndex:
    """Aggregate a lazily scanned OpenImages box CSV into an :class:`AnnotationIndex`."""
    numbered = _pairs_by_integer_ids(scan, rules)  # already in (image_idx, class_idx) order
    if numbered is None:  # some ImageID is not 16 lowercase hex digits
        table, images = _pairs_by_string_ids(scan, rules)
        table = table.sort("image_idx", "class_idx")
    else:
        table, images = numbered
    table = table.select(list(INDEX_SCHEMA)).cast(INDEX_SCHEMA)  # type: ignore[arg-type]
    return AnnotationIndex(
        kind="openimages",
        images=images,
        classes=scan.classes,
        table=table,
        hierarchy=scan.hierarchy,
        files=scan.files,
        image_root=scan.image_root,
        rules=rules,
        labels=scan.labels(images),
    )


def _pairs_by_integer_ids(
    scan: OpenImagesScan, rules: PresenceRules
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """Fast path: group by (ImageID as UInt64, class_idx); None if an ImageID is not plain hex.

    Returns the pairs sorted by ``(image_idx, class_idx)`` and the images table.
    """
    lookup = dict(zip(scan.classes["source_class_id"], scan.classes["class_idx"], strict=True))
    class_idx = pl.col("LabelName").replace_strict(lookup, default=None, return_dtype=pl.UInt32)
    keyed = scan.boxes.with_columns(
        pl.col("ImageID").str.to_integer(base=16, strict=False, dtype=pl.UInt64).alias("image"),
        class_idx.alias("class_idx"),
        (~pl.col("ImageID").str.contains(_HEX_ID)).fill_null(True).alias("odd_id"),
    ).with_columns((pl.col("bad") | pl.col("class_idx").is_null()).alias("bad"))
    pairs_lf = aggregate_boxes(
        keyed,
        rules,
        keys=("image", "class_idx"),
        extra=[pl.col("bad").sum().alias("n_bad"), pl.col("odd_id").sum().alias("n_odd")],
        sort=False,
    )
    pairs = collect_checked(pairs_lf, scan)
    if pairs.get_column("n_bad").sum():
        scan.fail_on_bad_rows()  # rescans to name the first offending row; raises
    if pairs.get_column("n_odd").sum():
        return None
    # One sort of two integer keys gives the final row order, and image_idx is then simply the
    # run number of each image (no separate rank, no second sort).
    pairs = pairs.sort("image", "class_idx").with_columns(
        pl.col("image").rle_id().cast(pl.UInt32).alias("image_idx")
    )
    ids = pairs.select("image_idx", "image").filter(pl.col("image_idx").is_first_distinct())
    # Back to the 16-digit string, one hex digit per expression (vectorised, 1.7M ids).
    digits = [
        (pl.col("image") // (16 ** (15 - i)) % 16).replace_strict(
            list(range(16)), _HEX_DIGITS, return_dtype=pl.String
        )
        for i in range(16)
    ]
    images = ids.select(
        "image_idx",
        pl.concat_str(digits).alias("source_id"),
    ).select(
        "image_idx",
        "source_id",
        (pl.col("source_id") + ".jpg").alias("file_name"),
        pl.lit(None, dtype=pl.Int32).alias("width"),
        pl.lit(None, dtype=pl.Int32).alias("height"),
    )
    return pairs, images


def _pairs_by_string_ids(
    scan: OpenImagesScan, rules: PresenceRules
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """General path: group by the raw ``(ImageID, LabelName)`` strings, then number them."""
    pairs_lf = aggregate_boxes(
        scan.boxes,
        rules,
        keys=("ImageID", "LabelName"),
        extra=[pl.col("bad").sum().alias("n_bad")],
        sort=False,  # sorting ~millions of string keys costs more than the group-by itself
    )
    pairs = collect_checked(pairs_lf, scan)
    if pairs.get_column("n_bad").sum():
        scan.fail_on_bad_rows()  # rescans to name the first offending row; raises
    return number_rows(pairs, scan)
