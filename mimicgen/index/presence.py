"""The presence rules of SPEC §1 as explicit functions over the index table.

Each function returns a polars expression or frame so samplers stay vectorised. Definitions:

* *recognisable instance*: box area >= ``min_box_area_frac`` of the image and not a group box.
* *countable* (image i can count class c): every c-instance in i is recognisable and none is a
  group/crowd box (``n_small == 0`` and ``n_group == 0``; with ``group_blocks_counting=False``
  group boxes are ignored for this test but still never counted).
* *present*: any annotation of c exists in i (any size, any flag), or (OpenImages) an image-level
  label verifies c present.
* *absent*: no annotation of c in i; in OpenImages strict mode additionally verified absent by an
  image-level label with confidence 0.
* *distractor* for target classes C: absent for every class in C.
"""

from __future__ import annotations

from collections.abc import Iterable

import polars as pl

from mimicgen.index.table import AnnotationIndex

__all__ = [
    "countable_expr",
    "countable_pairs",
    "distractor_images",
    "present_pairs",
    "recognisable_expr",
    "recognisable_pairs",
    "verified_absent_pairs",
]


def countable_expr(index: AnnotationIndex) -> pl.Expr:
    """Row-wise: may this (image, class) pair be used as counting evidence?"""
    expr = pl.col("n_small") == 0
    if index.rules.group_blocks_counting:
        expr = expr & (pl.col("n_group") == 0)
    return expr & (pl.col("n_recognisable") > 0)


def recognisable_expr() -> pl.Expr:
    """Row-wise: does the image hold at least one recognisable instance of the class?"""
    return pl.col("n_recognisable") > 0


def present_pairs(index: AnnotationIndex) -> pl.DataFrame:
    """(image_idx, class_idx) of every pair where the class is present (box or verified label)."""
    pairs = index.table.select("image_idx", "class_idx")
    if index.labels is not None:
        positive = index.labels.filter(pl.col("confidence") > 0).select("image_idx", "class_idx")
        pairs = pl.concat([pairs, positive]).unique().sort("image_idx", "class_idx")
    return pairs


def countable_pairs(index: AnnotationIndex) -> pl.DataFrame:
    """Index rows usable as counting evidence (count = ``n_recognisable``)."""
    return index.table.filter(countable_expr(index))


def recognisable_pairs(index: AnnotationIndex) -> pl.DataFrame:
    return index.table.filter(recognisable_expr())


def verified_absent_pairs(index: AnnotationIndex) -> pl.DataFrame | None:
    """OpenImages strict mode: (image, class) pairs verified absent; None when not applicable."""
    if index.kind != "openimages" or not index.rules.openimages_strict or index.labels is None:
        return None
    return index.labels.filter(pl.col("confidence") == 0).select("image_idx", "class_idx")


def distractor_images(index: AnnotationIndex, class_idxs: Iterable[int]) -> pl.Series:
    """Sorted image_idx of images that are absent (per the rules) for *every* class given."""
    targets = sorted({int(c) for c in class_idxs})
    present = present_pairs(index).filter(pl.col("class_idx").is_in(targets))
    candidates = index.images.select("image_idx").join(
        present.select("image_idx").unique(), on="image_idx", how="anti"
    )
    absent = verified_absent_pairs(index)
    if absent is not None:
        verified = (
            absent.filter(pl.col("class_idx").is_in(targets))
            .group_by("image_idx")
            .agg(pl.col("class_idx").n_unique().alias("n"))
            .filter(pl.col("n") == len(targets))
            .select("image_idx")
        )
        candidates = candidates.join(verified, on="image_idx", how="semi")
    return candidates.get_column("image_idx").sort()
