"""End-to-end scoring of a hand-written benchmark; every number is computed by hand below."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.scoring import score_file, score_files, write_report
from scoring.benchfiles import write_predictions

PREDICTIONS = {
    "c1": "3",  # gold 3: right everywhere
    "c2": "2 dogs and 1 cat",  # gold dog 2, cat 1: right everywhere
    "c3": "3 or 4",  # gold 4: strict parse failure, lenient 4 (right), mimic 3 (wrong)
    # c4 missing
    "l1": "car, bus, tv",  # gold {bus, car}: tp 2, 3 predicted, 2 gold; not exact
    "l2": "person",  # exact
    "m1": "dogs and cats",  # gold dog: several classes -> wrong; mimic substring -> right
    "o1": "cat",  # right everywhere
}


@pytest.fixture()
def pred_file(tmp_path: Path) -> Path:
    path = write_predictions(tmp_path / "model_a.jsonl", PREDICTIONS)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "zz", "prediction": "1"}) + "\n")  # unknown id
        f.write(json.dumps({"id": "c1", "prediction": "7"}) + "\n")  # duplicate: ignored
    return path


def test_overall_and_per_task_by_hand(tiny_bench: Path, pred_file: Path) -> None:
    entry = score_file(tiny_bench, pred_file)
    assert entry["coverage"] == {
        "n_queries": 8,
        "n_predicted": 7,
        "n_missing": 1,
        "n_unknown_ids": 1,
        "n_duplicates": 1,
        "missing_examples": ["c4"],
        "unknown_id_examples": ["zz"],
        "duplicate_id_examples": ["c1"],
    }
    strict, lenient, mimic = (entry["pipelines"][p] for p in ("strict", "lenient", "mimic"))
    # strict: c1 c2 l2 o1 right = 4/8; Wilson(4, 8) = [0.2152, 0.7848]
    assert strict["overall"]["accuracy"] == 0.5
    assert (strict["overall"]["ci_low"], strict["overall"]["ci_high"]) == pytest.approx(
        (0.2152, 0.7848), abs=1e-4
    )
    assert strict["overall"]["n_parse_failures"] == 1  # c3 only; c4 is missing, not a failure
    assert strict["overall"]["n_missing"] == 1
    counting = strict["tasks"]["counting"]["overall"]
    assert (counting["n"], counting["accuracy"], counting["parse_failure_rate"]) == (4, 0.5, 0.25)
    assert lenient["overall"]["accuracy"] == 5 / 8  # + c3
    assert lenient["tasks"]["counting"]["overall"]["accuracy"] == 0.75
    assert mimic["overall"]["accuracy"] == 5 / 8  # c1 c2 l2 m1 o1
    assert mimic["tasks"]["common"]["overall"]["accuracy"] == 1.0
    assert strict["tasks"]["common"]["overall"]["accuracy"] == 0.0
    assert strict["tasks"]["common"]["overall"]["n_parse_failures"] == 0  # read, but wrong


def test_listing_metrics_by_hand(tiny_bench: Path, pred_file: Path) -> None:
    listing = score_file(tiny_bench, pred_file)["pipelines"]["strict"]["tasks"]["listing"][
        "overall"
    ]
    # micro: tp 2+1, predicted 3+1, gold 2+1 -> P 3/4, R 1, F1 6/7; macro F1 (0.8 + 1) / 2
    assert listing["precision"] == pytest.approx(0.75)
    assert listing["recall"] == pytest.approx(1.0)
    assert listing["f1"] == pytest.approx(6 / 7)
    assert listing["macro_f1"] == pytest.approx(0.9)
    assert listing["exact_set_accuracy"] == listing["accuracy"] == 0.5
    # resampled F1 is 0.8, 6/7 or 1.0 with probabilities 1/4, 1/2, 1/4
    assert (listing["f1_ci_low"], listing["f1_ci_high"]) == pytest.approx((0.8, 1.0))
    assert listing["ci_method"] == "wilson" and listing["f1_ci_method"] == "bootstrap"


def test_breakdowns_by_control(tiny_bench: Path, pred_file: Path) -> None:
    by = score_file(tiny_bench, pred_file)["pipelines"]["strict"]["tasks"]["counting"]["by"]
    # spread 1: c2 right, c3 failure, c4 missing; spread 2: c1 right
    assert {v: (m["n"], m["accuracy"]) for v, m in by["spread"].items()} == {
        "1": (3, 1 / 3),
        "2": (1, 1.0),
    }
    assert by["spread"]["1"]["n_parse_failures"] == 1 and by["spread"]["1"]["n_missing"] == 1
    # true count: c1 3, c2 2+1, c3 4, c4 3
    assert {v: m["n"] for v, m in by["true_count"].items()} == {"3": 3, "4": 1}
    assert {v: m["n"] for v, m in by["evidence_positions"].items()} == {"0": 2, "0,2": 1, "1": 1}
    assert {v: m["n"] for v, m in by["n_query_images"].items()} == {"1": 3, "2": 1}
    assert set(by) == {
        "n_images",
        "spread",
        "distractors",
        "k",
        "true_count",
        "evidence_positions",
        "n_query_images",
    }


def test_baselines_by_hand(tiny_bench: Path, pred_file: Path) -> None:
    base = score_files(tiny_bench, [pred_file])["baselines"]
    # counting answers 3, "dog: 2, cat: 1", 4, 3: three distinct; "3" in 2 of 4
    assert base["counting"] == {"chance": 1 / 3, "majority": 0.5, "majority_answer": "3", "n": 4}
    # listing: vehicle {bus, car} -> 1/3, person {person} -> 1; tie broken by smallest text
    assert base["listing"]["chance"] == pytest.approx(2 / 3)
    assert base["listing"]["majority_answer"] == "bus, car"
    assert base["common"]["chance"] == 0.5 and base["odd_one"]["chance"] == 0.5


def test_per_group_baselines_by_hand(tiny_bench: Path, pred_file: Path, tmp_path: Path) -> None:
    report = score_files(tiny_bench, [pred_file])
    third = pytest.approx(1 / 3)
    for pipeline in ("strict", "lenient", "mimic"):  # baselines do not depend on the replies
        tasks = report["models"][0]["pipelines"][pipeline]["tasks"]
        counting, listing = tasks["counting"], tasks["listing"]
        # counting: every record's chance is 1/3 (3 distinct answers); majority answer "3"
        # (c1, c4): c1 3, c2 "dog: 2, cat: 1", c3 4, c4 3
        assert (counting["overall"]["chance"], counting["overall"]["majority"]) == (third, 0.5)
        by = counting["by"]
        assert {v: (m["chance"], m["majority"]) for v, m in by["spread"].items()} == {
            "1": (third, pytest.approx(1 / 3)),  # c2 c3 c4: only c4 answers "3"
            "2": (third, 1.0),  # c1
        }
        assert {v: m["majority"] for v, m in by["true_count"].items()} == {
            "3": pytest.approx(2 / 3),  # c1 c2 c4
            "4": 0.0,  # c3
        }
        assert {v: m["majority"] for v, m in by["k"].items()} == {
            "1": pytest.approx(2 / 3),
            "2": 0.0,
        }
        # listing: task majority "bus, car" (tie, smallest text); chance vehicle 1/3, person 1
        assert {v: (m["chance"], m["majority"]) for v, m in listing["by"]["category"].items()} == {
            "person": (1.0, 0.0),
            "vehicle": (third, 1.0),
        }
        assert listing["overall"]["chance"] == pytest.approx(2 / 3)
        assert listing["overall"]["majority"] == 0.5
        # common m1 / odd-one o1: dog and cat present -> 1/2; the only answer is the majority
        for task in ("common", "odd_one"):
            assert (tasks[task]["overall"]["chance"], tasks[task]["overall"]["majority"]) == (
                0.5,
                1.0,
            )
    # All tasks pooled, 8 queries: chance (4 x 1/3 + 1/3 + 1 + 1/2 + 1/2) / 8 = 11/24;
    # majority (2 counting + 1 listing + common + odd-one) / 8 = 5/8.
    overall = report["models"][0]["pipelines"]["strict"]["overall"]
    assert overall["n"] == 8
    assert (overall["chance"], overall["majority"]) == (pytest.approx(11 / 24), 5 / 8)
    out = tmp_path / "r.json"
    write_report(report, out)
    md = out.with_suffix(".md").read_text()
    assert "| value | n | accuracy [95% CI] | chance | majority | parse failures | missing |" in md
    # strict, counting by spread = 2: c1 right; chance 33.3 %, majority 100 %
    assert "| 2 | 1 | 100.0 [20.7, 100.0] | 33.3 | 100.0 | 0.0% | 0 |" in md


def test_side_by_side_and_determinism(tiny_bench: Path, pred_file: Path, tmp_path: Path) -> None:
    other = write_predictions(tmp_path / "model_b.jsonl", {k: "0" for k in PREDICTIONS})
    report = score_files(tiny_bench, [pred_file, other], seed=3)
    assert [m["name"] for m in report["models"]] == ["model_a", "model_b"]
    assert report["models"][1]["pipelines"]["strict"]["overall"]["accuracy"] == 0.0
    a, b = tmp_path / "a" / "r.json", tmp_path / "b" / "r.json"
    write_report(report, a)
    write_report(score_files(tiny_bench, [pred_file, other], seed=3), b)
    assert a.read_bytes() == b.read_bytes()
    md = a.with_suffix(".md").read_text()
    assert "| overall | 8 | 50.0 [21.5, 78.5]" in md and "model_b (mimic)" in md


def test_cli_writes_json_markdown_samples(
    tiny_bench: Path, pred_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "rep" / "report.json"
    result = CliRunner().invoke(app, ["score", str(tiny_bench), str(pred_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["schema_version"] == 1 and len(report["benchmark"]["manifest_sha256"]) == 64
    rows = [
        json.loads(line) for line in out.with_name("report.samples.jsonl").read_text().splitlines()
    ]
    assert len(rows) == 8 * 3
    c3 = {r["pipeline"]: r for r in rows if r["id"] == "c3"}
    assert c3["strict"]["parsed"] is False and c3["lenient"]["extracted"] == {"cat": 4}
    assert c3["lenient"]["correct"] is True and c3["mimic"]["correct"] is False
    assert out.with_suffix(".md").exists()


def test_cli_strict_ids_exits_2_and_writes_nothing(
    tiny_bench: Path, pred_file: Path, tmp_path: Path
) -> None:
    from mimicgen.cli import main  # noqa: F401  (the error-to-exit-2 wrapper)
    from mimicgen.errors import InputError

    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        app, ["score", str(tiny_bench), str(pred_file), "--out", str(out), "--strict-ids"]
    )
    assert isinstance(result.exception, InputError) and "zz" in str(result.exception)
    assert not out.exists()


def test_spec_breakdown_when_specs_differ(tmp_path: Path) -> None:
    from scoring.benchfiles import TINY_RECORDS, write_benchmark

    records = [
        dict(r, spec="counting_balanced" if r["id"] in ("c1", "c2") else "other")
        for r in TINY_RECORDS
    ]
    bench = write_benchmark(tmp_path / "bench", records)
    preds = write_predictions(tmp_path / "p.jsonl", PREDICTIONS)
    by = score_file(bench, preds)["pipelines"]["strict"]["tasks"]["counting"]["by"]
    # c1, c2 right; c3 parse failure, c4 missing
    assert {v: (m["n"], m["accuracy"]) for v, m in by["spec"].items()} == {
        "counting_balanced": (2, 1.0),
        "other": (2, 0.0),
    }


def test_same_file_names_are_told_apart_by_folder(tmp_path):
    from mimicgen.scoring.score import _default_names

    a = tmp_path / "none" / "predictions.jsonl"
    b = tmp_path / "pool-4" / "predictions.jsonl"
    assert _default_names([a, b]) == ["none", "pool-4"]
    assert _default_names([tmp_path / "x.jsonl", tmp_path / "y.jsonl"]) == ["x", "y"]
    assert _default_names([a, a]) == ["predictions#1", "predictions#2"]
