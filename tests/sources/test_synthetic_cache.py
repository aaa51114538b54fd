"""``ensure_rendered``: the cached synthetic dataset behind ``mimicgen build`` with no source."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mimicgen.sources import synthetic
from mimicgen.sources.synthetic import RENDERER_VERSION, ensure_rendered


def test_renders_once_into_versioned_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = ensure_rendered(4, 5, tmp_path)
    assert ann == tmp_path / "synthetic" / f"n4-s5-v{RENDERER_VERSION}" / "annotations.json"
    doc = json.loads(ann.read_text())
    assert len(doc["images"]) == 4 and doc["info"]["seed"] == 5
    assert (ann.parent / ".complete").is_file()
    mtime = ann.stat().st_mtime_ns

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("a complete cached dataset must not be rendered again")

    monkeypatch.setattr(synthetic, "_write_dataset", boom)
    assert ensure_rendered(4, 5, tmp_path) == ann
    assert ann.stat().st_mtime_ns == mtime


def test_incomplete_folder_is_replaced(tmp_path: Path) -> None:
    final = tmp_path / "synthetic" / f"n3-s0-v{RENDERER_VERSION}"
    (final / "images").mkdir(parents=True)
    (final / "annotations.json").write_text("{truncated")  # a crash before the marker
    ann = ensure_rendered(3, 0, tmp_path)
    assert len(json.loads(ann.read_text())["images"]) == 3
    assert [p.name for p in (tmp_path / "synthetic").iterdir()] == [final.name]


def test_concurrent_callers_agree(tmp_path: Path) -> None:
    with ThreadPoolExecutor(max_workers=3) as pool:
        paths = list(pool.map(lambda _: ensure_rendered(5, 9, tmp_path), range(3)))
    assert len(set(paths)) == 1
    assert len(json.loads(paths[0].read_text())["images"]) == 5
    # Losers discard their staging copies: only the final folder remains.
    assert [p.name for p in (tmp_path / "synthetic").iterdir()] == [paths[0].parent.name]
    single = ensure_rendered(5, 9, tmp_path / "other")
    assert single.read_bytes() == paths[0].read_bytes()
