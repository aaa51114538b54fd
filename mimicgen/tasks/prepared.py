"""Numpy views of an :class:`AnnotationIndex`, built once and shared by every sampler.

Samplers never filter a polars frame per query: they work on these arrays with searchsorted and
slicing, which keeps a query at tens of microseconds on a COCO-train-scale index.

Layout: every *present* (image, class) pair (a box, or an OpenImages positive image-level label)
is one row of the ``pair_*`` arrays, sorted by (image, class); ``img_offsets`` is the CSR index
by image. ``by_class`` is a permutation of the rows sorted by (class, image) with
``cls_offsets`` as its CSR index, so each class's present images come out sorted.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from mimicgen.errors import SpecError
from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import AnnotationIndex
from mimicgen.sources.base import Hierarchy
from mimicgen.tasks.derive import ClassFact

__all__ = ["PreparedIndex", "in_sorted", "narrow", "prepare", "rows_of_images"]


def in_sorted(sorted_arr: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Boolean mask: which ``values`` occur in the ascending array ``sorted_arr``."""
    if sorted_arr.size == 0:
        return np.zeros(np.shape(values), dtype=bool)
    pos = np.searchsorted(sorted_arr, values)
    pos = np.minimum(pos, sorted_arr.size - 1)
    return sorted_arr[pos] == values


