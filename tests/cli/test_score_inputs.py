"""``mimicgen score`` reports missing or unreadable inputs before it looks at --out."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mimicgen.cli import main

RECORD = (
    '{"id": "q0", "task": "common", "question": "Which class?", "answer": {"class": "cat"},'
    ' "answer_text": "cat", "images": [{"path": "images/a.jpg", "source_id": 1,'
    ' "position": 0, "role": "query", "class_counts": {"cat": 1}}], "controls": {}}\n'
)


@pytest.fixture
def setup(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A benchmark folder, a predictions file and an earlier report that --out would refuse to
    replace (no --overwrite): the --out complaint every case below must not get first."""
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "benchmark.jsonl").write_text(RECORD)
    (bench / "manifest.json").write_text('{"schema_version": 1, "sources": []}')
    preds = tmp_path / "preds.jsonl"
    preds.write_text('{"id": "q0", "prediction": "cat"}\n')
    report = tmp_path / "report.json"
    report.write_text("an earlier report\n")
    return bench, preds, report


def _score(monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["mimicgen", "score", *args])
    with pytest.raises(SystemExit) as exc:
        main()
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("mimicgen: error: "), err
    return err


def test_out_complaint_comes_when_the_inputs_are_fine(setup, monkeypatch, capsys):
    bench, preds, report = setup
    assert "pass --overwrite" in _score(
        monkeypatch, capsys, str(bench), str(preds), "--out", str(report)
    )


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("no benchmark folder", "benchmark.jsonl not found"),
        ("no manifest", "manifest.json not found"),
        ("no predictions", "prediction file not found"),
        ("predictions are a folder", "prediction file not found"),
    ],
)
def test_missing_inputs_come_before_the_out_check(setup, monkeypatch, capsys, case, needle):
    bench, preds, report = setup
    if case == "no benchmark folder":
        bench = bench.parent / "typo"
    elif case == "no manifest":
        (bench / "manifest.json").unlink()
    elif case == "no predictions":
        preds.unlink()
    else:
        preds.unlink()
        preds.mkdir()
    err = _score(monkeypatch, capsys, str(bench), str(preds), "--out", str(report))
    assert needle in err and "--overwrite" not in err
    assert report.read_text() == "an earlier report\n"  # nothing written


def test_unreadable_predictions_come_before_the_out_check(setup, monkeypatch, capsys):
    bench, preds, report = setup
    preds.chmod(0)
    if os.geteuid() == 0:  # root reads without permission: refuse the open as the kernel would
        real_open = Path.open

        def deny(self, *args, **kwargs):
            if self == preds:
                raise PermissionError(13, "Permission denied")
            return real_open(self, *args, **kwargs)

        monkeypatch.setattr(Path, "open", deny)
    err = _score(monkeypatch, capsys, str(bench), str(preds), "--out", str(report))
    assert f"{preds}: cannot be read (Permission denied)" in err and "--overwrite" not in err
