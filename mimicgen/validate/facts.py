"""Raw per-(image, class) facts for the validator, straight from a source's box table.

Deliberately independent of :mod:`mimicgen.index` and the samplers: it re-applies the presence
rules of SPEC §1 to the boxes itself, so a bug there cannot hide the same bug here. Areas are the
readers' float64 ``area_frac`` (computed from the raw pixel or decimal values), never the index's
Float32 summary columns, so a box of 0.04999999925 of its image is small here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import polars as pl

from mimicgen.index.rules import PresenceRules
from mimicgen.sources.base import SourceData

__all__ = ["ImageFacts", "SourceFacts", "collect_facts"]


@dataclass
class ImageFacts:
    """What the annotations say about one image, per class display name."""

    file_name: str
    boxes: dict[str, int] = field(default_factory=dict)
    """All boxes of the class (any size, any flag)."""
    recognisable: dict[str, int] = field(default_factory=dict)
    """Boxes with area >= min_box_area_frac that are not group boxes."""
    small: dict[str, int] = field(default_factory=dict)
    """Non-group boxes below the area threshold."""
    group: dict[str, int] = field(default_factory=dict)
    """Group / crowd boxes."""
    labels_present: set[str] = field(default_factory=set)
    labels_absent: set[str] = field(default_factory=set)


@dataclass
class SourceFacts:
    """Facts for the images a benchmark uses, plus the rules and hierarchy to judge them by."""

    kind: str
    rules: PresenceRules
    images: dict[str, ImageFacts]
    """Keyed by ``str(source_id)``."""
    class_names: set[str]
    hierarchy_children: dict[str, tuple[str, ...]]
    has_labels: bool

    def present(self, image: ImageFacts, cls: str) -> bool:
        return image.boxes.get(cls, 0) > 0 or cls in image.labels_present

    def recognisable(self, image: ImageFacts, cls: str) -> bool:
        return image.recognisable.get(cls, 0) > 0

    def countable(self, image: ImageFacts, cls: str) -> bool:
        """No small instance, and no group box where group boxes block counting."""
        blocked = image.group.get(cls, 0) > 0 and self.rules.group_blocks_counting
        return image.small.get(cls, 0) == 0 and not blocked

    def absent(self, image: ImageFacts, cls: str) -> bool:
        """No annotation at all; OpenImages strict mode also needs a verified-absent label."""
        if self.present(image, cls):
            return False
        strict = self.kind == "openimages" and self.rules.openimages_strict and self.has_labels
        return cls in image.labels_absent if strict else True

    def members(self, node: str) -> set[str]:
        """Every class name below a hierarchy node (inner nodes included), by plain DFS."""
        found: set[str] = set()
        stack = list(self.hierarchy_children.get(node, ()))
        while stack:
            name = stack.pop()
            if name not in found:
                found.add(name)
                stack.extend(c for c in self.hierarchy_children.get(name, ()) if c != name)
        return found & self.class_names


def collect_facts(
    source: SourceData, rules: PresenceRules, source_ids: Iterable[str]
) -> SourceFacts:
    """Aggregate boxes of the given images (by ``str(source_id)``) into :class:`ImageFacts`."""
    wanted = sorted(set(source_ids))
    images = source.images.with_columns(pl.col("source_id").cast(pl.String).alias("sid")).filter(
        pl.col("sid").is_in(wanted)
    )
    names = source.classes.select("class_idx", "name")
    small = (pl.col("area_frac").cast(pl.Float64) < rules.min_box_area_frac) & ~pl.col("is_group")
    counts = (
        source.boxes.join(images.select("image_idx", "sid"), on="image_idx")
        .join(names, on="class_idx")
        .group_by("sid", "name")
        .agg(
            pl.len().alias("boxes"),
            (~small & ~pl.col("is_group")).sum().alias("recognisable"),
            small.sum().alias("small"),
            pl.col("is_group").sum().alias("group"),
        )
    )
    facts = {
        row["sid"]: ImageFacts(file_name=row["file_name"])
        for row in images.select("sid", "file_name").iter_rows(named=True)
    }
    for row in counts.iter_rows(named=True):
        img = facts[row["sid"]]
        for key in ("boxes", "recognisable", "small", "group"):
            getattr(img, key)[row["name"]] = int(row[key])
    if source.labels is not None:
        labels = source.labels.join(images.select("image_idx", "sid"), on="image_idx").join(
            names, on="class_idx"
        )
        for row in labels.iter_rows(named=True):
            target = (
                facts[row["sid"]].labels_present
                if row["confidence"] > 0
                else facts[row["sid"]].labels_absent
            )
            target.add(row["name"])
    return SourceFacts(
        kind=source.kind,
        rules=rules,
        images=facts,
        class_names=set(source.classes.get_column("name").to_list()),
        hierarchy_children=dict(source.hierarchy.children),
        has_labels=source.labels is not None,
    )
