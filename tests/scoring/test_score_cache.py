"""The scorer judges each distinct (context, reply) pair once: sharing must never mix records up.

Every per-sample row of ``score_predictions`` is compared with the pure, uncached
:func:`mimicgen.scoring.check` on the same record and reply.
"""

from __future__ import annotations

import json
from pathlib import Path

from mimicgen.scoring import PIPELINES, check, load_benchmark, load_predictions, score_predictions
from scoring.benchfiles import make_record, write_benchmark, write_predictions


def _im(position: int, role: str, **counts: int) -> dict:
    return {"position": position, "role": role, "class_counts": counts}


RECORDS = [
    # c1/c2 share a context; c3 asks the same classes in the other order; c4 has another gold.
    make_record("c1", "counting", {"counts": {"dog": 2, "cat": 1}}, "dog: 2, cat: 1",
                [_im(0, "query", dog=2), _im(1, "query", cat=1)], {"spread": 1}),
    make_record("c2", "counting", {"counts": {"dog": 2, "cat": 1}}, "dog: 2, cat: 1",
                [_im(0, "query", dog=2), _im(1, "query", cat=1)], {"spread": 2}),
    make_record("c3", "counting", {"counts": {"cat": 1, "dog": 2}}, "cat: 1, dog: 2",
                [_im(0, "query", dog=2), _im(1, "query", cat=1)], {"spread": 1}),
    make_record("c4", "counting", {"counts": {"dog": 3, "cat": 1}}, "dog: 3, cat: 1",
                [_im(0, "query", dog=3), _im(1, "query", cat=1)], {"spread": 1}),
    make_record("m1", "common", {"class": "dog"}, "dog",
                [_im(0, "context", dog=1), _im(1, "context", dog=1, cat=1)], {"spread": 1}),
    make_record("m2", "common", {"class": "cat"}, "cat",
                [_im(0, "context", cat=1), _im(1, "context", dog=1, cat=1)], {"spread": 2}),
]  # fmt: skip
REPLIES = {
    "c1": "dog: 2, cat: 1",
    "c2": "dog: 2, cat: 1",
    "c3": "dog: 2, cat: 1",
    "c4": "dog: 2, cat: 1",
    "m1": "dog",
    "m2": "dog",
}


def test_contexts_shared_only_for_equal_answers(tmp_path: Path) -> None:
    bench = load_benchmark(write_benchmark(tmp_path / "b", RECORDS))
    ctx = dict(zip((r["id"] for r in bench.records), bench.contexts, strict=True))
    assert ctx["c1"] is ctx["c2"]
    assert ctx["c3"] is not ctx["c1"] and ctx["c3"].targets == ("cat", "dog")
    assert ctx["c4"] is not ctx["c1"] and ctx["c4"].gold == {"dog": 3, "cat": 1}
    assert ctx["m1"] is not ctx["m2"]


def test_repeated_replies_judged_per_record(tmp_path: Path) -> None:
    bench = load_benchmark(write_benchmark(tmp_path / "b", RECORDS))
    preds = load_predictions(write_predictions(tmp_path / "p.jsonl", REPLIES), bench)
    samples: list[dict] = []
    score_predictions(bench, preds, samples=samples)
    by_key = {(s["id"], s["pipeline"]): s for s in samples}
    assert len(by_key) == len(RECORDS) * len(PIPELINES)
    for record in RECORDS:
        for pipeline in PIPELINES:
            res = check(record["task"], REPLIES[record["id"]], record, pipeline, bench.vocabulary)
            row = by_key[(record["id"], pipeline)]
            assert (row["correct"], row["status"]) == (res.correct, res.status)
    # One reply for all four counting records: right for c1-c3 (same gold, any order), not c4.
    strict = {s["id"]: s["correct"] for s in samples if s["pipeline"] == "strict"}
    assert strict == {"c1": True, "c2": True, "c3": True, "c4": False, "m1": True, "m2": False}


def test_vocabulary_is_every_class_in_the_raw_file(tmp_path: Path) -> None:
    extra = make_record(
        "x1", "common", {"class": "dog", "classes": ["bus"]}, "dog",
        [_im(0, "context", dog=1, tv=0)], {"spread": 1},
    )  # fmt: skip
    root = write_benchmark(tmp_path / "b", [*RECORDS, extra], classes=["person"])
    expected = {"person"}
    for line in (root / "benchmark.jsonl").read_text().splitlines():
        rec = json.loads(line)
        answer = rec["answer"]
        expected |= set(answer.get("counts", {})) | set(answer.get("classes", []))
        expected |= {answer["class"]} if "class" in answer else set()
        for im in rec["images"]:
            expected |= set(im["class_counts"])
    assert set(load_benchmark(root).vocabulary.names) == expected
    assert "bus" in expected and "tv" in expected  # an extra answer key and a zero count count
