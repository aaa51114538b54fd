"""Prediction ingestion: plain JSONL, lmms-eval sample logs, VLMEvalKit xlsx/tsv; bad input."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

from mimicgen.errors import InputError
from mimicgen.scoring import load_benchmark, load_predictions

REPLIES = {"c1": "3", "c2": "dog: 2, cat: 1", "m1": "dog"}


def test_jsonl(tiny_bench: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        "\n".join(json.dumps({"id": k, "prediction": v}) for k, v in REPLIES.items())
        + "\n\n"
        + json.dumps({"id": "c3", "prediction": None})
        + "\n"
    )
    preds = load_predictions(path, load_benchmark(tiny_bench))
    assert preds.format == "jsonl"
    assert preds.by_id == {**REPLIES, "c3": ""}  # null -> empty reply


def test_lmms_eval_samples_log(tiny_bench: Path, tmp_path: Path) -> None:
    bench = load_benchmark(tiny_bench)
    order = [r["id"] for r in bench.records]
    lines = []
    for rid, reply in REPLIES.items():
        doc_id = order.index(rid)
        doc = {"id": rid} if rid != "m1" else {}  # m1: no id in doc -> mapped by doc_id
        lines.append(
            json.dumps(
                {
                    "doc_id": doc_id,
                    "doc": doc,
                    "target": "x",
                    "resps": [[reply]],
                    "filtered_resps": [reply],
                }
            )
        )
    path = tmp_path / "mimicgen_samples_2024.jsonl"
    path.write_text("\n".join(lines) + "\n")
    preds = load_predictions(path, bench)
    assert preds.format == "lmms-eval" and preds.by_id == REPLIES


def test_vlmevalkit_xlsx_and_tsv(tiny_bench: Path, tmp_path: Path) -> None:
    bench = load_benchmark(tiny_bench)
    order = [r["id"] for r in bench.records]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["index", "question", "answer", "prediction"])  # no id column: index = row
    for rid, reply in REPLIES.items():
        sheet.append([order.index(rid), "q", "a", reply])
    book.save(tmp_path / "model_MIMICGEN.xlsx")
    assert load_predictions(tmp_path / "model_MIMICGEN.xlsx", bench).by_id == REPLIES
    with open(tmp_path / "p.tsv", "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["index", "id", "prediction"])
        for i, (rid, reply) in enumerate(REPLIES.items()):
            writer.writerow([i, rid, reply])
    preds = load_predictions(tmp_path / "p.tsv", bench)
    assert preds.format == "vlmevalkit" and preds.by_id == REPLIES


@pytest.mark.parametrize(
    ("text", "lineno"),
    [
        ('{"id": "c1", "prediction": "3"}\n{"id": "c2", "prediction": \n', 2),  # cut short
        ('{"id": "c1", "prediction": "3"} {"id": "c2", "prediction": "1"}\n\n', 1),  # 2 objects
    ],
)
def test_malformed_line_names_file_and_line(
    tiny_bench: Path, tmp_path: Path, text: str, lineno: int
) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(text)
    with pytest.raises(InputError, match=rf"p\.jsonl:{lineno}: malformed JSON"):
        load_predictions(path, load_benchmark(tiny_bench))


def test_line_without_prediction(tiny_bench: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "c1", "prediction": "3"}\n{"id": "c2"}\n')
    with pytest.raises(
        InputError, match=r"p\.jsonl:2: expected an object with 'id' and 'prediction'"
    ):
        load_predictions(path, load_benchmark(tiny_bench))


@pytest.mark.parametrize(
    ("text", "lineno"),
    [
        ('{"id": "c1", "prediction": "3"}\n{"id": "c2"}', 2),  # no final newline
        ('{"id": "c1", "prediction": "3"}\r\n{"id": "c2"}\r\n', 2),  # CRLF
        ('\n{"id": "c1", "prediction": "3"}\n\n{"id": "c2"}\n', 4),  # blank lines
        ('{"id": "c1", "prediction": "3"}\n  \n\t{"id": "c2"}\n', 3),  # whitespace lines
        ('{"id": "c1", "prediction": "3"}\r\n\r\n{"id": "c2"}\r\n', 3),  # blank CRLF line
    ],
)
def test_bad_record_line_number(tiny_bench: Path, tmp_path: Path, text: str, lineno: int) -> None:
    """Errors name the real line on the one-call fast path and on the blank-line fallback."""
    path = tmp_path / "p.jsonl"
    path.write_bytes(text.encode())
    with pytest.raises(InputError, match=rf"p\.jsonl:{lineno}: expected an object"):
        load_predictions(path, load_benchmark(tiny_bench))


def test_strict_ids(tiny_bench: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "nope", "prediction": "3"}\n')
    bench = load_benchmark(tiny_bench)
    assert load_predictions(path, bench).unknown_ids == ["nope"]
    with pytest.raises(InputError, match="not in the benchmark"):
        load_predictions(path, bench, strict_ids=True)


def test_bad_benchmark(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="benchmark.jsonl not found"):
        load_benchmark(tmp_path)
    (tmp_path / "manifest.json").write_text("{}")
    (tmp_path / "benchmark.jsonl").write_text('{"id": "a", "task": "painting"}\n')
    with pytest.raises(InputError, match="benchmark.jsonl:1: benchmark record lacks 'answer'"):
        load_benchmark(tmp_path)


def test_cli_error_is_one_line_exit_2(tiny_bench: Path, tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text("not json\n")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mimicgen",
            "score",
            str(tiny_bench),
            str(path),
            "--out",
            str(tmp_path / "r.json"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "p.jsonl:1" in proc.stderr
    assert not (tmp_path / "r.json").exists()


def test_plain_jsonl_fast_path_equals_line_reader(tiny_bench: Path, tmp_path: Path) -> None:
    """A plain file (one typed decode) and the same lines after a blank line (line reader)."""
    rows = [
        {"id": "c1", "prediction": "3"},
        {"id": "nope", "prediction": "x"},  # unknown id
        {"id": "c2", "prediction": None},  # null -> ""
        {"id": "c3", "prediction": [["4 cats"], "y"]},  # nested list -> first element
        {"id": "m1", "prediction": 7, "extra": 1},  # a number, an extra key
    ]
    lines = [json.dumps(r) for r in rows]
    plain, blank = tmp_path / "plain.jsonl", tmp_path / "blank.jsonl"
    plain.write_text("\n".join(lines) + "\n")
    blank.write_text("\n" + "\n".join(lines) + "\n")
    bench = load_benchmark(tiny_bench)
    fast, slow = load_predictions(plain, bench), load_predictions(blank, bench)
    expected = {"c1": "3", "c2": "", "c3": "4 cats", "m1": "7"}
    assert fast.by_id == slow.by_id == expected
    assert list(fast.by_id) == list(slow.by_id) == list(expected)
    assert fast.unknown_ids == slow.unknown_ids == ["nope"]
    # A repeated id keeps the first prediction and is listed as a duplicate.
    plain.write_text("\n".join([*lines, json.dumps({"id": "c1", "prediction": "9"})]) + "\n")
    again = load_predictions(plain, bench)
    assert again.by_id["c1"] == "3" and again.duplicate_ids == ["c1"]
