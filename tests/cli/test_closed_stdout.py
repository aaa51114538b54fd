"""A command whose stdout reader has gone (``mimicgen index ... | head``) stops quietly with
status 0, through rich tables and ``typer.echo`` alike; real errors keep their status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _run_with_closed_stdout(args: list[str], tmp_path: Path) -> tuple[int, str]:
    """Run the CLI with stdout a real pipe whose read end is closed before it writes a byte."""
    env = dict(os.environ, PYTHONPATH=str(REPO), MIMICGEN_CACHE_DIR=str(tmp_path / "cache"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "mimicgen", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away, as `head` does once it has its lines
    err = proc.stderr.read().decode()
    return proc.wait(timeout=120), err


@pytest.mark.parametrize(
    "args",
    [
        ["ls"],  # a rich table
        ["flops"],  # typer.echo lines
        ["--help"],  # Click's own output
    ],
)
def test_closed_stdout_exits_quietly_with_status_0(args: list[str], tmp_path: Path) -> None:
    code, err = _run_with_closed_stdout(args, tmp_path)
    assert (code, err) == (0, "")


def test_index_into_closed_pipe(coco_tiny: Path, tmp_path: Path) -> None:
    source = f"coco:{coco_tiny / 'annotations' / 'instances_val2017.json'}"
    code, err = _run_with_closed_stdout(["index", source], tmp_path)
    assert (code, err) == (0, "")


def test_error_with_closed_stdout_keeps_its_status(tmp_path: Path) -> None:
    code, err = _run_with_closed_stdout(["build", "no-such-spec", "--out", "x"], tmp_path)
    assert code == 2
    assert err.startswith("mimicgen: error: spec 'no-such-spec' is neither")
    assert err.count("\n") == 1
