"""Presence rules: when an image counts as holding, lacking, or being countable for a class."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["PresenceRules"]


class PresenceRules(BaseModel):
    """Thresholds that turn raw boxes into presence facts (SPEC §1). Part of every task spec."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_box_area_frac: float = Field(0.05, gt=0.0, le=1.0)
    """A box is *recognisable* if its area is at least this fraction of the image (paper: 5%)."""

    group_blocks_counting: bool = True
    """If true, an image with any group/crowd box of class c cannot be used to count c."""

    openimages_strict: bool = True
    """OpenImages: treat a class as absent only where an image-level label verifies it absent
    (boxes there are exhaustive only for verified classes). Ignored for other sources."""