def rows_of_images(offsets: np.ndarray, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair rows of the given images (CSR gather): ``(rows, owner)`` where ``owner[j]`` is the
    position in ``images`` that row ``rows[j]`` belongs to."""
    images = np.asarray(images, dtype=np.int64)
    starts = offsets[images]
    lens = offsets[images + 1] - starts
    owner = np.repeat(np.arange(images.size), lens)
    # Output row j of image i is its pair row starts[i] + (j - first output row of i).
    shift = starts - (np.cumsum(lens) - lens)
    return np.arange(owner.size) + shift[owner], owner


@dataclass
class PreparedIndex:
    """Flat arrays over an index plus lazily built per-class candidate lists (memoised)."""

    kind: str
    rules: PresenceRules
    n_images: int
    class_names: list[str]
    name_to_idx: dict[str, int]
    image_ids: np.ndarray
    """Dense image_idx of every image in the source (sorted)."""
    source_ids: list[int | str]
    """By image_idx: the source's own image id."""
    file_names: list[str]
    """By image_idx: file name relative to the image root."""
    pair_img: np.ndarray
    pair_cls: np.ndarray
    pair_inst: np.ndarray
    pair_rec: np.ndarray
    pair_small: np.ndarray
    pair_group: np.ndarray
    img_offsets: np.ndarray
    by_class: np.ndarray
    cls_offsets: np.ndarray
    img_by_class: np.ndarray
    """``pair_img[by_class]``: each class's present images as one contiguous sorted run."""
    hierarchy: Hierarchy
    """The source's category tree (listing nodes)."""
    verified_absent: dict[int, np.ndarray] | None
    """OpenImages strict mode: class -> sorted images where it is verified absent; else None."""
    _cache: dict[tuple[object, ...], object] = field(default_factory=dict, repr=False)

    # --- per-pair masks --------------------------------------------------------------------
    def countable_mask(self, group_blocks_counting: bool) -> np.ndarray:
        """Per pair: every instance recognisable (and, by default, no group box)."""
        key = ("countable", group_blocks_counting)
        if key not in self._cache:
            ok = (self.pair_small == 0) & (self.pair_rec > 0)
            if group_blocks_counting:
                ok &= self.pair_group == 0
            self._cache[key] = ok
        return self._cache[key]  # type: ignore[return-value]

    # --- per-class candidate lists ---------------------------------------------------------
    def class_rows(self, c: int) -> np.ndarray:
        """Pair rows of class ``c``, ordered by image."""
        return self.by_class[self.cls_offsets[c] : self.cls_offsets[c + 1]]

    def present_images(self, c: int) -> np.ndarray:
        """Sorted images where class ``c`` is present (a view, no copy)."""
        return self.img_by_class[self.cls_offsets[c] : self.cls_offsets[c + 1]]

    def recognisable_images(self, c: int) -> np.ndarray:
        """Sorted images holding at least one recognisable instance of ``c``."""
        key = ("rec", c)
        if key not in self._cache:
            rows = self.class_rows(c)
            self._cache[key] = self.pair_img[rows[self.pair_rec[rows] > 0]]
        return self._cache[key]  # type: ignore[return-value]

    def ambiguous_images(self, c: int) -> np.ndarray:
        """Sorted images where ``c`` is present but has no recognisable instance."""
        key = ("amb", c)
        if key not in self._cache:
            rows = self.class_rows(c)
            self._cache[key] = self.pair_img[rows[self.pair_rec[rows] == 0]]
        return self._cache[key]  # type: ignore[return-value]

    def countable_images(
        self, c: int, group_blocks_counting: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Sorted images that can count ``c`` and their counts."""
        key = ("cnt", c, group_blocks_counting)
        if key not in self._cache:
            rows = self.class_rows(c)
            rows = rows[self.countable_mask(group_blocks_counting)[rows]]
            self._cache[key] = (self.pair_img[rows], self.pair_rec[rows].astype(np.int64))
        return self._cache[key]  # type: ignore[return-value]

    # --- absence ---------------------------------------------------------------------------
    def absent_mask(self, images: np.ndarray, classes: np.ndarray | Sequence[int]) -> np.ndarray:
        """Per image: is every class in ``classes`` absent (verified in OpenImages strict)?"""
        images = np.asarray(images, dtype=np.int64)
        classes = np.asarray(classes, dtype=np.int64)
        if 8 * images.size >= self.n_images:
            # A large share of the source (exact distractor lists): mark present images once.
            present = np.zeros(self.n_images, dtype=bool)
            for c in classes.tolist():
                present[self.present_images(c)] = True
            ok = ~present[images]
        elif classes.size <= 2:
            ok = np.ones(images.size, dtype=bool)
            for c in classes.tolist():
                ok &= ~in_sorted(self.present_images(c), images)
        else:
            # Many classes (a listing node): scan the images' own pair rows once instead of
            # one searchsorted per class.
            wanted = np.zeros(len(self.class_names), dtype=bool)
            wanted[classes] = True
            rows, owner = rows_of_images(self.img_offsets, images)
            ok = np.bincount(owner[wanted[self.pair_cls[rows]]], minlength=images.size) == 0
        if self.verified_absent is not None:
            for c in classes.tolist():
                ok &= in_sorted(self.verified_absent.get(c, _EMPTY), images)
        return ok

    def absence_universe(self, classes: list[int]) -> np.ndarray | None:
        """Images that may be absent for ``classes``: None means every image (closed-world
        sources); in OpenImages strict mode, the smallest verified-absent list among them."""
        if self.verified_absent is None:
            return None
        lists = [self.verified_absent.get(int(c), _EMPTY) for c in classes]
        return min(lists, key=len) if lists else None

    def facts(self, images: list[int]) -> list[dict[str, ClassFact]]:
        """Per image: ``{class: ClassFact(n_instances, n_recognisable, n_small, n_group)}`` for
        every class present (one gather for all images, then plain Python over a few rows)."""
        offsets = self.img_offsets
        idx = np.asarray(images, dtype=np.int64)
        rows, _ = rows_of_images(offsets, idx)
        names = self.class_names
        keys = [names[c] for c in self.pair_cls[rows].tolist()]
        # ClassFact._make is tuple.__new__: the facts are built in C, not one call each.
        facts = list(
            map(
                ClassFact._make,
                zip(
                    self.pair_inst[rows].tolist(),
                    self.pair_rec[rows].tolist(),
                    self.pair_small[rows].tolist(),
                    self.pair_group[rows].tolist(),
                ),
            )
        )
        ends = np.cumsum(offsets[idx + 1] - offsets[idx]).tolist()
        out: list[dict[str, ClassFact]] = []
        start = 0
        for end in ends:  # the rows come grouped by image, in the given order
            out.append(dict(zip(keys[start:end], facts[start:end])))
            start = end
        return out


_EMPTY = np.zeros(0, dtype=np.int64)
_PREPARED: dict[int, tuple[weakref.ref[AnnotationIndex], PreparedIndex]] = {}


def _build(index: AnnotationIndex, strict: bool) -> PreparedIndex:
    table = index.table.select(
        "image_idx", "class_idx", "n_instances", "n_recognisable", "n_small", "n_group"
    )
    if index.labels is not None:
        # Positive image-level labels make a class present even without a box.
        positive = (
            index.labels.filter(pl.col("confidence") > 0)
            .select("image_idx", "class_idx")
            .unique()
            .join(table.select("image_idx", "class_idx"), on=["image_idx", "class_idx"], how="anti")
        )
        if positive.height:
            zeros = [pl.lit(0, dtype=pl.UInt32).alias(n) for n in INDEX_COUNTS]
            table = pl.concat([table, positive.with_columns(*zeros)], how="vertical_relaxed")
    # Index tables are usually stored in key order already: check (cheap) before sorting.
    pair_img = table.get_column("image_idx").to_numpy().astype(np.int64)
    pair_cls = table.get_column("class_idx").to_numpy().astype(np.int64)
    if not _increasing(pair_img, pair_cls):
        table = table.sort("image_idx", "class_idx")
        pair_img = table.get_column("image_idx").to_numpy().astype(np.int64)
        pair_cls = table.get_column("class_idx").to_numpy().astype(np.int64)
    images = index.images
    image_ids = images.get_column("image_idx").to_numpy().astype(np.int64)
    if not _increasing(image_ids):
        images = images.sort("image_idx")
        image_ids = images.get_column("image_idx").to_numpy().astype(np.int64)
    n = int(image_ids.max()) + 1 if image_ids.size else 0
    sids = images.get_column("source_id").to_list()
    fnames = images.get_column("file_name").to_list()
    if np.array_equal(image_ids, np.arange(n)):  # the usual dense 0..n-1 keys: no remapping
        source_ids, file_names = sids, fnames
    else:  # gaps (e.g. images excluded from a training set): scatter into dense lists
        source_ids = _scatter(image_ids, sids, n, 0)
        file_names = _scatter(image_ids, fnames, n, "")
    n_classes = index.classes.height
    img_offsets = np.searchsorted(pair_img, np.arange(n + 1)).astype(np.int64)
    # Pairs are sorted by (image, class), so a stable sort by class alone gives the (class,
    # image) order; on 16-bit keys numpy's stable sort is a radix sort (~5x a lexsort).
    by_class = np.argsort(narrow(pair_cls), kind="stable")
    cls_offsets = np.searchsorted(pair_cls[by_class], np.arange(n_classes + 1)).astype(np.int64)
    names = index.classes.sort("class_idx").get_column("name").to_list()
    verified: dict[int, np.ndarray] | None = None
    if strict:
        absent = (
            index.labels.filter(pl.col("confidence") == 0)  # type: ignore[union-attr]
            .select("class_idx", "image_idx")
            .unique()
            .sort("class_idx", "image_idx")
        )
        verified = {
            int(part.item(0, "class_idx")): part.get_column("image_idx").to_numpy().astype(np.int64)
            for part in absent.partition_by("class_idx", maintain_order=True)
        }
    return PreparedIndex(
        kind=index.kind,
        rules=index.rules,
        n_images=n,
        class_names=names,
        name_to_idx={name: i for i, name in enumerate(names)},
        image_ids=image_ids,
        source_ids=source_ids,
        file_names=file_names,
        pair_img=pair_img,
        pair_cls=pair_cls,
        pair_inst=table.get_column("n_instances").to_numpy().astype(np.int64),
        pair_rec=table.get_column("n_recognisable").to_numpy().astype(np.int64),
        pair_small=table.get_column("n_small").to_numpy().astype(np.int64),
        pair_group=table.get_column("n_group").to_numpy().astype(np.int64),
        img_offsets=img_offsets,
        by_class=by_class,
        cls_offsets=cls_offsets,
        img_by_class=pair_img[by_class],
        hierarchy=index.hierarchy,
        verified_absent=verified,
    )


def _increasing(major: np.ndarray, minor: np.ndarray | None = None) -> bool:
    """Are the keys (``major``, or ``(major, minor)`` pairs) strictly increasing? Strictly, so
    skipping a sort can never change the order of equal keys."""
    if major.size < 2:
        return True
    step = np.diff(major)
    if minor is None:
        return bool((step > 0).all())
    return bool(((step > 0) | ((step == 0) & (np.diff(minor) > 0))).all())


def narrow(values: np.ndarray) -> np.ndarray:
    """Non-negative integer ``values`` as uint16 when they all fit (numpy's stable sort of
    16-bit keys is a radix sort, several times faster than on int64)."""
    return values.astype(np.uint16) if values.size == 0 or values.max() < 1 << 16 else values


INDEX_COUNTS = ("n_instances", "n_recognisable", "n_small", "n_group")


def _forget(key: int) -> Callable[[object], None]:
    """Weakref callback dropping a collected index's arrays from the memo."""

    def drop(_ref: object) -> None:
        _PREPARED.pop(key, None)

    return drop


def _scatter(positions: np.ndarray, values: list[Any], n: int, fill: Any) -> list[Any]:
    """A list of ``n`` ``fill`` values with ``values[k]`` at ``positions[k]`` (the same Python
    objects: an object array holds references)."""
    out = np.full(n, fill, dtype=object)
    src = np.empty(len(values), dtype=object)
    src[:] = values
    out[positions] = src
    return out.tolist()  # type: ignore[no-any-return]


def prepare(index: AnnotationIndex, rules: PresenceRules | None = None) -> PreparedIndex:
    """Arrays for ``index`` under ``rules`` (default: the index's own), memoised per index.

    The index fixes the recognisable-size threshold (its counts were aggregated with it), so a
    spec asking for another ``min_box_area_frac`` is an error: rebuild the index instead.
    """
    rules = rules or index.rules
    if rules.min_box_area_frac != index.rules.min_box_area_frac:
        raise SpecError(
            f"spec presence.min_box_area_frac={rules.min_box_area_frac} but the index was built "
            f"with {index.rules.min_box_area_frac}; rebuild the index with the spec's rules"
        )
    if index.kind == "openimages" and rules.openimages_strict and index.labels is None:
        # Without image-level labels nothing is verified absent; silently relaxing would put
        # unverified distractors in a build whose manifest says "strict".
        raise SpecError(
            "presence.openimages_strict is true but the OpenImages source has no image-level "
            "labels; pass --labels-csv (human-verified labels) or set "
            "presence.openimages_strict: false to accept unverified absence"
        )
    strict = bool(index.kind == "openimages" and rules.openimages_strict)
    key = id(index)
    hit = _PREPARED.get(key)
    if hit is not None and hit[0]() is index:
        base = hit[1]
    else:
        base = _build(index, strict=False)
        _PREPARED[key] = (weakref.ref(index, _forget(key)), base)
    if strict and base.verified_absent is None:
        cache_key = ("strict",)
        if cache_key not in base._cache:
            base._cache[cache_key] = _build(index, strict=True)
        return base._cache[cache_key]  # type: ignore[return-value]
    return base
