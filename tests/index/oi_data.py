"""Writers of small OpenImages-format files for tests (real column layout, real class ids).

Generation only; tests re-count from the written files with the plain ``csv`` module.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

BOX_HEADER = [
    "ImageID", "Source", "LabelName", "Confidence", "XMin", "XMax", "YMin", "YMax",
    "IsOccluded", "IsTruncated", "IsGroupOf", "IsDepiction", "IsInside",
    "XClick1X", "XClick2X", "XClick3X", "XClick4X", "XClick1Y", "XClick2Y", "XClick3Y", "XClick4Y",
]  # fmt: skip


#: The real class CSV's file name in the ``openimages_meta`` folder.
CLASSES = "oidv7-class-descriptions-boxable.csv"


def real_labels(meta: Path) -> list[str]:
    """The 601 boxable LabelNames from the real class CSV."""
    with (meta / CLASSES).open(newline="") as f:
        return [row["LabelName"] for row in csv.DictReader(f)]


def label_named(meta: Path, display_name: str) -> str:
    """The LabelName of the class with this DisplayName in the real class CSV."""
    with (meta / CLASSES).open(newline="") as f:
        return next(r["LabelName"] for r in csv.DictReader(f) if r["DisplayName"] == display_name)


def write_boxes_csv(path: Path, labels: list[str], n_rows: int, n_images: int, seed: int) -> Path:
    """Random boxes over ``n_images`` images and the given labels; ~10% group, ~30% small."""
    rng = np.random.default_rng(seed)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(BOX_HEADER)
        for _ in range(n_rows):
            image = f"{int(rng.integers(n_images)):016x}"
            label = labels[int(rng.integers(len(labels)))]
            side = float(rng.choice([0.05, 0.15, 0.3, 0.6]))  # 0.05*0.05 < 5%: small boxes
            x0, y0 = (float(v) for v in rng.uniform(0.0, 1.0 - side, 2))
            row = [
                image, "xclick", label, "1",
                f"{x0:.6f}", f"{x0 + side:.6f}", f"{y0:.6f}", f"{y0 + side:.6f}",
                str(int(rng.integers(-1, 2))), "0", str(int(rng.random() < 0.1)), "0", "0",
                *["-1"] * 8,
            ]  # fmt: skip
            writer.writerow(row)
    return path
