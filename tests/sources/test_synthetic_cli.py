"""``mimicgen synth`` end to end through the real entry point (exit codes, stdout, stderr).

The entry point runs in-process (``sys.argv`` patched) rather than in a subprocess: same code path
as the console script, without paying the CLI's import time once per call.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from mimicgen.cli import main


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


Synth = Callable[..., Result]


@pytest.fixture
def synth(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Synth:
    """Run ``mimicgen synth ARGS`` and return its exit status and captured output."""
    monkeypatch.setenv("MIMICGEN_PROGRESS", "0")

    def run(*args: str) -> Result:
        monkeypatch.setattr(sys, "argv", ["mimicgen", "synth", *args])
        code: int | str | None = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code
        out, err = capsys.readouterr()
        return Result(code if isinstance(code, int) else 1, out, err)

    return run


def test_synth_writes_dataset_and_summary(tmp_path: Path, synth: Synth) -> None:
    out = tmp_path / "ds"
    res = synth("--out", str(out), "--images", "6", "--seed", "11", "--size", "128")
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "annotations.json").read_text())
    assert len(doc["images"]) == 6 and doc["info"]["seed"] == 11
    assert sorted(p.name for p in (out / "images").iterdir()) == [
        f"{k:012d}.png" for k in range(1, 7)
    ]
    n_boxes = len(doc["annotations"])
    n_groups = sum(a["iscrowd"] for a in doc["annotations"])
    assert str(out / "annotations.json") in res.stdout
    assert f"6 images, {n_boxes} boxes ({n_groups} group), 18 classes" in res.stdout


def test_synth_refuses_to_overwrite(tmp_path: Path, synth: Synth) -> None:
    out = tmp_path / "ds"
    assert synth("--out", str(out), "--images", "3", "--size", "96").returncode == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}

    res = synth("--out", str(out), "--images", "5", "--seed", "2", "--size", "96")
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "--overwrite" in lines[0] and "Traceback" not in res.stderr
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before

    res = synth("--out", str(out), "--images", "5", "--seed", "2", "--size", "96", "--overwrite")
    assert res.returncode == 0, res.stderr
    assert len(json.loads((out / "annotations.json").read_text())["images"]) == 5
    assert [p.name for p in tmp_path.iterdir()] == ["ds"]  # no staging folder left behind


@pytest.mark.parametrize(
    "args", [("--images", "0"), ("--seed", "-4"), ("--size", "10"), ("--format", "gif")]
)
def test_synth_bad_options_exit_2_and_write_nothing(
    tmp_path: Path, args: tuple[str, str], synth: Synth
) -> None:
    res = synth("--out", str(tmp_path / "ds"), *args)
    assert res.returncode == 2
    assert "Traceback" not in res.stderr
    assert list(tmp_path.iterdir()) == []
