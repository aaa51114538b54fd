"""``mimicgen validate``: accepts a correct build, catches tampering, re-derives every task."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mimicgen.build.eval_set import BuildOptions
from mimicgen.index.rules import PresenceRules
from mimicgen.sources.spec import SourceSpec
from mimicgen.validate import validate_benchmark
from mimicgen.validate.checks import check_record, derive_turn
from mimicgen.validate.facts import collect_facts
from tests.build.fakes import FakeSpec, build_fake_set, make_loaders, make_source


@pytest.fixture()
def built(tmp_path: Path):
    index_loader, source_loader = make_loaders(tmp_path / "src")
    specs = [FakeSpec(name="cats", source=SourceSpec(kind="coco"), seed=3, num_queries=10)]
    out = tmp_path / "out"
    build_fake_set(specs, BuildOptions(out=out), index_loader)
    return out, source_loader


def edit_record(out: Path, pick, change) -> dict:
    """Apply ``change`` to the first record ``pick`` accepts; rewrite benchmark.jsonl."""
    path = out / "benchmark.jsonl"
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    target = next(r for r in recs if pick(r))
    change(target)
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs))
    return target


def test_a_correct_build_is_valid(built):
    out, loader = built
    report = validate_benchmark(out, source_loader=loader)
    assert report.violations == [] and report.num_queries == 10


def test_tampered_answer_is_caught(built):
    out, loader = built
    rec = edit_record(
        out,
        lambda r: True,
        lambda r: r["answer"]["counts"].update(cat=r["answer"]["counts"]["cat"] + 1),
    )
    report = validate_benchmark(out, source_loader=loader)
    assert any(v.startswith(rec["id"]) and "count of 'cat'" in v for v in report.violations)


def test_tampered_distractor_is_caught(built):
    out, loader = built

    def swap(r):  # replace a distractor with image 1000, which holds a cat
        img = next(i for i in r["images"] if i["role"] == "distractor")
        img.update(source_id=1000, path="images/coco/000.png")

    rec = edit_record(out, lambda r: any(i["role"] == "distractor" for i in r["images"]), swap)
    report = validate_benchmark(out, source_loader=loader)
    assert any(rec["id"] in v and "distractor" in v and "cat" in v for v in report.violations)


def test_missing_image_and_changed_source_are_caught(built, tmp_path):
    out, loader = built
    rec = json.loads((out / "benchmark.jsonl").read_text().splitlines()[0])
    (out / rec["images"][0]["path"]).unlink()
    (tmp_path / "src" / "annotations.json").write_text("{}")
    violations = validate_benchmark(out, source_loader=loader).violations
    assert any("is missing" in v and rec["images"][0]["path"] in v for v in violations)
    assert any("changed since the build" in v for v in violations)


def test_edited_stats_are_caught(built):
    out, loader = built
    m = json.loads((out / "manifest.json").read_text())
    m["stats"]["counting"]["queries"] = 11
    (out / "manifest.json").write_text(json.dumps(m))
    assert "manifest stats differ" in " ".join(
        validate_benchmark(out, source_loader=loader).violations
    )


# --- direct checker tests for the tasks the fake sampler does not produce -----------------------
# Fake source (tests/build/fakes.py): 1000 cat; 1001 2 cats; 1002 cat + dog; 1003 2 cats;
# 1004 cat; 1005 cat + small car; 1006 dog; 1007 car; 1008 small dog; 1009 group car; 1010 small cat.


@pytest.fixture(scope="module")
def facts(tmp_path_factory):
    source = make_source(tmp_path_factory.mktemp("src"))
    ids = [str(1000 + i) for i in range(11)]
    return collect_facts(source, PresenceRules(), ids)


def rec(task, answer, ids, roles=None, **controls):
    images = [
        {
            "path": f"images/coco/{i - 1000:03d}.png",
            "source_id": i,
            "position": p,
            "role": (roles or ["context"] * len(ids))[p],
            "class_counts": {},
        }
        for p, i in enumerate(ids)
    ]
    text = ", ".join(answer.get("classes", [])) or answer.get("class") or "x"
    return {
        "id": "q",
        "task": task,
        "question": "Which class?",
        "answer": answer,
        "answer_text": text,
        "images": images,
        "controls": {"n_images": len(ids), **controls},
        "template": {},
    }


def test_common(facts):
    assert check_record(rec("common", {"class": "cat"}, [1002, 1000, 1003]), facts) == []
    assert check_record(rec("common", {"class": "dog"}, [1002, 1006]), facts) == []
    bad = check_record(rec("common", {"class": "dog"}, [1002, 1006, 1008]), facts)
    assert any("not recognisable at position(s) [2]" in v for v in bad)
    # cat and dog both in every image: not unique
    assert any(
        "not unique" in v for v in check_record(rec("common", {"class": "cat"}, [1002]), facts)
    )


def test_odd_one(facts):
    assert check_record(rec("odd_one", {"class": "dog"}, [1000, 1001, 1003, 1006]), facts) == []
    assert any(
        "not a minority" in v
        for v in check_record(rec("odd_one", {"class": "cat"}, [1000, 1001, 1003, 1006]), facts)
    )
    ties = check_record(rec("odd_one", {"class": "dog"}, [1000, 1001, 1006, 1007]), facts)
    assert any("'car' present in 1 and recognisable in 1 of 4" in v for v in ties)
    assert any("'cat' present in 2 and recognisable in 2 of 4" in v for v in ties)
    # dog is present in 3 of 4 but recognisable only in 1 (1008 has a small dog): ambiguous
    lenient = check_record(rec("odd_one", {"class": "car"}, [1002, 1006, 1008, 1007, 1000]), facts)
    assert any("'dog' present in 3 and recognisable in 2 of 5" in v for v in lenient)


def test_listing(facts):
    good = rec(
        "listing",
        {"classes": ["cat", "dog"]},
        [1000, 1006, 1007],
        roles=["query", "query", "distractor"],
        category="animal",
    )
    assert check_record(good, facts) == []
    wrong = rec(
        "listing", {"classes": ["cat"]}, [1000, 1006], roles=["query", "query"], category="animal"
    )
    assert any("annotations give ['cat', 'dog']" in v for v in check_record(wrong, facts))
    ambiguous = rec(
        "listing", {"classes": ["cat"]}, [1000, 1008], roles=["query", "query"], category="animal"
    )
    assert any("only as small/group" in v for v in check_record(ambiguous, facts))
    bad_distractor = rec(
        "listing",
        {"classes": ["cat"]},
        [1000, 1002],
        roles=["query", "distractor"],
        category="animal",
    )
    assert any("distractor at position 1" in v for v in check_record(bad_distractor, facts))


def test_structure(facts):
    r = rec("common", {"class": "cat"}, [1000, 1001])
    r["images"][1]["position"] = 5
    r["question"] = "How many <class_id> are there?"
    r["images"][0]["class_counts"] = {"cat": 3}
    msgs = " | ".join(check_record(r, facts))
    assert (
        "positions are [0, 5]" in msgs and "placeholder" in msgs and "class_counts['cat']=3" in msgs
    )


def test_training_odd_one_turn_needs_the_majority_recognisable_rule(facts):
    """A training odd-one turn is checked by the eval rules: car is odd in [car, dog, small dog],
    but dog is recognisable in only 1 of 3 images, so reading only recognisable instances makes
    dog a second odd class. The eval checker and the sampler reject it; the training validator
    must too (it used to accept it)."""
    imgs = [facts.images[i] for i in ("1007", "1006", "1008")]
    assert derive_turn({"task": "odd_one", "answer": "car"}, facts, imgs) is None
    eval_view = check_record(rec("odd_one", {"class": "car"}, [1007, 1006, 1008]), facts)
    assert any("'dog' present in 2 and recognisable in 1 of 3" in v for v in eval_view)
    # With both dogs recognisable the answer is unique under both readings.
    good = [facts.images[i] for i in ("1007", "1006", "1002", "1001")]
    assert derive_turn({"task": "odd_one", "answer": "car"}, facts, good) is None  # cat: 2 of 4
    good = [facts.images[i] for i in ("1007", "1002", "1002")]
    assert derive_turn({"task": "odd_one", "answer": "car"}, facts, good) == "car"


def test_training_turns_derive_like_the_eval_checker(facts):
    imgs = [facts.images[i] for i in ("1000", "1001", "1006", "1008")]
    assert derive_turn({"task": "counting", "classes": ["cat"]}, facts, imgs) == "3"
    assert derive_turn({"task": "counting", "classes": ["dog"]}, facts, imgs) is None  # small dog
    assert (
        derive_turn({"task": "counting", "classes": ["cat", "car"]}, facts, imgs)
        == "cat: 3, car: 0"
    )
    assert (
        derive_turn({"task": "common"}, facts, [facts.images["1002"], facts.images["1006"]])
        == "dog"
    )
    assert derive_turn({"task": "listing", "category": "animal"}, facts, imgs) == "cat, dog"
    small_dog_only = [facts.images["1000"], facts.images["1008"]]
    assert derive_turn({"task": "listing", "category": "animal"}, facts, small_dog_only) is None
