"""Exports of a twin build keep every family whole and say which record is which twin; a
VLMEvalKit result on the exported TSV scores with paired metrics."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

from mimicgen.export.hf import export_hf
from mimicgen.export.lmms_eval import export_lmms_eval
from mimicgen.export.source_boxes import _image_rows
from mimicgen.export.vlmevalkit import export_vlmevalkit
from mimicgen.scoring import score_files
from tests.twins.conftest import read_jsonl


def _contiguous(families: list[str]) -> bool:
    seen: list[str] = []
    for f in families:
        if not seen or seen[-1] != f:
            if f in seen:
                return False
            seen.append(f)
    return True


def test_vlmevalkit_tsv_has_family_columns_and_scores_paired(twin_build: Path, tmp_path) -> None:
    recs = read_jsonl(twin_build / "benchmark.jsonl")
    tsv = export_vlmevalkit(twin_build, tmp_path / "vlm")
    csv.field_size_limit(sys.maxsize)
    with open(tsv, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    assert [(r["id"], r["family"], r["variant"]) for r in rows] == [
        (r["id"], r["family"], r["variant"]) for r in recs
    ]
    assert _contiguous([r["family"] for r in rows])
    # a VLMEvalKit result: the TSV plus a prediction column (the right answer for base records)
    result = tmp_path / "MIMICGEN_model.tsv"
    with open(result, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, delimiter="\t", lineterminator="\n")
        w.writerow(["index", "id", "prediction"])
        for r in rows:
            w.writerow([r["index"], r["id"], r["answer"] if r["variant"] == "base" else "no idea"])
    paired = score_files(twin_build, [result])["models"][0]["paired"]["strict"]["tasks"]
    flips = paired["counting"]["controls"]["permute"]
    assert flips["base_accuracy"] == 1.0 and flips["twin_accuracy"] == 0.0
    assert flips["flip_right_to_wrong"]["rate"] == 1.0


def test_lmms_eval_and_hf_rows_carry_the_family_in_file_order(twin_build: Path, tmp_path) -> None:
    import polars as pl

    recs = read_jsonl(twin_build / "benchmark.jsonl")
    lmms = export_lmms_eval(twin_build, tmp_path / "lmms")
    docs = [json.loads(x) for x in (lmms / "data" / "test.jsonl").read_text().splitlines()]
    fams = [json.loads(d["record"])["family"] for d in docs]
    assert fams == [r["family"] for r in recs] and _contiguous(fams)
    hf = export_hf(twin_build, tmp_path / "hf")
    df = pl.read_parquet(sorted((hf / "data").glob("*.parquet")))
    assert [json.loads(x)["variant"] for x in df["record"]] == [r["variant"] for r in recs]


def test_generated_images_get_no_source_boxes(twin_build: Path) -> None:
    """FiftyOne's ground truth comes from the source boxes of each image: a blank or stitched
    twin image has none (it would otherwise show the replaced photo's boxes)."""
    recs = read_jsonl(twin_build / "benchmark.jsonl")
    manifest = json.loads((twin_build / "manifest.json").read_text())
    rows = _image_rows(recs, manifest)
    want = sum(1 for r in recs for i in r["images"] if "content" not in i)
    assert rows.height == want < sum(len(r["images"]) for r in recs)


def test_html_report_cards_show_whole_families_side_by_side(twin_build: Path, tmp_path) -> None:
    import re

    from typer.testing import CliRunner

    from mimicgen.cli.app import app

    recs = read_jsonl(twin_build / "benchmark.jsonl")
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "prediction": "3"}) + "\n" for r in recs))
    out = tmp_path / "r.html"
    res = CliRunner().invoke(
        app, ["report", str(twin_build), "--out", str(out), "-p", str(preds), "--max-samples", "40",
              "--no-figures"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    cards = re.findall(
        r'<article class="card" data-id="([^"]+)" data-task="[^"]+" data-family="([^"]+)"',
        out.read_text(),
    )
    by_family: dict[str, list[str]] = {}
    for r in recs:
        by_family.setdefault(r["family"], []).append(r["id"])
    shown = list(dict.fromkeys(f for _, f in cards))
    assert len(shown) >= 2 and _contiguous([f for _, f in cards])
    assert [rid for rid, _ in cards] == [rid for f in shown for rid in by_family[f]]  # whole
    assert len(cards) <= 40 and {recs_task(recs, f) for f in shown} >= {"counting", "listing"}


def recs_task(recs: list[dict], family: str) -> str:
    return next(r["task"] for r in recs if r["id"] == family)
