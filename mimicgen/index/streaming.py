"""Index build for huge box tables (OpenImages train: ~14.6M rows) straight from the lazy CSV scan.

One streaming pass over the box CSV parses and validates the boxes (an invalid row gets area -1,
so one ``min`` flags it) and keeps only a narrow integer-keyed view of them: ``LabelName`` is
parsed straight into an Enum of the class list (its code is ``class_idx``) and ``ImageID``
becomes its 64-bit value (real ImageIDs are 16 lowercase hex digits, whose numeric order is their
string order). The real files are sorted by ImageID, so the boxes of an image are contiguous:
the pass hands over its rows in batches as they are parsed, and numpy aggregates each batch,
image run by image run (an image cut by a batch boundary waits for the next batch), while polars
parses the next ones; no hash table of millions of (image, class) groups, and no full copy of
the rows. Unsorted files are collected whole and take a polars group-by instead. A file with any
other ImageID format is grouped by the raw strings in a streaming group-by (same result, slower).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import (
    INDEX_SCHEMA,
    AnnotationIndex,
    aggregate_boxes,
    aggregate_in_memory,
    run_starts,
)
from mimicgen.sources.openimages import (
    OpenImagesScan,
    collect_checked,
    images_table,
    number_rows,
)

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
    """Fast path: boxes keyed by (ImageID as UInt64, class_idx); None if an ImageID is not
    16 lowercase hex digits.

    Rows sorted by ImageID (the real files) are aggregated batch by batch during the pass
    (:class:`_SortedRuns`); at the first batch out of order the pass stops and the rows are
    collected whole for a polars group-by on the two integer keys (one more pass).

    Returns the pairs sorted by ``(image_idx, class_idx)`` and the images table.
    """
    runs = _SortedRuns(rules)
    verdict: str | None = None
    try:
        for batch in _keyed_batches(scan.keyed):
            verdict = runs.add(batch)
            if verdict is not None:
                break
    except pl.exceptions.PolarsError:
        scan.fail_on_bad_rows()  # a parse failure: rescans to name the offending row; raises
    if verdict == _BAD:
        scan.fail_on_bad_rows()
    if verdict == _NOT_HEX:
        return None
    if verdict == _UNSORTED:
        return _pairs_of_unsorted(scan, rules)
    return runs.finish()


#: Rows per batch of the pass: each is aggregated (numpy, without the GIL) while polars parses
#: the next ones.
_BATCH_ROWS = 1_000_000
#: Why a pass over the keyed rows stopped early.
_BAD, _NOT_HEX, _UNSORTED = "a row failed a check", "an ImageID is not plain hex", "not sorted"


def _keyed_batches(keyed: pl.LazyFrame) -> Iterator[pl.DataFrame]:
    """The keyed rows in file order, in batches as they are parsed (one batch where this
    polars has no ``collect_batches``)."""
    if hasattr(keyed, "collect_batches"):
        yield from keyed.collect_batches(
            chunk_size=_BATCH_ROWS, maintain_order=True, engine="streaming"
        )
    else:  # pragma: no cover - older polars
        yield keyed.collect(engine="streaming")


class _SortedRuns:
    """Aggregates batches of keyed rows sorted by ImageID, image run by image run.

    The rows of the last image of a batch are carried into the next batch (the image may go on
    there), so every image is aggregated once, whole; ``image_idx`` is the image's run number
    over the whole file, and its hex ImageID is formatted per batch as well.
    """

    def __init__(self, rules: PresenceRules) -> None:
        self.rules = rules
        self.pairs: list[pl.DataFrame] = []
        self.ids: list[pl.Series] = []
        self.n_images = 0
        self.carry: pl.DataFrame | None = None

    def add(self, batch: pl.DataFrame) -> str | None:
        """Aggregate the images a batch completes; why the pass must stop, if it must."""
        if batch.height == 0:
            return None
        if (batch.get_column("area_frac") < 0).any():
            return _BAD
        if batch.get_column("image").null_count():
            return _NOT_HEX
        # One chunk per column: numpy views of chunked columns are slow copies.
        rows = (pl.concat([self.carry, batch]) if self.carry is not None else batch).rechunk()
        image = rows.get_column("image").to_numpy()
        if not bool((image[1:] >= image[:-1]).all()):  # the carried image first: covers the seam
            return _UNSORTED
        starts = np.flatnonzero(run_starts(image))
        last = int(starts[-1])
        self.carry = rows.slice(last)
        self._aggregate(rows.slice(0, last), image, starts[:-1])
        return None

    def _aggregate(self, rows: pl.DataFrame, image: np.ndarray, starts: np.ndarray) -> None:
        """Aggregate whole images: ``rows`` starts with an image, ``starts`` are its runs."""
        if rows.height == 0:
            return
        numbered = rows.select(
            _run_numbers(starts, rows.height, self.n_images), "class_idx", "area_frac", "is_group"
        )
        self.n_images += starts.size
        self.pairs.append(aggregate_in_memory(numbered, self.rules))
        self.ids.append(_hex16(image[starts]))

    def finish(self) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The pairs in (image_idx, class_idx) order and the images table."""
        if self.carry is not None:
            image = self.carry.get_column("image").to_numpy()
            self._aggregate(self.carry, image, np.zeros(1, dtype=np.int64))
            self.carry = None
        if not self.pairs:
            return pl.DataFrame(schema=INDEX_SCHEMA), _images(np.zeros(0, dtype=np.uint64))
        return pl.concat(self.pairs), images_table(pl.concat(self.ids))


def _pairs_of_unsorted(
    scan: OpenImagesScan, rules: PresenceRules
) -> tuple[pl.DataFrame, pl.DataFrame] | None:
    """The keyed rows collected whole, grouped by a polars group-by on the two integer keys
    and sorted; None if an ImageID is not 16 lowercase hex digits."""
    boxes = collect_checked(scan.keyed, scan)
    if (boxes.get_column("area_frac") < 0).any():
        scan.fail_on_bad_rows()  # rescans to name the first offending row; raises
    if boxes.get_column("image").null_count():
        return None
    keys = ("image", "class_idx")
    pairs = aggregate_boxes(boxes.lazy(), rules, keys=keys, sort=False).collect().sort(keys)
    image = pairs.get_column("image").to_numpy()
    starts = np.flatnonzero(run_starts(image))
    return pairs.with_columns(_run_numbers(starts, image.size)), _images(image[starts])


def _run_numbers(starts: np.ndarray, size: int, first: int = 0) -> pl.Series:
    """``image_idx`` of ``size`` rows whose image runs start at ``starts``, numbered from
    ``first``: each number repeated over its run's length (one fill, where a cumulative sum
    over run-start flags is ~3x slower)."""
    lengths = np.diff(starts, append=size)
    numbers = np.arange(first, first + starts.size, dtype=np.uint32)
    return pl.Series("image_idx", np.repeat(numbers, lengths))


def _images(ids: np.ndarray) -> pl.DataFrame:
    """The images table for sorted, distinct 64-bit ImageIDs (``image_idx`` = position)."""
    return images_table(_hex16(ids))


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
