"""The synthetic source's class catalogue and the icon painter.

Each class is one row of :data:`CLASSES`: a COCO-style (non-contiguous) category id, an English
noun naming what is drawn, a supercategory, one saturated body colour, a natural aspect ratio and
a list of drawing primitives in unit coordinates. Classes differ in shape *and* colour, so a model
can genuinely tell them apart.

Colour contract (the tests rely on it): body colours are saturated (channel max - min >= 100) and
pairwise far apart; the only other colours an icon uses are :data:`INK` (near black) and
:data:`PAPER` (near white). Backgrounds are low-saturation greys inside ``BACKGROUND_RANGE``, so no
background pixel can ever equal an icon colour.

Icons are painted without anti-aliasing onto a transparent RGBA canvas: every pixel is either
fully transparent or exactly one of the colours above, which keeps PNG outputs exact and lets the
renderer take the tight bounding box straight from the alpha channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from PIL import Image, ImageDraw

__all__ = [
    "BACKGROUND_RANGE",
    "CLASSES",
    "INK",
    "PAPER",
    "RGB",
    "Primitive",
    "SynthClass",
    "paint_icon",
]

RGB = tuple[int, int, int]

INK: RGB = (24, 24, 24)
"""Detail colour for wheels, trunks, eyes: darker than any background pixel."""

PAPER: RGB = (242, 242, 242)
"""Detail colour for windows, petals' centres, stems: brighter than any background pixel."""

BACKGROUND_RANGE: tuple[int, int] = (52, 212)
"""Inclusive channel range of background pixels (keeps INK and PAPER unambiguous)."""

# A primitive is (kind, colour role, geometry). Geometry is in unit coordinates of the icon's
# canvas (0..1 on both axes). Roles: "body" = the class colour, "ink"/"paper" = detail colours,
# "erase" = make transparent again (cuts holes, e.g. the crescent's bite).
Role = Literal["body", "ink", "paper", "erase"]
Kind = Literal["ellipse", "rect", "polygon", "chord"]
Primitive = tuple[Kind, Role, tuple[float, ...]]


@dataclass(frozen=True)
class SynthClass:
    """One synthetic class: identity (id, name, parent), look (colour, primitives) and shape."""

    id: int
    """COCO category id; deliberately non-contiguous so no reader can assume 1..K."""
    name: str
    """English noun for what is drawn (questions pluralise it: "mice", "leaves", "buses")."""
    supercategory: str
    """Parent node, written as COCO ``supercategory``."""
    colour: RGB
    """Body colour; unique per class and saturated."""
    aspect: float
    """Natural width / height of the icon."""
    primitives: tuple[Primitive, ...]
    """Drawing recipe in unit coordinates, painted in order."""
    jitter: float = 0.15
    """Random log-aspect jitter (0 keeps circles round and squares square)."""
    flippable: bool = False
    """Whether the icon may be mirrored left-right (arrows, fish, vehicles)."""


def _regular(n: int, inner: float | None = None, start_deg: float = -90.0) -> tuple[float, ...]:
    """Flattened vertices of a regular polygon (or a star if ``inner`` is set), scaled to 0..1."""
    pts: list[tuple[float, float]] = []
    steps = 2 * n if inner is not None else n
    for i in range(steps):
        r = inner if inner is not None and i % 2 else 1.0
        a = math.radians(start_deg + 360.0 * i / steps)
        pts.append((r * math.cos(a), r * math.sin(a)))
    return _fit(pts)


def _lens(n: int = 24, bulge: float = 0.5) -> tuple[float, ...]:
    """A pointed leaf outline: two sine arcs meeting at the tips, scaled to 0..1."""
    top = [(i / n, 0.5 - bulge * math.sin(math.pi * i / n)) for i in range(n + 1)]
    bottom = [(1 - i / n, 0.5 + bulge * math.sin(math.pi * i / n)) for i in range(1, n)]
    return _fit(top + bottom)


