"""YAML spec loading: include resolution, deep merge, cycles, errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from mimicgen.errors import SpecError
from mimicgen.specs import (
    load_spec,
    load_suite,
    shipped_specs_dir,
    spec_files,
    spec_hash,
    with_overrides,
)
from mimicgen.tasks.counting import CountingSpec


def _w(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_include_is_relative_and_deep_merged(tmp_path: Path) -> None:
    _w(
        tmp_path / "base" / "common.yaml",
        "seed: 5\npresence:\n  min_box_area_frac: 0.1\n"
        "  group_blocks_counting: false\nn_images: 7\n",
    )
    _w(tmp_path / "base" / "counting.yaml", "include: common.yaml\ntask: counting\nk: 2\n")
    spec = load_spec(
        _w(
            tmp_path / "suite" / "my_count.yaml",
            "include: ../base/counting.yaml\npresence:\n  min_box_area_frac: 0.2\n",
        )
    )
    assert isinstance(spec, CountingSpec)
    assert spec.name == "my_count" and spec.seed == 5 and spec.k == 2 and spec.n_images == 7
    assert spec.presence.min_box_area_frac == 0.2  # override wins
    assert spec.presence.group_blocks_counting is False  # sibling key kept by the deep merge


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    f = _w(tmp_path / "x.yaml", "task: counting\npresence:\n  min_box_area: 0.1\n")
    with pytest.raises(
        SpecError, match=r"x\.yaml: invalid spec: unknown key 'presence\.min_box_area'"
    ):
        load_spec(f)
    g = _w(tmp_path / "y.yaml", "task: listing\nn_images: [5, 2]\n")
    with pytest.raises(SpecError, match=r"y\.yaml.*n_images range \[5, 2\] is empty"):
        load_spec(g)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("task: counting\nn_images: 3\nspread: 4\n", "spread minimum 4 exceeds n_images minimum 3"),
        ("task: counting\nn_images: [3, 9]\nk: 4\n", "k minimum 4 exceeds n_images minimum 3"),
        (
            "task: listing\nn_images: [2, 5]\nspread: 3\n",
            "spread minimum 3 exceeds n_images minimum 2",
        ),
    ],
)
def test_per_query_counts_must_fit_the_fewest_images(
    tmp_path: Path, body: str, message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        load_spec(_w(tmp_path / "s.yaml", body))


def test_include_cycle_and_missing(tmp_path: Path) -> None:
    _w(tmp_path / "a.yaml", "include: b.yaml\ntask: common\n")
    _w(tmp_path / "b.yaml", "include: a.yaml\n")
    with pytest.raises(SpecError, match=r"include cycle: .*a\.yaml -> .*b\.yaml -> .*a\.yaml"):
        load_spec(tmp_path / "a.yaml")
    _w(tmp_path / "c.yaml", "include: nothere.yaml\n")
    with pytest.raises(SpecError, match=r"spec file not found: .*nothere\.yaml \(included from"):
        load_spec(tmp_path / "c.yaml")
    _w(tmp_path / "d.yaml", "task: [unclosed\n")
    with pytest.raises(SpecError, match="is not valid YAML"):
        load_spec(tmp_path / "d.yaml")


def test_spec_hash_is_canonical(tmp_path: Path) -> None:
    a = load_spec(_w(tmp_path / "s.yaml", "task: common\nseed: 1\nn_images: [3, 4]\n"))
    b = load_spec(_w(tmp_path / "t" / "s.yaml", "n_images: [3, 4]\nseed: 1\ntask: common\n"))
    assert spec_hash(a) == spec_hash(b) and len(spec_hash(a)) == 64
    assert spec_hash(with_overrides(a, {"seed": 2})) != spec_hash(a)


def test_overrides_and_relative_source_paths(tmp_path: Path) -> None:
    ann = _w(tmp_path / "data" / "ann.json", "{}")
    spec = load_spec(
        _w(
            tmp_path / "s.yaml",
            "task: common\nsource:\n  kind: coco\n  annotations: data/ann.json\n",
        )
    )
    assert spec.source.annotations == ann
    moved = with_overrides(spec, {"source.annotations": "/elsewhere.json", "num_queries": 3})
    assert str(moved.source.annotations) == "/elsewhere.json" and moved.num_queries == 3
    with pytest.raises(SpecError, match="unknown key 'nope'"):
        with_overrides(spec, {"nope": 1})


def test_shipped_specs_load_with_table1_shapes() -> None:
    root = shipped_specs_dir()
    files = spec_files(root)
    assert not any("base" in f.parts for f in files)
    coco = {s.name: s for s in load_suite([root / "coco_eval"])}
    assert {n: s.num_queries for n, s in coco.items()} == {
        "counting_balanced": 5000,
        "counting_unbalanced": 5800,
        "common": 1000,
        "odd_one": 1000,
        "listing": 1000,
    }
    assert coco["counting_balanced"].n_images == 7
    assert coco["counting_unbalanced"].n_images == (2, 35)
    assert coco["common"].n_images == (3, 8) and coco["odd_one"].n_images == (4, 6)
    assert coco["listing"].n_images == (2, 8)
    assert all(s.source.kind == "coco" and s.split == "eval" for s in coco.values())
    train = load_suite([root / "openimages_train"])
    assert all(s.split == "train" and s.num_queries == 50000 for s in train)
    demo = load_suite([root / "demo"])
    assert sorted(s.task for s in demo) == ["common", "counting", "counting", "listing", "odd_one"]
    assert all(s.source.kind == "synthetic" for s in demo)
    with pytest.raises(SpecError, match="two specs are named 'common'"):
        load_suite([root / "coco_eval" / "common.yaml", root / "demo" / "common.yaml"])
