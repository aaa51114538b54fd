"""VLMEvalKit export: the TSV's size is said before writing, warned about when large, and a disk
without room for it is refused before anything is written."""

from __future__ import annotations

import base64
import json
from collections import namedtuple
from pathlib import Path

import pytest
from scoring.benchfiles import TINY_RECORDS, write_benchmark

import mimicgen.export.vlmevalkit as vlm
from mimicgen.errors import InputError
from mimicgen.scoring.ingest import load_benchmark


def _expected_image_bytes(bench: Path) -> int:
    """The image column by hand: base64 of each file; several images as the CSV-quoted JSON list."""
    total = 0
    for record in TINY_RECORDS:
        enc = [
            base64.b64encode((bench / im["path"]).read_bytes()).decode() for im in record["images"]
        ]
        cell = enc[0] if len(enc) == 1 else json.dumps(enc)
        total += len(cell) if len(enc) == 1 else len(cell) + cell.count('"') + 2
    return total


def test_estimate_matches_the_written_tsv(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    heard: list[tuple[str, bool]] = []
    tsv = vlm.export_vlmevalkit(bench, tmp_path / "vlm", notify=lambda m, w: heard.append((m, w)))
    estimate = vlm.estimate_tsv_bytes(load_benchmark(bench))
    actual = tsv.stat().st_size
    assert abs(estimate - actual) <= 0.01 * actual, (estimate, actual)
    assert _expected_image_bytes(bench) < actual  # the image column dominates, hand-counted
    assert heard == [
        (
            f"VLMEvalKit TSV: about {vlm.human_bytes(estimate)} for {len(TINY_RECORDS)} queries",
            False,
        )
    ]


def test_large_tsv_warns_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    monkeypatch.setattr(vlm, "WARN_BYTES", 1000)
    seen: list[tuple[bool, list[str]]] = []

    def notify(message: str, warn: bool) -> None:
        seen.append((warn, sorted(p.name for p in tmp_path.iterdir())))

    vlm.export_vlmevalkit(bench, tmp_path / "vlm", notify=notify)
    assert seen == [(False, ["bench"]), (True, ["bench"])]  # both before OUT or staging exist


def test_disk_without_room_is_refused_before_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(vlm.shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 100, 100))
    with pytest.raises(InputError, match=r"needs about .* but .* has 100 B free"):
        vlm.export_vlmevalkit(bench, tmp_path / "vlm")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bench"]


def test_human_bytes() -> None:
    assert [vlm.human_bytes(n) for n in (999, 88_110_198, 28 * 10**9)] == [
        "999 B",
        "88.1 MB",
        "28.0 GB",
    ]
