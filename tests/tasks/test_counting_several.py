"""Balanced counting with k > 1: feasible specs build (an image may hold several targets),
answers re-derived from the raw annotation JSON with plain ``json``, impossible specs refused
with a non-empty range."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicgen.errors import SamplingError
from mimicgen.index.table import build_index
from mimicgen.sources.coco import read_coco
from mimicgen.tasks import sample
from mimicgen.tasks.counting import CountingSpec

from .rawcheck import check_query, raw_from_coco_json

#: The shapes of the false "impossible" reports: k classes, totals [2], spread 3.
SHAPES = [(2, 6), (3, 7), (2, 7)]


def _coco(path: Path):
    data = json.loads(path.read_text())
    return build_index(read_coco(path)), data


@pytest.fixture(scope="module")
def coco_val(coco_tiny: Path):
    return _coco(coco_tiny / "annotations" / "instances_val2017.json")


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    from mimicgen.sources.synthetic import render_dataset

    return _coco(render_dataset(tmp_path_factory.mktemp("synth") / "ds", 200, 7, image_size=64))


def _raw_totals(q, raw) -> dict[str, int]:
    """Per target: every annotated box of it over the query's images, from the raw JSON."""
    targets = list(q.answer["counts"])
    return {c: sum(len(raw[i.source_id].get(c, [])) for i in q.images) for c in targets}


def _multi_target_images(q, raw) -> int:
    targets = list(q.answer["counts"])
    return sum(sum(bool(raw[i.source_id].get(c)) for c in targets) > 1 for i in q.images)


@pytest.mark.parametrize("source", ["coco_val", "synthetic"])
@pytest.mark.parametrize(("k", "n_images"), SHAPES)
def test_k_several_totals_2_spread_3_builds_with_right_answers(request, source, k, n_images):
    index, data = request.getfixturevalue(source)
    raw, members = raw_from_coco_json(data)
    spec = CountingSpec(name="ck", num_queries=40, n_images=n_images, k=k, totals=[2], spread=3)
    queries = sample(spec, index)
    assert len(queries) == 40
    for q in queries:
        assert check_query(q, raw, 0.05, members) == [], q
        assert _raw_totals(q, raw) == {c: 2 for c in q.answer["counts"]}
        assert len(q.answer["counts"]) == k
        assert [i.role for i in q.images].count("query") == 3


def test_a_query_image_may_hold_several_targets(coco_val) -> None:
    """coco_tiny images hold many classes each: some k > 1 queries use an image holding two
    targets (counted from the raw JSON), which the one-target-per-image rule never did."""
    index, data = coco_val
    raw, members = raw_from_coco_json(data)
    spec = CountingSpec(name="ck", num_queries=100, n_images=6, k=2, totals=[2, 3], spread=(2, 4))
    queries = sample(spec, index)
    for q in queries:
        assert check_query(q, raw, 0.05, members) == []
    assert sum(_multi_target_images(q, raw) for q in queries) > 0
    unbalanced = CountingSpec(name="cu", num_queries=100, n_images=6, k=2, balanced=False)
    queries = sample(unbalanced, index)
    for q in queries:
        assert check_query(q, raw, 0.05, members) == []
    assert sum(_multi_target_images(q, raw) for q in queries) > 0


def test_impossible_k_several_spread_names_a_real_bound(synthetic) -> None:
    """k=2 with total 1 fills at most 2 query images: a spread of 3 is refused saying so."""
    index, _ = synthetic
    spec = CountingSpec(name="cx", num_queries=5, n_images=6, k=2, totals=[1], spread=3)
    with pytest.raises(SamplingError) as err:
        sample(spec, index)
    msg = str(err.value)
    assert "k=2 target class(es) with a total of 1 each fill at most 2 query images" in msg
    assert "spread is at least 3" in msg and "3-2" not in msg and "\n" not in msg


def test_controls_record_total_per_class_and_total(synthetic) -> None:
    """Balanced: total_per_class is T (each target's own total, re-counted from the raw JSON)
    and total is k * T; unbalanced queries record only total, the sum of the answer."""
    index, data = synthetic
    raw, _ = raw_from_coco_json(data)
    for k in (1, 2, 3):
        spec = CountingSpec(
            name="ct", num_queries=12, n_images=7, k=k, totals=[2, 3], spread=max(k, 2)
        )
        for q in sample(spec, index):
            per_class = _raw_totals(q, raw)
            (t,) = set(per_class.values())
            assert q.controls["total_per_class"] == t
            assert q.controls["total"] == k * t == sum(per_class.values())
    spec = CountingSpec(name="cu", num_queries=12, n_images=6, k=2, balanced=False)
    for q in sample(spec, index):
        assert "total_per_class" not in q.controls
        assert q.controls["total"] == sum(_raw_totals(q, raw).values())


def test_validator_checks_total_and_total_per_class(synthetic, tmp_path) -> None:
    from mimicgen.index.rules import PresenceRules
    from mimicgen.sources.synthetic import render_dataset
    from mimicgen.validate.checks import check_record
    from mimicgen.validate.facts import collect_facts

    index, _ = synthetic
    spec = CountingSpec(name="cv", num_queries=1, n_images=6, k=2, totals=[2], spread=3)
    rec = sample(spec, index)[0].model_dump()
    for img in rec["images"]:
        img["path"] = img.pop("file_name")
    ann = render_dataset(tmp_path / "ds", 200, 7, image_size=64)  # the same scenes (cached)
    facts = collect_facts(
        read_coco(ann), PresenceRules(), [str(i["source_id"]) for i in rec["images"]]
    )
    assert check_record(rec, facts) == []
    rec["controls"].update(total_per_class=3, total=5)
    bad = check_record(rec, facts)
    assert "controls.total=5 but the images give 4" in bad
    assert any(v.startswith("controls.total_per_class=3 but the per-class counts") for v in bad)
