"""Compact per-sample rows (``SampleRows``) read and write exactly like a plain list of rows."""

from __future__ import annotations

from pathlib import Path

import msgspec
import numpy as np

from mimicgen.scoring import (
    SampleRows,
    load_benchmark,
    load_predictions,
    score_files,
    score_predictions,
    write_report,
)
from scoring.benchfiles import TINY_RECORDS, write_predictions

REPLIES = {
    # Repeated replies (shared distinct rows), an odd id string, an empty reply; the rest missing.
    TINY_RECORDS[0]["id"]: "3",
    TINY_RECORDS[1]["id"]: "3",
    TINY_RECORDS[2]["id"]: 'two "dogs"\nand a cat',
    TINY_RECORDS[4]["id"]: "",
}


def _score_twice(tiny_bench: Path, tmp_path: Path) -> tuple[list, SampleRows]:
    bench = load_benchmark(tiny_bench)
    preds = load_predictions(write_predictions(tmp_path / "p.jsonl", REPLIES), bench)
    plain: list = []
    compact = SampleRows()
    for name in ("a", 'b "quoted"'):  # two models: two blocks
        score_predictions(bench, preds, name=name, samples=plain)
        score_predictions(bench, preds, name=name, samples=compact)
    return plain, compact


def test_rows_read_like_the_list(tiny_bench: Path, tmp_path: Path) -> None:
    plain, compact = _score_twice(tiny_bench, tmp_path)
    assert len(compact) == len(plain) == 2 * 3 * len(TINY_RECORDS)
    assert list(compact) == plain
    assert [compact[i] for i in range(len(plain))] == plain
    assert compact[-1] == plain[-1] and compact[2:7] == plain[2:7]
    ids = [row["id"] for row in compact if row["pipeline"] == "strict" and row["model"] == "a"]
    assert ids == [r["id"] for r in TINY_RECORDS]


def test_jsonl_bytes_equal_encoding_each_row(tiny_bench: Path, tmp_path: Path) -> None:
    plain, compact = _score_twice(tiny_bench, tmp_path)
    expected = b"".join(msgspec.json.encode(row) + b"\n" for row in plain)
    assert b"".join(compact.jsonl_pieces()) == expected


def test_write_report_same_files(tiny_bench: Path, tmp_path: Path) -> None:
    pred = write_predictions(tmp_path / "p.jsonl", REPLIES)
    outputs = []
    for kind, rows in (("list", []), ("compact", SampleRows())):
        report = score_files(tiny_bench, [pred, pred], names=["a", "b"], samples=rows)
        out = tmp_path / kind / "report.json"
        written = write_report(report, out, rows)
        outputs.append([p.read_bytes() for p in written])
    assert outputs[0] == outputs[1]
    assert len(outputs[0]) == 3 and outputs[0][2].count(b"\n") == 2 * 3 * len(TINY_RECORDS)


def test_row_text_that_looks_like_a_row_head() -> None:
    """An extracted value that encodes like a row's head and id: the pieces are cut line by
    line instead (same bytes)."""
    from mimicgen.scoring import SampleRow
    from mimicgen.scoring.samples import SampleBlock

    fake = {"model": "a", "pipeline": "strict", "id": None}  # encodes as a row head + null
    templates = [
        tuple(
            SampleRow("a", p, None, "common", text, value, "ok", True, False, None)
            for p, value in (("strict", fake), ("lenient", "x"), ("mimic", [fake]))
        )
        for text in ('{"model":"a","pipeline":"strict","id":null', None)
    ]
    rows = SampleRows()
    rows.add(SampleBlock(templates, np.asarray([1, 0, 0, 1]), ["q1", 2, "q\n3", None]))
    expected = b"".join(msgspec.json.encode(row) + b"\n" for row in rows)
    assert b"".join(rows.jsonl_pieces()) == expected
    assert expected.count(b"\n") == 12
