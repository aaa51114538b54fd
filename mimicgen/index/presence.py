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

The index summary (``mimicgen index``) uses the polars forms below. The samplers apply the same
rules on numpy views of the index (``mimicgen.tasks.prepared.PreparedIndex``: ``present_images``,
``countable_images``, ``absent_mask``), which is where absence and strict mode are decided; the
validator re-implements them independently from raw boxes (``mimicgen.validate.facts``).
"""

from __future__ import annotations

import polars as pl

from mimicgen.index.table import AnnotationIndex

__all__ = ["countable_expr", "countable_pairs", "present_pairs"]


def countable_expr(index: AnnotationIndex) -> pl.Expr:
    """Row-wise: may this (image, class) pair be used as counting evidence?"""
    expr = pl.col("n_small") == 0
    if index.rules.group_blocks_counting:
        expr = expr & (pl.col("n_group") == 0)
    return expr & (pl.col("n_recognisable") > 0)


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
