"""Pixel-space control for pooling: lose detail without changing the vision token count."""

from __future__ import annotations

from PIL import Image

__all__ = ["pixel_degrade"]


def pixel_degrade(image: Image.Image, factor: int) -> Image.Image:
    """Down-sample ``image`` by ``factor`` per side (box filter), then up-sample back (bilinear).

    The result has the original size, so the model sees as many vision tokens as before but only
    ``1/factor**2`` of the information: the pixel-space counterpart of ``pool:F``. ``factor=1``
    returns an unchanged copy.
    """
    if factor < 1:
        raise ValueError(f"pixel factor must be >= 1, got {factor}")
    image = image.convert("RGB")
    if factor == 1:
        return image.copy()
    w, h = image.size
    small = image.resize((max(1, w // factor), max(1, h // factor)), Image.Resampling.BOX)
    return small.resize((w, h), Image.Resampling.BILINEAR)
