"""Stitching: one composite grid image per query instead of N separate images."""

from __future__ import annotations

import math

from PIL import Image

__all__ = ["auto_grid", "stitch_images"]


def auto_grid(n: int) -> tuple[int, int]:
    """Smallest near-square ``(rows, cols)`` grid holding ``n`` images (cols >= rows)."""
    if n < 1:
        raise ValueError("need at least one image to stitch")
    cols = math.ceil(math.sqrt(n))
    return math.ceil(n / cols), cols


def stitch_images(
    images: list[Image.Image],
    rows: int | None = None,
    cols: int | None = None,
    resize: bool = False,
) -> Image.Image:
    """Paste ``images`` row-major into a ``rows x cols`` grid of equal cells.

    Each cell is the size of the largest input (width and height taken separately); an input of a
    different size is resized to the cell. Unused cells stay black. With ``resize`` the composite
    is scaled by ``sqrt(n / (rows * cols))`` so that its pixel area, and so (for models whose token
    count follows the pixel area) its vision token count, matches the ``n`` separate images.
    """
    if rows is None or cols is None:
        rows, cols = auto_grid(len(images))
    if len(images) > rows * cols:
        raise ValueError(f"{len(images)} images do not fit a {rows}x{cols} grid")
    cell_w = max(im.width for im in images)
    cell_h = max(im.height for im in images)
    canvas = Image.new("RGB", (cols * cell_w, rows * cell_h))
    for i, im in enumerate(images):
        im = im.convert("RGB")
        if im.size != (cell_w, cell_h):
            im = im.resize((cell_w, cell_h), Image.Resampling.BILINEAR)
        r, c = divmod(i, cols)
        canvas.paste(im, (c * cell_w, r * cell_h))
    if resize:
        scale = math.sqrt(len(images) / (rows * cols))
        if scale < 1:
            size = (max(1, round(canvas.width * scale)), max(1, round(canvas.height * scale)))
            canvas = canvas.resize(size, Image.Resampling.BILINEAR)
    return canvas
