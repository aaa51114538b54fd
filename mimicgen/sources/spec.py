"""Where annotations come from: the ``source`` block of a task spec and the CLI ``--source`` flag."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SourceSpec"]


class SourceSpec(BaseModel):
    """One annotation source. Paths may be relative to the spec file or the working directory."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["coco", "openimages", "synthetic", "fiftyone"] = "synthetic"
    """Which reader to use. ``synthetic`` (the default) renders the built-in scenes."""

    annotations: Path | None = None
    """COCO ``instances_*.json`` or OpenImages box CSV (``*-annotations-bbox.csv``)."""

    image_root: Path | None = None
    """Folder holding the images; COCO default: ``<annotations>/../../<split>`` (e.g. val2017)."""

    classes_csv: Path | None = None
    """OpenImages ``oidv7-class-descriptions-boxable.csv``; default: next to the box CSV."""

    hierarchy: Path | None = None
    """OpenImages ``bbox_labels_600_hierarchy.json``, or a user YAML hierarchy for any source
    (``{node: [child, ...]}``) that replaces the source's own."""

    labels_csv: Path | None = None
    """OpenImages image-level labels (``ImageID,Source,LabelName,Confidence``) for strict absence."""

    dataset: str | None = None
    """FiftyOne dataset name (kind ``fiftyone``)."""

    n_images: int = Field(600, ge=1)
    """Synthetic only: number of scenes to render."""

    seed: int = 0
    """Synthetic only: seed of the scene renderer (independent of the task seed)."""
