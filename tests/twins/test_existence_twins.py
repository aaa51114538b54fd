"""Existence twins: content-free twins of every image have the definite answer *no*, and
distractor twins (added or blanked distractors) keep the answer; checked against the raw
annotation JSON (parsed here with plain ``json``), by ``mimicgen validate`` and by paired scoring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mimicgen.build.eval_set import BuildOptions, build_eval_set
from mimicgen.scoring import score_files
from mimicgen.tasks.existence import ExistenceSpec
from mimicgen.validate import validate_benchmark
from tests.tasks.rawcheck import raw_from_coco_json
from tests.twins.conftest import read_jsonl

THR = 0.05  # the default recognisable-area rule


def _spec(source: Any, **variants: Any) -> ExistenceSpec:
    return ExistenceSpec(
        name="tx", num_queries=12, n_images=(3, 5), seed=3, source=source, variants=variants
    )


@pytest.fixture(scope="module")
def build(synth_source, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("existence") / "bench"
    spec = _spec(
        synth_source,
        permute=True,
        distractors=[0, 2, 4],
        blank=["all", "distractors"],
        noise="all",
    )
    build_eval_set([spec], BuildOptions(out=out))
    return out


@pytest.fixture(scope="module")
def cf_build(synth_source, tmp_path_factory) -> Path:
    """Content-free twins only (no distractor controls)."""
    out = tmp_path_factory.mktemp("existence_cf") / "bench"
    build_eval_set([_spec(synth_source, blank="all", noise="all")], BuildOptions(out=out))
    return out


@pytest.fixture(scope="module")
def raw(synth_ann: Path):
    return raw_from_coco_json(json.loads(synth_ann.read_text()))[0]


def _raw_exists(rec: dict[str, Any], raw: Any) -> bool | None:
    """The existence answer from the raw boxes: yes when some image has a recognisable
    instance, no when none has any, None when ambiguous."""
    cls = rec["answer"]["class"]
    boxes = [raw[i["source_id"]].get(cls, []) for i in rec["images"]]
    if any(not g and a >= THR for b in boxes for a, g in b):
        return True
    return False if not any(boxes) else None


@pytest.mark.parametrize("name", ["cf_build", "build"])
def test_content_free_twins_answer_a_definite_no(name: str, request) -> None:
    recs = read_jsonl(request.getfixturevalue(name) / "benchmark.jsonl")
    bases = {r["id"]: r for r in recs if r["variant"] == "base"}
    n = 0
    for r in recs:
        if r["variant"] not in ("blank-all", "noise-all"):
            continue
        # every image is generated: nothing of any class is left to find
        assert all(i.get("content") == r["twin"]["control"] for i in r["images"])
        cls = bases[r["family"]]["answer"]["class"]
        assert r["answer"] == {"exists": False, "class": cls} and r["answer_text"] == "no"
        assert r["twin"]["answer"] == "content_free"
        assert all(i["class_counts"] == {cls: 0} for i in r["images"])
        n += 1
    assert n == 2 * 12
    assert any(b["answer"]["exists"] for b in bases.values())  # yes bases turn into no


def test_distractor_twins_keep_the_answer_by_the_raw_json(build: Path, raw) -> None:
    recs = read_jsonl(build / "benchmark.jsonl")
    bases = {r["id"]: r for r in recs if r["variant"] == "base"}
    added = 0
    for r in recs:
        base = bases[r["family"]]
        if r["twin"]["control"] in ("base", "permute", "distractors"):
            assert _raw_exists(r, raw) is r["answer"]["exists"], r["id"]
            assert r["answer"] == base["answer"]
        if r["twin"]["control"] == "distractors":
            cls = base["answer"]["class"]
            new = r["images"][len(base["images"]) :]
            assert len(new) == r["twin"]["added"] and all(i["role"] == "distractor" for i in new)
            assert not any(raw[i["source_id"]].get(cls) for i in new)  # no box of the class
            assert r["controls"]["n_images"] == len(r["images"])
            added += len(new)
        if r["variant"] == "blank-distractors":
            assert r["answer"] == base["answer"] and r["twin"]["answer"] == "unchanged"
            kept = [i for i in r["images"] if "content" not in i]
            assert all(i["role"] == "query" for i in kept)
    assert added == 12 * (2 + 4)


@pytest.mark.parametrize("name", ["cf_build", "build"])
def test_existence_twin_build_validates_and_scores_no_as_right(
    name: str, request, tmp_path
) -> None:
    build = request.getfixturevalue(name)
    report = validate_benchmark(build)
    assert report.violations == []
    recs = read_jsonl(build / "benchmark.jsonl")
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "prediction": "no"}) + "\n" for r in recs))
    block = score_files(build, [preds])["models"][0]["paired"]["strict"]["tasks"]["existence"]
    for v in ("blank-all", "noise-all"):
        # scored as flips: "no" is right on every content-free twin
        assert block["variants"][v]["n_pairs"] == 12
        assert block["variants"][v]["twin_accuracy"] == 1.0
        assert block["blind_prior"][v]["answer"] == "content_free"
        assert block["blind_prior"][v]["accuracy"] == 1.0
    if name == "build":
        assert block["added_distractors"]["4"]["n"] == 12


def test_existence_distractor_twins_are_allowed_and_common_ones_refused(synth_source) -> None:
    from pydantic import ValidationError

    from mimicgen.tasks.common_task import CommonSpec

    assert _spec(synth_source, distractors=[2]).variants is not None
    assert _spec(synth_source, noise="distractors").variants is not None
    with pytest.raises(ValidationError, match=r"counting, listing, existence|every common image"):
        CommonSpec(variants={"distractors": [2]})
