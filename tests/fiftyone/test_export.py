"""``mimicgen export fiftyone`` / ``mimicgen view``: a hand-written benchmark over real COCO
images, exported with two prediction files, reloaded from the database and checked against the
raw annotations and against ``mimicgen score``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mimicgen.cli import app
from mimicgen.errors import InputError
from mimicgen.export.fiftyone import ExportSummary, export_fiftyone
from tests.fiftyone.small_bench import RawCoco, SmallBench, raw_coco, write_small_bench

runner = CliRunner()
NAME = "small-bench"


@pytest.fixture(scope="module")
def raw(coco_tiny: Path) -> RawCoco:
    return raw_coco(coco_tiny)


@pytest.fixture(scope="module")
def small(raw: RawCoco, tmp_path_factory: pytest.TempPathFactory) -> SmallBench:
    return write_small_bench(raw, tmp_path_factory.mktemp("fo") / "bench")


@pytest.fixture(scope="module")
def exported(fo, small: SmallBench) -> tuple[Any, ExportSummary]:
    summary = export_fiftyone(
        small.path, [small.predictions["good"], small.predictions["zero"]], NAME
    )
    dataset = fo.load_dataset(NAME)
    dataset.reload()  # read back from the database, not the in-memory samples
    return dataset, summary


def _flat_rows(dataset: Any, *fields: str) -> list[dict[str, Any]]:
    """Every image sample of every slice as {field: value}."""
    flat = dataset.select_group_slices()
    return [dict(zip(fields, row, strict=True)) for row in zip(*flat.values(list(fields)))]


def _docs(dataset: Any, field: str) -> list[dict[str, Any]]:
    """An embedded-document field of the default slice as plain dicts."""
    return [doc.to_dict() for doc in dataset.values(field)]


def test_one_group_per_query_one_slice_per_position(exported, small: SmallBench) -> None:
    dataset, summary = exported
    assert dataset.media_type == "group"
    assert dataset.group_slices == ["pos_00", "pos_01", "pos_02", "pos_03", "pos_04"]
    assert dataset.default_group_slice == "pos_00"
    n_images = sum(len(r["images"]) for r in small.records)
    assert (summary.n_groups, summary.n_samples) == (4, n_images) == (4, 15)
    rows = _flat_rows(dataset, "group.id", "group.name", "query_id", "position", "role", "filepath")
    assert len(rows) == n_images
    assert len({r["group.id"] for r in rows}) == len(small.records)
    # every query is exactly one group
    assert {r["query_id"]: r["group.id"] for r in rows}.__len__() == len(small.records)
    by_query = {rec["id"]: rec for rec in small.records}
    for r in rows:
        image = by_query[r["query_id"]]["images"][r["position"]]
        assert image["position"] == r["position"]
        assert r["group.name"] == f"pos_{r['position']:02d}"
        assert r["role"] == image["role"]
        assert r["filepath"] == str((small.path / image["path"]).absolute())
    # groups keep benchmark order (every query has a position 0)
    assert dataset.values("query_id") == [rec["id"] for rec in small.records]


def test_detections_match_the_raw_annotations(exported, small: SmallBench, raw: RawCoco) -> None:
    dataset, summary = exported
    rows = _flat_rows(
        dataset,
        "query_id",
        "source_id",
        "ground_truth.detections",
        "metadata.width",
        "metadata.height",
    )
    by_query = {rec["id"]: rec for rec in small.records}
    n_boxes = 0
    for r in rows:
        rec = by_query[r["query_id"]]
        answer = rec["answer"]
        targets = set(answer.get("counts") or answer.get("classes") or [answer.get("class")])
        image_id = int(r["source_id"])
        want = raw.rel_boxes(image_id, targets)
        dets = [d.to_dict() for d in r["ground_truth.detections"]]
        got = sorted((d["label"], tuple(d["bounding_box"])) for d in dets)
        assert [g[0] for g in got] == [w[0] for w in want]
        for (_, gb), (_, wb) in zip(got, want, strict=True):
            assert gb == pytest.approx(wb, abs=1e-6)
        img = raw.images[image_id]
        for d in dets:
            ann_area = d["bounding_box"][2] * d["bounding_box"][3]
            assert d["recognisable"] == (ann_area >= 0.05 and not d["is_group"])
        assert (r["metadata.width"], r["metadata.height"]) == (img["width"], img["height"])
        n_boxes += len(want)
    assert n_boxes == summary.n_boxes > 0


def test_group_fields_repeat_on_every_slice(exported, small: SmallBench) -> None:
    dataset, _ = exported
    rows = _flat_rows(
        dataset,
        "query_id",
        "task",
        "question",
        "answer",
        "controls.spread",
        "controls.n_images",
        "answer_classes",
    )
    by_query = {rec["id"]: rec for rec in small.records}
    for r in rows:
        rec = by_query[r["query_id"]]
        assert (r["task"], r["question"], r["answer"]) == (
            rec["task"],
            rec["question"],
            rec["answer_text"],
        )
        assert r["controls.spread"] == rec["controls"].get("spread")
        assert r["controls.n_images"] == len(rec["images"])
    counting = [r for r in rows if r["task"] == "counting"]
    assert {tuple(r["answer_classes"]) for r in counting} == {("dog",), ("person",)}


def test_correctness_agrees_with_mimicgen_score(exported, small: SmallBench, tmp_path) -> None:
    dataset, summary = exported
    assert summary.prediction_fields == ["pred_good", "pred_zero"]
    out = tmp_path / "report.json"
    res = runner.invoke(
        app,
        [
            "score",
            str(small.path),
            str(small.predictions["good"]),
            str(small.predictions["zero"]),
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    scored = [json.loads(line) for line in out.with_suffix(".samples.jsonl").open()]
    assert len(scored) == 2 * 3 * len(small.records)
    stored = {
        (rid, model): doc
        for model in ("good", "zero")
        for rid, doc in zip(
            dataset.values("query_id"), _docs(dataset, f"pred_{model}"), strict=True
        )
    }
    for s in scored:
        doc = stored[(s["id"], s["model"])]
        verdict = doc[s["pipeline"]]
        assert verdict["correct"] == s["correct"], s
        assert verdict["parsed"] == s["parsed"], s
        extracted = s["extracted"]
        if extracted is not None and not isinstance(extracted, str):
            extracted = json.dumps(extracted, sort_keys=True)
        assert verdict["extracted"] == extracted, s
        if s["pipeline"] == "strict":  # the export's default pipeline is the top level
            assert (doc["correct"], doc["prediction"]) == (s["correct"], s["prediction"])
    # Hand-made expectations, independent of the scorer: the cued right count, the right class
    # and a wrong count; no prediction is wrong.
    assert stored[("count-0", "good")]["correct"] is True
    assert stored[("common-0", "good")]["correct"] is True
    assert stored[("count-1", "good")]["correct"] is False
    assert stored[("common-0", "zero")]["prediction"] is None
    assert stored[("common-0", "zero")]["correct"] is False
    # The listing reply names the first gold class and "zebra": one hit of two items against
    # the gold set (its size read from the hand-written record), so per-sample F1 = 2/(2+|gold|).
    gold = next(r for r in small.records if r["id"] == "list-0")["answer"]["classes"]
    listing = stored[("list-0", "good")]
    assert (listing["parsed"], listing["correct"]) == (True, False)
    assert listing["f1"] == pytest.approx(2 / (2 + len(gold)))
    # "0" is read (parsed) but wrong: count-0 has dogs by construction; mimic finds "person"
    # in "Person" (a case-insensitive substring).
    assert (stored[("count-0", "zero")]["parsed"], stored[("count-0", "zero")]["correct"]) == (
        True,
        False,
    )
    assert stored[("common-0", "good")]["mimic"]["correct"] is True


def test_failure_views_are_one_filter_away(fo, exported) -> None:
    dataset, _ = exported
    F = fo.ViewField
    view = dataset.match(
        (F("task") == "counting") & (F("controls.spread") == 1) & (F("pred_good.correct") == False)
    )
    assert view.values("query_id") == ["count-1"]
    assert dataset.list_saved_views() == ["good-wrong", "zero-wrong"]
    wrong = dataset.load_saved_view("good-wrong")
    assert sorted(wrong.values("query_id")) == ["count-1", "list-0"]
    assert len(wrong.select_group_slices()) == 5 + 3  # whole groups, every slice


def test_missing_source_exports_without_boxes(fo, small: SmallBench, tmp_path: Path) -> None:
    bench = tmp_path / "moved"
    shutil.copytree(small.path, bench, symlinks=True)
    manifest = json.loads((bench / "manifest.json").read_text())
    manifest["sources"][0]["annotations"] = str(tmp_path / "gone.json")
    (bench / "manifest.json").write_text(json.dumps(manifest))
    summary = export_fiftyone(bench, name="no-boxes")
    assert summary.n_boxes == 0
    assert len(summary.warnings) == 1 and "gone.json" in summary.warnings[0]
    flat = fo.load_dataset("no-boxes").select_group_slices()
    assert flat.count() == 15
    assert flat.count("ground_truth") == 0  # unknown, not "no target boxes"


def test_cli_export_refuses_to_overwrite(fo, small: SmallBench) -> None:
    args = [
        "export",
        "fiftyone",
        str(small.path),
        "--name",
        "cli-bench",
        "-p",
        str(small.predictions["good"]),
    ]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "4 groups, 15 images in 5 slices" in res.output
    again = runner.invoke(app, args)
    assert isinstance(again.exception, InputError)
    assert "already exists; pass --overwrite" in str(again.exception)
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0
    assert fo.load_dataset("cli-bench").count("pred_good") == 4  # default slice: one per group
    assert not [n for n in fo.list_datasets() if "partial" in n]


def test_view_exports_then_launches_the_app(fo, small: SmallBench, monkeypatch) -> None:
    launched: dict[str, Any] = {}

    class FakeSession:
        url = "http://localhost:5151/"

        def wait(self) -> None:
            launched["waited"] = True

    def fake_launch(dataset, **kwargs):
        launched.update(name=dataset.name, groups=len(dataset), **kwargs)
        return FakeSession()

    monkeypatch.setattr(fo, "launch_app", fake_launch)
    res = runner.invoke(app, ["view", str(small.path), "--name", "viewed", "--remote"])
    assert res.exit_code == 0, res.output
    assert launched == {
        "name": "viewed",
        "groups": 4,
        "port": 5151,
        "address": None,
        "remote": True,
        "waited": True,
    }
