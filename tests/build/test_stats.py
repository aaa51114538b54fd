"""Manifest statistics (Table 1 shape), recomputed here by hand from benchmark.jsonl."""

from __future__ import annotations

import json
from pathlib import Path

from mimicgen.build.eval_set import BuildOptions
from mimicgen.build.images import ImageMode
from mimicgen.build.stats import group_stats
from mimicgen.sources.spec import SourceSpec
from tests.build.fakes import FakeSpec, build_fake_set, make_loaders


def test_manifest_stats_match_a_hand_recount(tmp_path: Path):
    index_loader, _ = make_loaders(tmp_path / "src")
    specs = [FakeSpec(name="cats", source=SourceSpec(kind="coco"), seed=5, num_queries=9)]
    out = tmp_path / "out"
    build_fake_set(specs, BuildOptions(out=out, image_mode=ImageMode(kind="none")), index_loader)
    recs = [json.loads(line) for line in (out / "benchmark.jsonl").open(encoding="utf-8")]
    manifest = json.loads((out / "manifest.json").read_text())

    sizes = sorted(len(r["images"]) for r in recs)
    words = [len(r["question"].split()) for r in recs]
    cats = [sum(img["class_counts"]["cat"] for img in r["images"]) for r in recs]
    mid = sizes[4]  # 9 queries: the 5th smallest is the median
    expected_distinct = len({img["source_id"] for r in recs for img in r["images"]})

    row = manifest["stats"]["counting"]
    assert row["queries"] == 9
    assert row["distinct_images"] == expected_distinct
    assert row["classes_per_query"] == 1
    assert abs(row["objects_per_query"] - sum(cats) / 9) < 1e-4
    assert row["objects_per_query"] == round(
        sum(r["answer"]["counts"]["cat"] for r in recs) / 9, 4
    )  # counting: objects = the answer totals
    assert row["images_per_query"]["min"] == sizes[0]
    assert row["images_per_query"]["max"] == sizes[-1]
    assert row["images_per_query"]["median"] == mid
    assert abs(row["words_per_question"]["mean"] - sum(words) / 9) < 1e-4
    assert manifest["stats_by_spec"]["cats"] == row == manifest["stats_overall"]


def test_even_median_and_multi_class_answers():
    recs = [
        {
            "task": "listing",
            "question": "a b c",
            "answer": {"classes": ["x", "y"]},
            "images": [
                {"path": "p1", "class_counts": {"x": 2, "y": 1, "z": 7}},
                {"path": "p2", "class_counts": {"x": 1}},
            ],
        },
        {
            "task": "listing",
            "question": "a b c d e",
            "answer": {"classes": ["x"]},
            "images": [{"path": "p1", "class_counts": {"x": 2}}] * 1
            + [{"path": f"q{i}", "class_counts": {}} for i in range(4)],
        },
    ]
    row = group_stats(recs)
    assert row["images_per_query"] == {"min": 2, "max": 5, "median": 3.5, "mean": 3.5}
    assert row["distinct_images"] == 6  # p1, p2, q0..q3
    assert row["classes_per_query"] == 1.5
    assert row["objects_per_query"] == 3  # (2+1+1 + 2) / 2; z is not an answer class
    assert row["words_per_question"] == {"mean": 4, "min": 3, "max": 5}
