"""Generated twin images: blank, seeded noise and stitched grids, written as deterministic files
(PNG; a stitched grid of JPEG photographs as JPEG, quality 95).

A recipe (``Twin.generated`` plus the source paths the writer resolves) fully determines the
bytes: blank is uniform grey (128, 128, 128), noise is uniform RGB from
``numpy.random.default_rng(SeedSequence(recipe["seed"]))``, a stitched grid is
:func:`mimicgen.probes.stitch.stitch_images` of the cells. Content-free images take the size the
replaced image has in the output (after ``--images resize:MAXPX``, the resized size).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mimicgen.build.images import ImageMode, _write_via_temp
from mimicgen.errors import InputError

__all__ = ["BLANK_RGB", "output_size", "render_recipe"]

BLANK_RGB = (128, 128, 128)


def output_size(size: tuple[int, int], mode: ImageMode) -> tuple[int, int]:
    """The size an image of ``size`` has in the output under ``mode`` (as ``_resize`` scales)."""
    if mode.kind == "resize" and mode.max_px is not None and max(size) > mode.max_px:
        scale = mode.max_px / max(size)
        return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))
    return size


def _open(path: str) -> Any:
    from PIL import Image

    if not Path(path).is_file():
        raise InputError(
            f"image {path} does not exist; fix the source's image_root or build with --no-images"
        )
    return Image.open(path)


def _make(recipe: dict[str, Any], mode: ImageMode) -> Any:
    from PIL import Image

    from mimicgen.probes.stitch import stitch_images

    kind = recipe["kind"]
    if kind == "stitch":
        cells = []
        for path in recipe["cells"]:
            with _open(path) as im:
                im.load()
                cells.append(im.convert("RGB"))
        rows, cols = recipe["grid"]
        grid = stitch_images(cells, rows, cols)
        size = output_size(grid.size, mode)
        return grid if size == grid.size else grid.resize(size, Image.Resampling.LANCZOS)
    with _open(recipe["like"]) as im:
        size = output_size(im.size, mode)
    if kind == "blank":
        return Image.new("RGB", size, BLANK_RGB)
    if kind == "noise":
        rng = np.random.default_rng(np.random.SeedSequence(recipe["seed"]))
        pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
        return Image.fromarray(pixels, "RGB")
    raise ValueError(f"unknown generated image kind {kind!r}")


def render_recipe(recipe: dict[str, Any], dest: Path, mode: ImageMode) -> None:
    """Write the recipe's image at ``dest`` (no metadata); a no-op if it exists (resume)."""
    if mode.kind == "none" or dest.exists():
        return
    image = _make(recipe, mode)
    if recipe.get("format") == "jpeg":
        save = {"format": "JPEG", "quality": 95}
    else:  # noise does not compress: the fastest level costs nothing in size
        save = {"format": "PNG", "optimize": False, "compress_level": 1}
    _write_via_temp(dest, lambda tmp: image.save(tmp, **save))