def _fit(pts: list[tuple[float, float]]) -> tuple[float, ...]:
    """Scale points so they span exactly 0..1 on both axes; flattened to (x0, y0, x1, y1, ...)."""
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    x0, y0, sx, sy = min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)
    return tuple(v for x, y in pts for v in ((x - x0) / sx, (y - y0) / sy))


def _petals() -> tuple[Primitive, ...]:
    """Five round petals around a paper-coloured centre."""
    out: list[Primitive] = []
    for i in range(5):
        a = math.radians(-90 + 72 * i)
        cx, cy = 0.5 + 0.3 * math.cos(a), 0.5 + 0.3 * math.sin(a)
        out.append(("ellipse", "body", (cx - 0.2, cy - 0.2, cx + 0.2, cy + 0.2)))
    out.append(("ellipse", "paper", (0.36, 0.36, 0.64, 0.64)))
    return tuple(out)


# fmt: off  (a table reads best one class per row)
CLASSES: tuple[SynthClass, ...] = (
    # -- shape ---------------------------------------------------------------------------------
    SynthClass(
        1, "circle", "shape", (220, 40, 40), 1.0, (("ellipse", "body", (0, 0, 1, 1)),), jitter=0.0
    ),
    SynthClass(
        2, "square", "shape", (40, 80, 220), 1.0, (("rect", "body", (0, 0, 1, 1)),), jitter=0.0
    ),
    SynthClass(
        4, "triangle", "shape", (40, 170, 60), 1.1, (("polygon", "body", (0.5, 0, 1, 1, 0, 1)),)
    ),
    SynthClass(
        5,
        "diamond",
        "shape",
        (20, 190, 210),
        0.72,
        (("polygon", "body", (0.5, 0, 1, 0.5, 0.5, 1, 0, 0.5)),),
    ),
    SynthClass(
        7,
        "hexagon",
        "shape",
        (250, 140, 0),
        1.12,
        (("polygon", "body", _regular(6, start_deg=0.0)),),
    ),
    # -- symbol --------------------------------------------------------------------------------
    SynthClass(
        11,
        "star",
        "symbol",
        (250, 225, 0),
        1.05,
        (("polygon", "body", _regular(5, inner=0.45)),),
        jitter=0.05,
    ),
    SynthClass(
        12,
        "heart",
        "symbol",
        (235, 70, 150),
        1.1,
        (
            ("ellipse", "body", (0, 0, 0.54, 0.56)),
            ("ellipse", "body", (0.46, 0, 1, 0.56)),
            ("polygon", "body", (0.02, 0.4, 0.98, 0.4, 0.5, 1)),
        ),
        jitter=0.05,
    ),
    SynthClass(
        14,
        "cross",
        "symbol",
        (120, 50, 200),
        1.0,
        (
            ("rect", "body", (0, 0.33, 1, 0.67)),
            ("rect", "body", (0.33, 0, 0.67, 1)),
        ),
        jitter=0.05,
    ),
    SynthClass(
        15,
        "arrow",
        "symbol",
        (0, 128, 128),
        1.7,
        (
            ("rect", "body", (0, 0.33, 0.6, 0.67)),
            ("polygon", "body", (0.52, 0, 1, 0.5, 0.52, 1)),
        ),
        flippable=True,
    ),
    SynthClass(
        17,
        "crescent",
        "symbol",
        (160, 230, 40),
        0.8,
        (
            ("ellipse", "body", (0, 0, 1, 1)),
            ("ellipse", "erase", (0.38, -0.08, 1.45, 0.92)),
        ),
        jitter=0.05,
        flippable=True,
    ),
    # -- plant ---------------------------------------------------------------------------------
    SynthClass(
        21,
        "leaf",
        "plant",
        (0, 105, 15),
        1.8,
        (
            ("polygon", "body", _lens()),
            ("rect", "paper", (0.08, 0.47, 0.9, 0.53)),
        ),
        flippable=True,
    ),
    SynthClass(22, "flower", "plant", (200, 110, 240), 1.0, _petals(), jitter=0.05),
    SynthClass(
        24,
        "tree",
        "plant",
        (120, 150, 0),
        0.75,
        (
            ("polygon", "body", (0.5, 0, 1, 0.78, 0, 0.78)),
            ("rect", "ink", (0.4, 0.78, 0.6, 1)),
        ),
    ),
    SynthClass(
        25,
        "mushroom",
        "plant",
        (150, 75, 20),
        1.0,
        (
            ("chord", "body", (0, 0, 1, 1.2, 180, 360)),
            ("rect", "paper", (0.36, 0.58, 0.64, 1)),
            ("ellipse", "paper", (0.25, 0.18, 0.4, 0.33)),
            ("ellipse", "paper", (0.6, 0.25, 0.72, 0.37)),
        ),
        jitter=0.1,
    ),
    # -- vehicle -------------------------------------------------------------------------------
    SynthClass(
        31,
        "bus",
        "vehicle",
        (255, 0, 255),
        1.8,
        (
            ("rect", "body", (0, 0, 1, 0.84)),
            *(("rect", "paper", (0.06 + 0.19 * i, 0.14, 0.2 + 0.19 * i, 0.44)) for i in range(5)),
            ("ellipse", "ink", (0.12, 0.68, 0.3, 1)),
            ("ellipse", "ink", (0.7, 0.68, 0.88, 1)),
        ),
        flippable=True,
    ),
    SynthClass(
        33,
        "boat",
        "vehicle",
        (20, 30, 140),
        1.1,
        (
            ("polygon", "body", (0, 0.66, 1, 0.66, 0.8, 1, 0.2, 1)),
            ("polygon", "body", (0.52, 0, 0.52, 0.6, 0.92, 0.6)),
            ("rect", "ink", (0.46, 0.02, 0.5, 0.66)),
        ),
        flippable=True,
    ),
    # -- animal --------------------------------------------------------------------------------
    SynthClass(
        41,
        "fish",
        "animal",
        (90, 160, 250),
        1.7,
        (
            ("ellipse", "body", (0, 0.12, 0.76, 0.88)),
            ("polygon", "body", (0.64, 0.5, 1, 0.06, 1, 0.94)),
            ("ellipse", "ink", (0.12, 0.34, 0.22, 0.48)),
        ),
        flippable=True,
    ),
    SynthClass(
        43,
        "mouse",
        "animal",
        (150, 0, 110),
        1.6,
        (
            ("ellipse", "body", (0, 0.3, 0.78, 1)),
            ("ellipse", "body", (0.08, 0, 0.4, 0.5)),
            ("rect", "body", (0.7, 0.74, 1, 0.82)),
            ("ellipse", "ink", (0.06, 0.5, 0.14, 0.6)),
        ),
        flippable=True,
    ),
)
# fmt: on
"""The built-in class table: 18 classes under 5 supercategories."""


