"""Index build for huge box tables (OpenImages train: ~14.6M rows) with the polars streaming engine.

One streaming pass over the box CSV groups the boxes by (image, class) and, in the same pass,
validates them (an invalid row gets area -1, so its pair's minimum area flags it). Only the per-pair result (a few million rows at most) is materialised; dense
``image_idx`` values are assigned afterwards on that small table. The boxes themselves are never
held in memory, which keeps peak RSS low.

Grouping by two string keys costs more than parsing the numbers, so the pass groups by integers:
``LabelName`` is parsed straight into an Enum of the class list (its code is ``class_idx``) and
``ImageID`` becomes its 64-bit value
(real ImageIDs are 16 lowercase hex digits, whose numeric order is their string order). A file
with any other ImageID format is grouped by the raw strings instead (same result, slower).
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import INDEX_SCHEMA, AnnotationIndex, aggregate_boxes
from mimicgen.sources.openimages import OpenImagesScan, collect_checked, number_rows

__all__ = ["build_index_streaming"]


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
    keys = ("image", "class_idx")
    pairs = collect_checked(aggregate_boxes(scan.keyed, rules, keys=keys, sort=False), scan)
    # A row that failed a check has area_frac -1 (see scan.keyed), so its pair's minimum is < 0.
    if (pairs.get_column("min_area_frac") < 0).any():
        scan.fail_on_bad_rows()  # rescans to name the first offending row; raises
    if pairs.get_column("image").null_count():
        return None  # some ImageID is not 16 lowercase hex digits
    # One sort of two integer keys gives the final row order, and image_idx is then simply the
    # run number of each image (no separate rank, no second sort).
    pairs = pairs.sort(keys)
    image = pairs.get_column("image").to_numpy()
    first = np.empty(image.size, dtype=bool)
    first[:1] = True
    np.not_equal(image[1:], image[:-1], out=first[1:])
    image_idx = np.cumsum(first, dtype=np.uint32) - np.uint32(1)
    pairs = pairs.with_columns(pl.Series("image_idx", image_idx))
    source_id = _hex16(image[first])
    images = pl.DataFrame(
        {
            "image_idx": np.arange(source_id.len(), dtype=np.uint32),
            "source_id": source_id,
            "file_name": source_id + ".jpg",
            "width": pl.repeat(None, source_id.len(), dtype=pl.Int32, eager=True),
            "height": pl.repeat(None, source_id.len(), dtype=pl.Int32, eager=True),
        }
    )
    return pairs, images


#: ASCII codes of the 16 lowercase hex digits, indexed by digit value.
_HEX_ASCII = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _hex16(values: np.ndarray) -> pl.Series:
    """UInt64 values as 16-digit lowercase hex strings (the ImageID format), vectorised.

    The big-endian bytes of each value are split into nibbles and mapped to ASCII in one numpy
    gather; the (n, 16) byte matrix is then viewed as n fixed-width strings.
    """
    be = values.astype(">u8").view(np.uint8).reshape(-1, 8)
    nibbles = np.empty((be.shape[0], 16), dtype=np.uint8)
    nibbles[:, 0::2] = be >> 4
    nibbles[:, 1::2] = be & 15
    text = _HEX_ASCII[nibbles].view("S16").ravel()
    return pl.Series(text, dtype=pl.Binary).cast(pl.String)


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
