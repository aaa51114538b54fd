"""The numpy in-memory group-by equals counts derived directly from the boxes."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

import mimicgen.index.table as table_mod
from mimicgen.index.rules import PresenceRules
from mimicgen.index.table import aggregate_in_memory


def _boxes(image_idx: np.ndarray, class_idx: np.ndarray, area: np.ndarray, group: np.ndarray) -> pl.DataFrame:  # fmt: skip
    return pl.DataFrame(
        {
            "image_idx": image_idx.astype(np.uint32),
            "class_idx": class_idx.astype(np.uint32),
            "area_frac": area.astype(np.float32),
            "is_group": group,
        }
    )


@pytest.mark.parametrize("order", ["random", "by_image", "by_image_in_parts"])
def test_counts_match_a_plain_recount(order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if order == "by_image_in_parts":  # small parts, several threads, as for OpenImages train
        monkeypatch.setattr(table_mod, "_PART_ROWS", 700)
        monkeypatch.setattr(table_mod, "usable_cpus", lambda: 4)
    rng = np.random.default_rng(7)
    n = 5000
    image, cls = rng.integers(0, 300, n), rng.integers(0, 12, n)
    area, group = rng.choice([0.01, 0.04, 0.2, 0.7], n), rng.random(n) < 0.1
    if order != "random":  # stable sort by image: classes stay shuffled within an image
        keep = np.argsort(image, kind="stable")
        image, cls, area, group = image[keep], cls[keep], area[keep], group[keep]
    table = aggregate_in_memory(_boxes(image, cls, area, group), PresenceRules())
    expected: dict[tuple[int, int], list[float]] = {}
    for i, c, a, g in zip(image.tolist(), cls.tolist(), area.tolist(), group.tolist(), strict=True):
        e = expected.setdefault((i, c), [0, 0, 0, 9.0, 0.0])
        e[0] += 1
        e[1] += (a < 0.05) and not g
        e[2] += g
        e[3], e[4] = min(e[3], a), max(e[4], a)
    assert list(zip(table["image_idx"], table["class_idx"], strict=True)) == sorted(expected)
    for row in table.iter_rows(named=True):
        n_all, n_small, n_group, lo, hi = expected[(row["image_idx"], row["class_idx"])]
        assert (row["n_instances"], row["n_small"], row["n_group"]) == (n_all, n_small, n_group)
        assert row["n_recognisable"] == n_all - n_small - n_group
        assert row["min_area_frac"] == pytest.approx(lo) and row["max_area_frac"] == pytest.approx(
            hi
        )


def test_pairs_with_more_than_65535_boxes() -> None:
    """Counts are packed into one UInt32 only when every pair is small enough."""
    n = 70_000
    group = np.arange(n) % 7 == 0
    area = np.where(np.arange(n) % 2 == 0, 0.01, 0.5)
    table = aggregate_in_memory(
        _boxes(np.zeros(n), np.zeros(n), area, group), PresenceRules(min_box_area_frac=0.05)
    )
    small = int(((area < 0.05) & ~group).sum())
    assert table.rows() == [
        (0, 0, n, n - small - int(group.sum()), small, int(group.sum()), pytest.approx(0.01),
         pytest.approx(0.5)),
    ]  # fmt: skip


def test_empty_table() -> None:
    empty = np.zeros(0)
    table = aggregate_in_memory(_boxes(empty, empty, empty, empty.astype(bool)), PresenceRules())
    assert table.height == 0


def test_ids_too_large_for_a_32_bit_key() -> None:
    image = np.array([2**31, 5, 2**31, 2**31])
    cls = np.array([7, 3, 7, 1])
    table = aggregate_in_memory(
        _boxes(image, cls, np.array([0.5, 0.5, 0.01, 0.5]), np.zeros(4, dtype=bool)),
        PresenceRules(),
    )
    assert table.select("image_idx", "class_idx", "n_instances", "n_small").rows() == [
        (5, 3, 1, 0),
        (2**31, 1, 1, 0),
        (2**31, 7, 2, 1),
    ]