def paint_icon(cls: SynthClass, width: int, height: int, flip: bool = False) -> Image.Image:
    """Paint ``cls`` onto a transparent ``width x height`` RGBA canvas (no anti-aliasing).

    The icon spans the canvas; the caller crops to the alpha bounding box to get the exact box.
    """
    canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)  # plain mode: writes pixels, no blending
    sx, sy = width - 1, height - 1
    fills: dict[str, tuple[int, int, int, int]] = {
        "body": (*cls.colour, 255),
        "ink": (*INK, 255),
        "paper": (*PAPER, 255),
        "erase": (0, 0, 0, 0),
    }
    for kind, role, geo in cls.primitives:
        fill = fills[role]
        if kind == "polygon":
            pts = [(geo[i] * sx, geo[i + 1] * sy) for i in range(0, len(geo), 2)]
            draw.polygon(pts, fill=fill)
            continue
        box = (geo[0] * sx, geo[1] * sy, geo[2] * sx, geo[3] * sy)
        if kind == "ellipse":
            draw.ellipse(box, fill=fill)
        elif kind == "rect":
            draw.rectangle(box, fill=fill)
        else:  # chord: geo[4:6] are start/end angles in degrees
            draw.chord(box, geo[4], geo[5], fill=fill)
    if flip:
        canvas = canvas.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return canvas
