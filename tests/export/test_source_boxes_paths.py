"""Manifest source entries of the synthetic source name the render cache by placeholder; the
box lookup of the FiftyOne export resolves them on this machine, or renders again."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimicgen.export.source_boxes import _entry_spec
from mimicgen.sources.registry import CACHE_PLACEHOLDER, expand_cache_path

ENTRY = {
    "kind": "synthetic",
    "annotations": "<cache>/synthetic/n50-s2-v1/annotations.json",
    "image_root": "<cache>/synthetic/n50-s2-v1/images",
}
SPEC_SOURCE = {"kind": "synthetic", "n_images": 50, "seed": 2}


def test_placeholder_expands_under_the_cache_folder(tmp_path: Path) -> None:
    assert CACHE_PLACEHOLDER == "<cache>"
    got = expand_cache_path(ENTRY["annotations"], tmp_path)
    assert got == str(tmp_path / "synthetic" / "n50-s2-v1" / "annotations.json")
    assert expand_cache_path("/data/coco/instances_val2017.json", tmp_path) == (
        "/data/coco/instances_val2017.json"
    )
    assert expand_cache_path("<cache>x/a.json", tmp_path) == "<cache>x/a.json"  # not the prefix


def test_rendered_file_in_this_cache_is_read_as_coco(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path))
    folder = tmp_path / "synthetic" / "n50-s2-v1"
    (folder / "images").mkdir(parents=True)
    (folder / "annotations.json").write_text("{}")
    spec = _entry_spec(ENTRY, tmp_path / "bench", SPEC_SOURCE)
    assert spec.kind == "coco"
    assert spec.annotations == folder / "annotations.json"
    assert spec.image_root == folder / "images"


def test_render_cache_elsewhere_falls_back_to_the_spec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MIMICGEN_CACHE_DIR", str(tmp_path / "empty"))
    spec = _entry_spec(ENTRY, tmp_path / "bench", SPEC_SOURCE)
    assert (spec.kind, spec.n_images, spec.seed) == ("synthetic", 50, 2)
