"""One synthetic scene: a textured background plus non-overlapping icons, each with its exact box.

Scene ``k`` of a dataset with seed ``s`` draws every random choice from its own generator,
``numpy.random.default_rng(SeedSequence(s, spawn_key=(k,)))``, so a scene is identical whatever
the dataset size or rendering order (scenes can be rendered in parallel or in shards).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, model_validator

from mimicgen.sources.synthetic_shapes import BACKGROUND_RANGE, CLASSES, SynthClass, paint_icon

__all__ = ["SceneBox", "SceneParams", "render_background", "render_scene", "scene_rng"]


class SceneParams(BaseModel):
    """How scenes are composed. Changing any default changes the images: bump RENDERER_VERSION."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    classes_per_image: tuple[float, ...] = (0.08, 0.3, 0.34, 0.2, 0.08)
    """Relative weights of holding 1, 2, 3, ... distinct classes (most scenes hold 2-4)."""

    instances_per_class: tuple[float, ...] = (0.45, 0.25, 0.15, 0.1, 0.05)
    """Relative weights of 1, 2, 3, ... instances of each class a scene holds."""

    p_small: float = Field(default=0.25, ge=0.0, le=1.0)
    """Probability that an instance is drawn small (area below the paper's 5% threshold)."""

    small_area: tuple[float, float] = (0.004, 0.04)
    """Log-uniform range of a small instance's area, as a fraction of the image."""

    large_area: tuple[float, float] = (0.06, 0.13)
    """Log-uniform range of a recognisable instance's area, as a fraction of the image."""

    p_group: float = Field(default=0.12, ge=0.0, le=1.0)
    """Probability that a scene also holds one group box (COCO ``iscrowd=1``) of tiny icons."""

    group_members: tuple[int, int] = (4, 9)
    """Inclusive range of icons inside a group box."""

    group_area: tuple[float, float] = (0.05, 0.12)
    """Log-uniform range of a group region's area, as a fraction of the image."""

    occlusion: bool = False
    """Allow a later icon to cover up to 30% of an earlier one (off: icons never overlap)."""

    gap: int = Field(default=2, ge=0)
    """Minimum free pixels between two icons when occlusion is off."""

    max_tries: int = Field(default=60, ge=1)
    """Random positions tried per icon; an icon that finds no room is dropped (never annotated)."""

    @model_validator(mode="after")
    def _check_ranges(self) -> SceneParams:
        """Weights need a positive total; (lo, hi) ranges need 0 < lo <= hi (areas <= 1)."""
        for name in ("classes_per_image", "instances_per_class"):
            weights = getattr(self, name)
            if not weights or min(weights) < 0 or sum(weights) <= 0:
                raise ValueError(f"{name} must be non-negative weights with a positive sum")
        for name in ("small_area", "large_area", "group_area", "group_members"):
            lo, hi = getattr(self, name)
            top = math.inf if name == "group_members" else 1
            if not 0 < lo <= hi <= top:
                raise ValueError(f"{name} must be a range 0 < lo <= hi (areas at most 1)")
        return self


_DEFAULTS = SceneParams()


@dataclass(frozen=True)
class SceneBox:
    """An annotated object: exact pixel bounds of what was drawn (right/bottom exclusive)."""

    class_id: int
    x: int
    y: int
    w: int
    h: int
    is_group: bool


@dataclass(frozen=True)
class _Item:
    """An object to place: its class, canvas size, and for groups the member icon size/count."""

    cls: SynthClass
    w: int
    h: int
    flip: bool
    members: int = 0  # > 0 marks a group region


