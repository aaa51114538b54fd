"""Typed record views (the scorer's fast path) against the plain dict records of the same file."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from mimicgen.errors import InputError
from mimicgen.scoring import load_benchmark, score_files
from scoring.benchfiles import TINY_RECORDS, write_predictions

REPLIES = {
    r["id"]: reply for r, reply in zip(TINY_RECORDS, ["3", "dog: 2", "", "dog"], strict=False)
}


def _raw_records(bench_dir: Path) -> list[dict]:
    lines = (bench_dir / "benchmark.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_views_and_records_match_the_file(tiny_bench: Path) -> None:
    bench = load_benchmark(tiny_bench)
    raw = _raw_records(tiny_bench)
    assert bench.records == raw  # decoded lazily from the kept bytes
    for view, rec in zip(bench.rows, raw, strict=True):
        assert (view.id, view.task, view.answer_text) == (
            rec["id"],
            rec["task"],
            rec["answer_text"],
        )
        assert msgspec.json.decode(view.answer) == rec["answer"]
        assert msgspec.json.decode(view.controls) == rec.get("controls")
        assert msgspec.json.decode(view.spec) == rec.get("spec")
        assert [(im.position, im.role, im.class_counts) for im in view.images or ()] == [
            (im["position"], im["role"], im["class_counts"]) for im in rec["images"]
        ]
    # Factorised columns: each record's code points at its own value.
    for codes, values, field in (
        (*bench.answers, "answer"),
        (*bench.controls, "controls"),
        (*bench.specs, "spec"),
    ):
        assert [values[c] for c in codes.tolist()] == [r.get(field) for r in raw]
    pair_codes, pairs = bench.task_answers
    assert [pairs[c] for c in pair_codes.tolist()] == [(r["task"], r["answer"]) for r in raw]
    assert bench.index == {str(r["id"]): i for i, r in enumerate(raw)}


def test_dict_path_gives_the_same_report(tiny_bench: Path, tmp_path: Path) -> None:
    """A blank line and an indented line force the line-by-line dict path: same scores."""
    pred = write_predictions(tmp_path / "p.jsonl", REPLIES)
    plain = score_files(tiny_bench, [pred])
    path = tiny_bench / "benchmark.jsonl"
    lines = path.read_text().splitlines()
    path.write_text(lines[0] + "\n\n  " + "\n".join(lines[1:]) + "\n")
    bench = load_benchmark(tiny_bench)
    assert isinstance(bench.source, list)  # the dict path ran
    assert bench.records == _raw_records(tiny_bench)
    assert score_files(tiny_bench, [pred]) == plain


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.update(task="painting"), r":2: unknown task 'painting'"),
        (lambda r: r.update(answer={"class": "dog"}), r":2: a \w+ answer needs the key"),
        (lambda r: r.pop("answer_text"), r":2: benchmark record lacks 'answer_text'"),
        (lambda r: r.update(id=TINY_RECORDS[0]["id"]), r":2: duplicate query id"),
    ],
)
def test_bad_record_falls_back_and_names_the_line(tiny_bench: Path, change, message: str) -> None:  # type: ignore[no-untyped-def]
    raw = _raw_records(tiny_bench)
    change(raw[1])
    (tiny_bench / "benchmark.jsonl").write_text("".join(json.dumps(r) + "\n" for r in raw))
    with pytest.raises(InputError, match=message):
        load_benchmark(tiny_bench)


def test_images_not_objects_is_an_input_error(tiny_bench: Path) -> None:
    raw = _raw_records(tiny_bench)
    raw[0]["images"] = ["a.png"]
    (tiny_bench / "benchmark.jsonl").write_text("".join(json.dumps(r) + "\n" for r in raw))
    with pytest.raises(InputError, match="'images' is not a list of objects"):
        load_benchmark(tiny_bench)


def test_unlisted_role_reads_through_the_dict_path(tiny_bench: Path) -> None:
    """Roles outside the SPEC's three do not fit the typed view: same data via dicts."""
    raw = _raw_records(tiny_bench)
    raw[0]["images"][0]["role"] = "anchor"
    (tiny_bench / "benchmark.jsonl").write_text("".join(json.dumps(r) + "\n" for r in raw))
    bench = load_benchmark(tiny_bench)
    assert isinstance(bench.source, list)
    assert bench.rows[0].images is not None and bench.rows[0].images[0].role == "anchor"
    assert bench.records == raw
