"""Hundreds of queries per task on real COCO (coco_tiny) and on the synthetic source, each
checked against the raw annotation JSON parsed here with plain ``json``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicgen.errors import SamplingError, SpecError
from mimicgen.index.table import build_index
from mimicgen.sources.coco import read_coco
from mimicgen.tasks import sample
from mimicgen.tasks.common_task import CommonSpec
from mimicgen.tasks.counting import CountingSpec
from mimicgen.tasks.listing import ListingSpec
from mimicgen.tasks.odd_one import OddOneSpec

from .rawcheck import check_query, raw_from_coco_json

SPECS = [
    CountingSpec(name="cb", num_queries=200, n_images=7, totals=(2, 3, 4), spread=(1, 4)),
    CountingSpec(name="cu", num_queries=200, n_images=(2, 12), balanced=False, spread=(1, 4)),
    CountingSpec(name="ck", num_queries=100, n_images=(3, 7), k=2, totals=(2, 3)),
    CommonSpec(name="co", num_queries=200, n_images=(2, 5)),
    ListingSpec(name="li", num_queries=200, n_images=(2, 8)),
]


def _check_all(index, data, specs) -> int:
    raw, members = raw_from_coco_json(data)
    checked = 0
    for spec in specs:
        queries = sample(spec, index)
        assert len(queries) == spec.num_queries
        for q in queries:
            assert check_query(q, raw, 0.05, members) == [], (spec.name, q)
            # Source ids are the JSON's own image ids and file names match them.
            assert all(i.source_id in raw for i in q.images)
        checked += len(queries)
    return checked


@pytest.fixture(scope="module")
def coco_val(coco_tiny: Path):
    path = coco_tiny / "annotations" / "instances_val2017.json"
    return build_index(read_coco(path)), json.loads(path.read_text())


def test_coco_tiny_queries_match_raw_json(coco_val) -> None:
    index, data = coco_val
    assert _check_all(index, data, SPECS) == 900


def test_coco_tiny_odd_one_is_valid_or_names_the_shortfall(coco_tiny: Path, coco_val) -> None:
    """coco_tiny holds one image per category with many classes each, so odd-one sets are rare:
    the val file has none at all (checked by brute force while writing this test), the train
    file a handful of 3-image ones (e.g. {teddy bear} against two {backpack, person, skis})."""
    index, _ = coco_val
    with pytest.raises(SamplingError, match=r"odd_one spec 'o6'.*\d+ of 80 pool classes"):
        sample(OddOneSpec(name="o6", num_queries=5, n_images=(4, 6), max_attempts=50), index)
    path = coco_tiny / "annotations" / "instances_train2017.json"
    raw, members = raw_from_coco_json(json.loads(path.read_text()))
    train = build_index(read_coco(path))
    # No image set repeats within a spec: the handful of 3-image sets allows a few queries,
    # and asking for 30 names the shortfall.
    queries = sample(OddOneSpec(name="oo", num_queries=8, n_images=3, max_attempts=1000), train)
    assert len(queries) == 8
    assert len({tuple(sorted(i.source_id for i in q.images)) for q in queries}) == 8
    for q in queries:
        assert check_query(q, raw, 0.05, members) == []
    with pytest.raises(SamplingError, match=r"odd_one spec 'oo2': query \d+ found no image set"):
        sample(OddOneSpec(name="oo2", num_queries=30, n_images=3, max_attempts=1000), train)


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from mimicgen.sources.synthetic import render_dataset

    ann = render_dataset(tmp_path_factory.mktemp("synth") / "ds", 200, 7, image_size=64)
    return build_index(read_coco(ann)), json.loads(ann.read_text())


def test_synthetic_queries_match_raw_json(synthetic) -> None:
    index, data = synthetic
    # The synthetic scenes give a few dozen distinct odd-one image sets (no set repeats).
    specs = [*SPECS, OddOneSpec(name="oo", num_queries=30, n_images=(3, 5))]
    assert _check_all(index, data, specs) == 930


def test_listing_skips_one_member_categories(coco_val) -> None:
    """COCO 'person' has one member; a default listing spec never asks for its sub-categories
    (supercategory sizes re-counted from the raw JSON)."""
    index, data = coco_val
    sizes: dict[str, int] = {}
    for c in data["categories"]:
        sizes[c["supercategory"]] = sizes.get(c["supercategory"], 0) + 1
    assert sizes["person"] == 1
    used = {
        q.controls["category"]
        for q in sample(ListingSpec(name="li2", num_queries=100, n_images=(2, 8)), index)
    }
    assert used and all(sizes[c] >= 2 for c in used)
    one = ListingSpec(name="li1", num_queries=20, n_images=(2, 8), min_members=1)
    assert "person" in {q.controls["category"] for q in sample(one, index)}


@pytest.mark.parametrize("category", ["person", ("animal", "person")])
def test_listing_refuses_a_named_one_member_category(coco_val, category) -> None:
    """A spec naming 'person' (one member in the raw JSON) is refused with one line that
    names the category, its size and min_members; min_members: 1 asks about it anyway."""
    index, data = coco_val
    members = [c["name"] for c in data["categories"] if c["supercategory"] == "person"]
    assert members == ["person"]
    spec = ListingSpec(name="lp", num_queries=5, n_images=(2, 4), category=category)
    with pytest.raises(SpecError, match=r"category 'person' has 1 member .*min_members 2") as e:
        sample(spec, index)
    assert "\n" not in str(e.value)
    opt_in = spec.model_copy(update={"min_members": 1, "category": "person"})
    assert {tuple(q.answer["classes"]) for q in sample(opt_in, index)} == {("person",)}
