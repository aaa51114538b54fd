"""Stitch and pixel-control image operations (PIL/numpy only)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from mimicgen.probes.pixel import pixel_degrade
from mimicgen.probes.stitch import auto_grid, stitch_images


def _solid(rgb, size=(8, 6)):
    return Image.new("RGB", size, rgb)


def _noise(seed, size=(8, 6)):
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8))


def test_stitch_grid_cells_are_the_inputs():
    imgs = [_noise(i) for i in range(5)]
    out = np.asarray(stitch_images(imgs, 2, 3))
    assert out.shape == (12, 24, 3)
    for i, im in enumerate(imgs):
        r, c = divmod(i, 3)
        np.testing.assert_array_equal(out[r * 6 : (r + 1) * 6, c * 8 : (c + 1) * 8], np.asarray(im))
    assert not out[6:, 16:].any()  # the unused sixth cell is black


def test_stitch_auto_grid_and_resize_match_area():
    assert auto_grid(1) == (1, 1) and auto_grid(5) == (2, 3) and auto_grid(9) == (3, 3)
    imgs = [_solid((10 * i, 0, 0), (20, 20)) for i in range(3)]
    full = stitch_images(imgs)  # auto: 2x2, 40x40
    small = stitch_images(imgs, resize=True)
    assert full.size == (40, 40)
    assert abs(small.width * small.height - 3 * 20 * 20) <= 2 * 35


def test_stitch_resizes_odd_sized_inputs_to_cell():
    out = stitch_images([_solid((255, 0, 0), (8, 6)), _solid((0, 255, 0), (4, 3))], 1, 2)
    arr = np.asarray(out)
    assert out.size == (16, 6)
    assert (arr[:, 8:] == [0, 255, 0]).all()


def test_pixel_degrade_keeps_size_and_loses_detail():
    im = _noise(0, (16, 16))
    out = pixel_degrade(im, 4)
    assert out.size == im.size
    # Box-down-sampling by 4 then up: the 4x4 block means survive, per-pixel detail does not.
    a, b = np.asarray(im, float), np.asarray(out, float)
    assert np.abs(a - b).mean() > 20
    block_a = a.reshape(4, 4, 4, 4, 3).mean(axis=(1, 3))
    block_b = b.reshape(4, 4, 4, 4, 3).mean(axis=(1, 3))
    assert np.abs(block_a - block_b).mean() < np.abs(a - b).mean() / 2
    np.testing.assert_array_equal(np.asarray(pixel_degrade(im, 1)), a.astype(np.uint8))


def test_pixel_area_keeps_the_share_of_tokens_pool_keeps():
    from mimicgen.probes.pixel import kept_pixel_share
    from mimicgen.probes.pooling import pooled_length

    # A 448x448 Qwen image is 16x16 = 256 merged tokens; pool:4 keeps 64 of them (1/4).
    assert pooled_length(256, 4) / 256 == 0.25
    assert kept_pixel_share((448, 448), 4, "area") == 0.25  # 224 x 224 px left
    assert kept_pixel_share((448, 448), 4, "side") == 1 / 16  # 112 x 112: pixel:4 keeps 1/16
    assert kept_pixel_share((640, 480), 16, "area") == 1 / 16  # 160 x 120
    # sqrt(2) per side, sizes rounded down: 100 / 1.414 -> 70 px, 4900 of 10000 pixels.
    assert kept_pixel_share((100, 100), 2, "area") == 0.49
    im = _noise(3, (16, 12))
    # pixel:F:area is pixel:sqrt(F) when F is a square.
    np.testing.assert_array_equal(
        np.asarray(pixel_degrade(im, 4, "area")), np.asarray(pixel_degrade(im, 2))
    )
    np.testing.assert_array_equal(
        np.asarray(pixel_degrade(im, 9, "area")), np.asarray(pixel_degrade(im, 3))
    )
    assert pixel_degrade(im, 2, "area").size == im.size
