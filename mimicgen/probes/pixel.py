"""Pixel-space control for pooling: lose detail without changing the vision token count."""

from __future__ import annotations

import math

from PIL import Image

__all__ = ["kept_pixel_share", "pixel_degrade"]


def _small_size(size: tuple[int, int], factor: int, mode: str) -> tuple[int, int]:
    if factor < 1:
        raise ValueError(f"pixel factor must be >= 1, got {factor}")
    if mode not in ("side", "area"):
        raise ValueError(f"pixel mode must be 'side' or 'area', got {mode!r}")
    side = float(factor) if mode == "side" else math.sqrt(factor)
    w, h = size
    return max(1, int(w / side)), max(1, int(h / side))


def pixel_degrade(image: Image.Image, factor: int, mode: str = "side") -> Image.Image:
    """Down-sample ``image`` (box filter), then up-sample back to its size (bilinear).

    ``mode="side"`` divides each side by ``factor`` (``1/factor**2`` of the pixels survive);
    ``mode="area"`` divides each side by ``sqrt(factor)`` so ``1/factor`` of the pixels survive:
    the same share as the vision tokens ``pool:factor`` keeps. Sizes round down (at least 1 px).
    The result has the original size, so the model sees as many vision tokens as before.
    ``factor=1`` returns an unchanged copy.
    """
    small = _small_size(image.size, factor, mode)
    image = image.convert("RGB")
    if factor == 1:
        return image.copy()
    down = image.resize(small, Image.Resampling.BOX)
    return down.resize(image.size, Image.Resampling.BILINEAR)


def kept_pixel_share(size: tuple[int, int], factor: int, mode: str = "side") -> float:
    """Share of ``size``'s pixels that survive :func:`pixel_degrade` (before up-sampling)."""
    w, h = size
    sw, sh = _small_size(size, factor, mode)
    return (sw * sh) / (w * h)
