"""Typer options shared by every command that reads a source (``index``, ``build``, ...).

Usage in a command::

    def cmd(source: SourceArg = "synthetic", image_root: ImageRootOpt = None, ...):
        spec = spec_from_options(source, image_root, classes_csv, hierarchy, labels_csv)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mimicgen.sources.registry import parse_source_arg
from mimicgen.sources.spec import SourceSpec

__all__ = [
    "SOURCE_HELP",
    "ClassesCsvOpt",
    "HierarchyOpt",
    "ImageRootOpt",
    "LabelsCsvOpt",
    "spec_from_options",
]

SOURCE_HELP = (
    "Annotation source: synthetic, synthetic:N (N scenes), coco:PATH.json, "
    "openimages:BOXES.csv or fiftyone:NAME."
)

ImageRootOpt = Annotated[
    Path | None,
    typer.Option(
        "--image-root",
        help="Folder holding the images (COCO default: <json>/../../<split>).",
    ),
]
ClassesCsvOpt = Annotated[
    Path | None,
    typer.Option(
        "--classes-csv",
        help="OpenImages oidv7-class-descriptions-boxable.csv (default: next to the box CSV).",
    ),
]
HierarchyOpt = Annotated[
    Path | None,
    typer.Option(
        "--hierarchy",
        help="OpenImages bbox_labels_600_hierarchy.json, or a YAML {node: [child, ...]} file "
        "that replaces any source's hierarchy.",
    ),
]
LabelsCsvOpt = Annotated[
    Path | None,
    typer.Option(
        "--labels-csv",
        help="OpenImages image-level labels CSV (Confidence 0 = verified absent).",
    ),
]


def spec_from_options(
    source: str,
    image_root: Path | None = None,
    classes_csv: Path | None = None,
    hierarchy: Path | None = None,
    labels_csv: Path | None = None,
) -> SourceSpec:
    """Combine a ``SOURCE`` argument and the side-file options into a validated SourceSpec."""
    spec = parse_source_arg(source)
    extra = {
        "image_root": image_root,
        "classes_csv": classes_csv,
        "hierarchy": hierarchy,
        "labels_csv": labels_csv,
    }
    updates = {k: v for k, v in extra.items() if v is not None}
    return SourceSpec.model_validate({**spec.model_dump(exclude_unset=True), **updates})
