"""``mimicgen synth``: write the built-in synthetic dataset (COCO format) to a folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from mimicgen.cli.app import app
from mimicgen.sources.synthetic import render_dataset

__all__ = ["summary_line", "synth"]


def summary_line(annotations: Path) -> str:
    """One line describing a COCO file: images, boxes (of them groups), classes, parents."""
    doc = json.loads(Path(annotations).read_text("utf-8"))
    anns = doc["annotations"]
    groups = sum(1 for a in anns if a.get("iscrowd"))
    parents = {c.get("supercategory") for c in doc["categories"]}
    return (
        f"{len(doc['images'])} images, {len(anns)} boxes ({groups} group), "
        f"{len(doc['categories'])} classes under {len(parents)} supercategories"
    )


@app.command("synth")
def synth(
    out: Annotated[Path, typer.Option("--out", help="Output folder (must be new or empty).")],
    images: Annotated[int, typer.Option("--images", help="Number of scenes to render.")] = 600,
    seed: Annotated[int, typer.Option("--seed", help="Renderer seed (>= 0).")] = 0,
    size: Annotated[int, typer.Option("--size", help="Image side in pixels.")] = 384,
    fmt: Annotated[
        Literal["png", "jpeg"],
        typer.Option("--format", help="png (exact pixels) or jpeg (smaller, lossy)."),
    ] = "png",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing output folder.")
    ] = False,
) -> None:
    """Render seeded synthetic scenes and write them as a COCO-format dataset."""
    annotations = render_dataset(out, images, seed, image_size=size, fmt=fmt, overwrite=overwrite)
    typer.echo(f"wrote {annotations} (images in {annotations.parent / 'images'})")
    typer.echo(summary_line(annotations))
