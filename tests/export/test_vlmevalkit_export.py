"""VLMEvalKit export: read the TSV back with the csv module and decode every image."""

from __future__ import annotations

import ast
import base64
import csv
import hashlib
import json
import sys
from pathlib import Path

import openpyxl
from scoring.benchfiles import TINY_RECORDS, write_benchmark

from mimicgen.export.vlmevalkit import export_vlmevalkit
from mimicgen.scoring import score_file


def _rows(tsv: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with open(tsv, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_tsv_columns_and_images(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    tsv = export_vlmevalkit(bench, tmp_path / "vlm", dataset_name="MIMICGEN_TINY")
    assert tsv == tmp_path / "vlm" / "MIMICGEN_TINY.tsv"
    rows = _rows(tsv)
    assert list(rows[0]) == ["index", "id", "image", "question", "answer", "category", "split"]
    assert [r["index"] for r in rows] == [str(i) for i in range(len(TINY_RECORDS))]
    assert [r["id"] for r in rows] == [r["id"] for r in TINY_RECORDS]
    assert rows[1]["answer"] == "dog: 2, cat: 1" and rows[4]["category"] == "listing"
    for row, record in zip(rows, TINY_RECORDS, strict=True):
        files = [(bench / im["path"]).read_bytes() for im in record["images"]]
        # VLMEvalKit's toliststr: a string starting with "[" is a list literal, else one image
        images = ast.literal_eval(row["image"]) if row["image"].startswith("[") else [row["image"]]
        assert [base64.b64decode(s) for s in images] == files
    assert not rows[3]["image"].startswith("[")  # c4 has a single image: plain base64
    sidecar = json.loads((tmp_path / "vlm" / "mimicgen_export.json").read_text())
    assert (
        sidecar["manifest_sha256"]
        == hashlib.sha256((bench / "manifest.json").read_bytes()).hexdigest()
    )


def test_result_file_round_trip(tmp_path: Path) -> None:
    """VLMEvalKit writes the input columns plus 'prediction' to xlsx; mimicgen scores it."""
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    rows = _rows(export_vlmevalkit(bench, tmp_path / "vlm"))
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["index", "id", "question", "answer", "category", "prediction"])
    for row in rows:
        sheet.append(
            [
                int(row["index"]),
                row["id"],
                row["question"],
                row["answer"],
                row["category"],
                row["answer"],
            ]
        )  # an oracle that replies with the canonical answer
    book.save(tmp_path / "oracle_MIMICGEN.xlsx")
    entry = score_file(bench, tmp_path / "oracle_MIMICGEN.xlsx")
    assert entry["coverage"]["n_missing"] == 0
    assert entry["pipelines"]["strict"]["overall"]["accuracy"] == 1.0
