"""The batch scorer (typed views, factorised contexts, one judgement per distinct pair) against
the pure per-sample :func:`mimicgen.scoring.check` on the plain record dicts, reply by reply."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import msgspec
import numpy as np

from mimicgen.scoring import PIPELINES, check, load_benchmark, load_predictions, score_predictions

_SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench_score.py"
N = 1500


def _make_benchmark():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_score", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make_benchmark


# Extra replies mixed in: synonyms and plurals of COCO names, cues, several classes, junk.
EXTRA = [
    "sofas",
    "a television set",
    "motorbikes and bikes",
    "The answer is 3 cell phones",
    "**4**",
    "no",
    "1st",
    "people, couches; a hot-dog / donuts",
    "I count 2 dogs and 2 cats",
    "None of them",
    "🙂",
]


def test_every_row_equals_check(tmp_path: Path) -> None:
    replies = _make_benchmark()(tmp_path / "bench", N, np.random.default_rng(11))
    rows = []
    for k, (rid, reply) in enumerate(replies):
        if k % 13 == 5:
            continue  # missing
        if k % 7 == 3:
            reply = EXTRA[k % len(EXTRA)]
        rows.append({"id": rid, "prediction": None if k % 29 == 0 else reply})
    pred = tmp_path / "p.jsonl"
    pred.write_bytes(b"".join(msgspec.json.encode(r) + b"\n" for r in rows))

    bench = load_benchmark(tmp_path / "bench")
    preds = load_predictions(pred, bench)
    samples: list = []
    score_predictions(bench, preds, samples=samples)
    assert len(samples) == N * len(PIPELINES)

    records = [json.loads(line) for line in (tmp_path / "bench" / "benchmark.jsonl").open()]
    given = {r["id"]: r["prediction"] for r in rows}
    vocab = bench.vocabulary
    kinds = set()
    for i, record in enumerate(records):
        reply = given.get(record["id"], "missing")
        text = None if reply == "missing" else ("" if reply is None else reply)
        for j, pipeline in enumerate(PIPELINES):
            row = samples[i * len(PIPELINES) + j]
            res = check(record["task"], text, record, pipeline, vocab)
            assert (row["id"], row["pipeline"], row["prediction"]) == (record["id"], pipeline, text)
            got = (row["extracted"], row["status"], row["parsed"], row["correct"], row["f1"])
            assert got == (res.extracted, res.status, res.parsed, res.correct, res.f1), (
                record["id"],
                pipeline,
                text,
            )
            kinds.add((record["task"], len(record["answer"].get("counts", ())), res.status))
    # The set is varied: k = 2 counting, parse failures of several kinds, missing replies.
    assert ("counting", 2, "ok") in kinds and ("counting", 2, "incomplete") in kinds
    assert {s for _, _, s in kinds} >= {"ok", "empty", "missing", "no_number", "ambiguous"}
    assert {s for t, _, s in kinds if t == "common"} >= {"ok", "multiple_classes", "no_class"}
