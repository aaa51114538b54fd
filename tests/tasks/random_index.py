"""Small random annotation sources for property tests, plus their raw box lists."""

from __future__ import annotations

from typing import Any

import numpy as np
import polars as pl

from mimicgen.index.table import AnnotationIndex, build_index
from mimicgen.sources.base import (
    BOX_SCHEMA,
    CLASS_SCHEMA,
    IMAGE_SCHEMA,
    Hierarchy,
    SourceData,
)

from .rawcheck import Raw

#: Box sizes drawn for random boxes: two below and two above the 5% threshold.
AREAS = (0.01, 0.03, 0.08, 0.2)


def random_source(
    seed: int,
    n_images: int,
    n_classes: int,
    n_parents: int = 2,
    max_classes_per_image: int = 3,
    max_instances: int = 3,
    p_small: float = 0.25,
    p_group: float = 0.1,
) -> tuple[SourceData, Raw, dict[str, list[str]]]:
    """A random COCO-like source; returns it with ``raw`` boxes and the parent -> members map."""
    rng = np.random.default_rng(seed)
    names = [f"class{c}" for c in range(n_classes)]
    parents = [f"group{c % n_parents}" for c in range(n_classes)]
    rows: list[dict[str, Any]] = []
    raw: Raw = {}
    for i in range(n_images):
        sid = 1000 + i
        raw[sid] = {}
        k = int(rng.integers(0, max_classes_per_image + 1))
        for c in rng.choice(n_classes, size=min(k, n_classes), replace=False).tolist():
            for _ in range(int(rng.integers(1, max_instances + 1))):
                group = bool(rng.random() < p_group)
                area = float(
                    AREAS[int(rng.integers(0, 2))]
                    if rng.random() < p_small
                    else AREAS[2 + int(rng.integers(0, 2))]
                )
                side = area**0.5
                rows.append(
                    {
                        "image_idx": i,
                        "class_idx": c,
                        "x0": 0.0,
                        "y0": 0.0,
                        "x1": side,
                        "y1": side,
                        "area_frac": area,
                        "is_group": group,
                        "is_occluded": False,
                        "is_truncated": False,
                        "is_depiction": False,
                    }
                )
                raw[sid].setdefault(names[c], []).append((area, group))
    images = pl.DataFrame(
        {
            "image_idx": list(range(n_images)),
            "source_id": [1000 + i for i in range(n_images)],
            "file_name": [f"{1000 + i}.jpg" for i in range(n_images)],
            "width": [100] * n_images,
            "height": [100] * n_images,
        },
        schema=IMAGE_SCHEMA,
    )
    classes = pl.DataFrame(
        {
            "class_idx": list(range(n_classes)),
            "source_class_id": list(range(1, n_classes + 1)),
            "name": names,
            "parent": parents,
        },
        schema=CLASS_SCHEMA,
    )
    boxes = pl.DataFrame(rows, schema=BOX_SCHEMA) if rows else pl.DataFrame(schema=BOX_SCHEMA)
    members: dict[str, list[str]] = {}
    for n, p in zip(names, parents, strict=True):
        members.setdefault(p, []).append(n)
    hierarchy = Hierarchy(children={p: tuple(m) for p, m in members.items()})
    source = SourceData(
        kind="coco",
        images=images,
        classes=classes,
        boxes=boxes,
        hierarchy=hierarchy,
        files=(),
        image_root=None,
    )
    return source, raw, members


def random_index(seed: int, **kw: Any) -> tuple[AnnotationIndex, Raw, dict[str, list[str]]]:
    source, raw, members = random_source(seed, **kw)
    return build_index(source), raw, members
