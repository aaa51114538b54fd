"""Twin records for ``benchmark.jsonl``: the public record plus ``family``, ``variant``, ``twin``.

Added keys only (SPEC §4 keys keep their meaning):

* ``family``: the base query's id (the same for every member); ``variant``: ``base`` or the
  twin's variant name; ``twin``: ``{"control": ...}`` plus what the control changed;
* a generated image's entry keeps ``source_id``, ``role`` and ``position`` of the image it
  replaces, points ``path`` at ``images/twins/<family>/<variant>-<position>.png`` and says
  ``content: blank | noise``; the stitched twin has one image entry (``content: stitch``,
  ``source_id`` null; ``stitch.jpg`` when the base images are JPEGs, else ``stitch.png``) whose
  ``cells`` list the base images in grid order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from mimicgen.build.eval_set import query_record
from mimicgen.build.images import IMAGES_DIR
from mimicgen.twins.generate import Twin

__all__ = ["generated_relpath", "twin_record", "twin_sources"]


def generated_relpath(twin: Twin, position: int) -> str:
    """Output path of a generated image of ``twin`` (relative to the output folder)."""
    name = "stitch" if twin.detail["control"] == "stitch" else f"{twin.variant}-{position}"
    ext = "jpg" if twin.generated[position].get("format") == "jpeg" else "png"
    return f"{IMAGES_DIR}/twins/{twin.family}/{name}.{ext}"


def twin_sources(twins: Sequence[Twin], image_root: Path | None) -> dict[str, dict[str, Any]]:
    """Recipes of every generated image, keyed by output path, with absolute source paths."""
    root = Path(image_root or ".")
    out: dict[str, dict[str, Any]] = {}
    for twin in twins:
        images = sorted(twin.query.images, key=lambda i: i.position)
        for pos, recipe in twin.generated.items():
            full = dict(recipe)
            if recipe["kind"] == "stitch":
                full["cells"] = [str(root / i.file_name) for i in images]
            else:
                full["like"] = str(root / images[pos].file_name)
            out[generated_relpath(twin, pos)] = full
    return out


def twin_record(
    twin: Twin, spec_name: str, prefix: str, shas: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The record of one family member (see the module docstring)."""
    rec = query_record(twin.query, spec_name, prefix, shas)
    if twin.detail["control"] == "stitch":
        cells = [
            {k: img[k] for k in ("source_id", "position", "role", "class_counts")}
            for img in rec["images"]
        ]
        total: dict[str, int] = {}
        for cell in cells:
            for c, v in cell["class_counts"].items():
                total[c] = total.get(c, 0) + v
        path = generated_relpath(twin, 0)
        entry: dict[str, Any] = {
            "path": path,
            "source_id": None,
            "position": 0,
            "role": "query",
            "class_counts": total,
            "content": "stitch",
            "cells": cells,
        }
        if shas is not None:
            entry["sha256"] = shas[path]
        rec["images"] = [entry]
    else:
        for pos, recipe in twin.generated.items():
            img = rec["images"][pos]
            img["path"] = generated_relpath(twin, pos)
            img["content"] = recipe["kind"]
            if shas is not None:
                img["sha256"] = shas[img["path"]]
    rec["family"] = twin.family
    rec["variant"] = twin.variant
    rec["twin"] = twin.detail
    return rec
