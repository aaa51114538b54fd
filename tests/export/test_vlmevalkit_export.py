"""VLMEvalKit export: read the TSV back with the csv module and decode every image."""

from __future__ import annotations

import ast
import base64
import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import openpyxl
import pytest
from PIL import Image
from scoring.benchfiles import TINY_RECORDS, write_benchmark

from mimicgen.errors import InputError
from mimicgen.export.vlmevalkit import export_vlmevalkit
from mimicgen.scoring import score_file


def _rows(tsv: Path) -> list[dict[str, str]]:
    csv.field_size_limit(sys.maxsize)
    with open(tsv, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def test_tsv_columns_and_images(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    tsv = export_vlmevalkit(bench, tmp_path / "vlm", dataset_name="MIMICGEN_TINY_OpenEnded")
    assert tsv == tmp_path / "vlm" / "MIMICGEN_TINY_OpenEnded.tsv"
    rows = _rows(tsv)
    assert list(rows[0]) == [
        "index",
        "id",
        "image",
        "image_path",
        "question",
        "answer",
        "category",
        "split",
    ]
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


def _toliststr(s: str) -> list[str]:
    """VLMEvalKit's toliststr for the strings our TSV holds."""
    return [str(x) for x in ast.literal_eval(s)] if s.startswith("[") and s.endswith("]") else [s]


def _read_ok(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            return im.size[0] > 0 and im.size[1] > 0
    except OSError:
        return False


def _vlmevalkit_dump_image(row: dict[str, str], img_root: Path) -> list[Path]:
    """ImageBaseDataset.dump_image (VLMEvalKit) for our rows: decode into the image cache unless
    a readable file of that name is already there."""
    images = _toliststr(row["image"])
    if "image_path" in row:
        names = _toliststr(row["image_path"])
    elif len(images) > 1:
        names = [f"{row['index']}_{i}.png" for i in range(len(images))]
    else:
        names = [f"{row['index']}.png"]
    paths = []
    for b64, name in zip(images, names, strict=True):
        path = img_root / name
        if not _read_ok(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            Image.open(io.BytesIO(base64.b64decode(b64))).save(path)
        paths.append(path)
    return paths


def test_reexport_never_reads_stale_cached_images(tmp_path: Path) -> None:
    """VLMEvalKit reuses any readable $LMUData/images/<NAME>/<file>: after the benchmark's
    images change, a re-export under the same name must still show the new images."""
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    cache = tmp_path / "LMUData" / "images" / "MIMICGEN_OpenEnded"
    first = _rows(export_vlmevalkit(bench, tmp_path / "vlm"))
    for row in first:
        _vlmevalkit_dump_image(row, cache)
    # the same query ids, new pixels (record c4's single image and c1's first image)
    Image.new("RGB", (4, 4), (250, 1, 2)).save(bench / "images" / "c4_0.png")
    Image.new("RGB", (4, 4), (3, 250, 4)).save(bench / "images" / "c1_0.png")
    second = _rows(export_vlmevalkit(bench, tmp_path / "vlm", overwrite=True))
    seen = {
        row["id"]: [Image.open(p).getpixel((0, 0)) for p in _vlmevalkit_dump_image(row, cache)]
        for row in second
    }
    assert seen["c4"] == [(250, 1, 2)]
    assert seen["c1"][0] == (3, 250, 4) and seen["c1"][1:] == [(0, 91, 7), (0, 182, 7)]
    # unchanged images keep their cache names: one file per distinct image
    assert first[2]["image_path"] == second[2]["image_path"]


def test_dataset_name_makes_vlmevalkit_use_open_ended_prompts(tmp_path: Path) -> None:
    """VLMEvalKit's DATASET_TYPE answers 'VQA' for a custom name only if it contains
    'openended' (case-insensitive); anything else falls back to MCQ prompts."""
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    tsv = export_vlmevalkit(bench, tmp_path / "vlm")
    assert "openended" in tsv.stem.lower()
    with pytest.raises(InputError, match="MIMICGEN_OpenEnded"):
        export_vlmevalkit(bench, tmp_path / "vlm2", dataset_name="MIMICGEN")
    assert not (tmp_path / "vlm2").exists()
