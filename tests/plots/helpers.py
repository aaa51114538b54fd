"""Independent readers and image checks shared by the plot tests."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

MIN_PIXEL_STD = 8.0
"""A figure with content has grey-level std well above this; a blank canvas has ~0."""


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Plain-json JSONL reader (not the package's)."""
    return [
        json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()
    ]


def png_stats(path: Path) -> tuple[tuple[int, int], float]:
    """(width, height) and grey-level standard deviation of a PNG."""
    with Image.open(path) as im:
        return im.size, float(np.asarray(im.convert("L"), dtype=float).std())


def svg_root_tag(path: Path) -> str:
    """Tag of the SVG's root element (raises if the file is not well-formed XML)."""
    return ET.parse(path).getroot().tag