def scene_rng(seed: int, index: int) -> np.random.Generator:
    """The generator of scene ``index`` (0-based) in the dataset with ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(index,)))


def _log_uniform(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))


def render_background(rng: np.random.Generator, size: int) -> Image.Image:
    """A low-saturation textured background: gradient + stripes + soft blotches + fine grain.

    One luminance field is built with whole-array numpy operations (stripes via the separable
    identity sin(a+b) = sin a cos b + cos a sin b, so no per-pixel trigonometry), then mapped to
    RGB through per-channel lookup tables that add a small tint and clamp to ``BACKGROUND_RANGE``:
    the result is always greyish and never matches an icon colour.
    """
    lo, hi = BACKGROUND_RANGE
    coords = np.arange(size, dtype=np.float32) / np.float32(size)
    angle, slope = rng.uniform(0.0, 2 * math.pi), np.float32(rng.uniform(-35, 35))
    gx, gy = slope * math.cos(angle) * coords, slope * math.sin(angle) * coords
    lum = gy[:, None] + gx[None, :]
    if rng.random() < 0.6:  # stripes at a random angle and period
        theta, period = rng.uniform(0.0, math.pi), rng.uniform(0.04, 0.2)
        amp, phase = np.float32(rng.uniform(4, 18)), rng.uniform(0, 2 * math.pi)
        ax = coords * np.float32(math.cos(theta) * 2 * math.pi / period)
        ay = coords * np.float32(math.sin(theta) * 2 * math.pi / period) + np.float32(phase)
        lum += np.outer(amp * np.cos(ay), np.sin(ax)) + np.outer(amp * np.sin(ay), np.cos(ax))
    grid = int(rng.integers(3, 10))  # soft blotches: bicubic-upsampled coarse noise
    coarse = rng.standard_normal((grid, grid)).astype(np.float32)
    coarse *= np.float32(rng.uniform(4, 16))
    lum += np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC))
    lum += rng.integers(-2, 3, size=(size, size), dtype=np.int8)  # fine grain
    lum += np.float32(rng.uniform(lo + 45, hi - 45))
    grey = Image.fromarray(np.clip(lum, 0, 255).astype(np.uint8))
    tint = rng.integers(-12, 13, size=3)
    levels = np.arange(256)
    luts = [np.clip(levels + int(t), lo, hi).tolist() for t in tint]
    return Image.merge("RGB", [grey.point(lut) for lut in luts])


def _choose_items(rng: np.random.Generator, size: int, p: SceneParams) -> list[_Item]:
    """Which classes, how many instances, and how big each is."""
    area_px = size * size
    n_cls = 1 + int(rng.choice(len(p.classes_per_image), p=_norm(p.classes_per_image)))
    picked = rng.choice(len(CLASSES), size=min(n_cls, len(CLASSES)), replace=False)
    items: list[_Item] = []
    for ci in picked:
        cls = CLASSES[int(ci)]
        n = 1 + int(rng.choice(len(p.instances_per_class), p=_norm(p.instances_per_class)))
        for _ in range(n):
            lo, hi = p.small_area if rng.random() < p.p_small else p.large_area
            items.append(_sized(rng, cls, _log_uniform(rng, lo, hi) * area_px, size))
    if rng.random() < p.p_group:
        cls = CLASSES[int(rng.integers(len(CLASSES)))]
        region = math.sqrt(_log_uniform(rng, *p.group_area) * area_px)
        side = max(16, min(size, round(region)))
        members = int(rng.integers(p.group_members[0], p.group_members[1] + 1))
        items.append(_Item(cls, side, side, bool(rng.random() < 0.5), members))
    return items


def _sized(rng: np.random.Generator, cls: SynthClass, area: float, size: int) -> _Item:
    """Canvas size for one icon of ``area`` pixels with the class's (jittered) aspect ratio."""
    aspect = cls.aspect
    if cls.jitter:
        aspect *= math.exp(rng.uniform(-cls.jitter, cls.jitter))
    w = round(math.sqrt(area * aspect))
    h = round(math.sqrt(area / aspect))
    flip = cls.flippable and bool(rng.random() < 0.5)
    return _Item(cls, max(6, min(w, size)), max(6, min(h, size)), flip)


def _norm(weights: tuple[float, ...]) -> np.ndarray:
    arr = np.asarray(weights, dtype=np.float64)
    return arr / arr.sum()


def _fits(
    x: int, y: int, w: int, h: int, placed: list[tuple[int, int, int, int]], p: SceneParams
) -> bool:
    """Whether a rectangle may go at (x, y) given the rectangles already placed."""
    for px, py, pw, ph in placed:
        ix = min(x + w, px + pw) - max(x, px)
        iy = min(y + h, py + ph) - max(y, py)
        if p.occlusion:
            if ix > 0 and iy > 0 and ix * iy > 0.3 * min(w * h, pw * ph):
                return False
        elif ix > -p.gap and iy > -p.gap:
            return False
    return True


def _paint_group(item: _Item, rng: np.random.Generator) -> Image.Image:
    """A square region holding ``item.members`` tiny icons, one per jittered grid cell."""
    region = Image.new("RGBA", (item.w, item.h), (0, 0, 0, 0))
    cols = math.ceil(math.sqrt(item.members))
    rows = math.ceil(item.members / cols)
    cw, ch = item.w // cols, item.h // rows
    cells = rng.permutation(rows * cols)[: item.members]
    for cell in np.sort(cells):
        r, c = divmod(int(cell), cols)
        scale = rng.uniform(0.55, 0.85)
        w = max(4, int(cw * scale * min(1.0, item.cls.aspect)))
        h = max(4, int(ch * scale / max(1.0, item.cls.aspect)))
        ox = c * cw + int(rng.integers(0, cw - w + 1))
        oy = r * ch + int(rng.integers(0, ch - h + 1))
        icon = paint_icon(item.cls, w, h, flip=bool(rng.random() < 0.5) and item.cls.flippable)
        region.paste(icon, (ox, oy), icon)
    return region


def render_scene(
    seed: int, index: int, size: int, params: SceneParams | None = None
) -> tuple[Image.Image, list[SceneBox]]:
    """Render scene ``index`` of the dataset with ``seed``: the RGB image and its boxes.

    Items are placed largest first at random free positions; one that finds no room within
    ``max_tries`` is dropped before drawing, so every box annotates exactly one drawn object.
    """
    p = params or _DEFAULTS
    rng = scene_rng(seed, index)
    image = render_background(rng, size)
    items = sorted(_choose_items(rng, size, p), key=lambda it: -(it.w * it.h))
    placed: list[tuple[int, int, int, int]] = []
    boxes: list[SceneBox] = []
    for item in items:
        xs = rng.integers(0, size - item.w + 1, size=p.max_tries)
        ys = rng.integers(0, size - item.h + 1, size=p.max_tries)
        spot = next(
            (
                (int(x), int(y))
                for x, y in zip(xs, ys, strict=True)
                if _fits(int(x), int(y), item.w, item.h, placed, p)
            ),
            None,
        )
        if spot is None:
            continue
        canvas = (
            _paint_group(item, rng)
            if item.members
            else paint_icon(item.cls, item.w, item.h, item.flip)
        )
        bbox = canvas.getbbox()  # tight box of non-transparent pixels
        if bbox is None:
            continue
        x, y = spot
        image.paste(canvas, spot, canvas)
        placed.append((x, y, item.w, item.h))
        l, t, r, b = bbox
        boxes.append(SceneBox(item.cls.id, x + l, y + t, r - l, b - t, bool(item.members)))
    return image, boxes
