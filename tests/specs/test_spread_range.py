"""Per-query counts outside their documented range are refused at spec load (one line), not
narrowed silently per query: counting spread in k..n_images, listing spread in 1..n_images."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mimicgen.errors import SpecError
from mimicgen.specs import load_spec


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "task: counting\nn_images: 5\nspread: [1, 40]\n",
            "spread [1, 40] lies outside the allowed range 1..5 (k..n_images)",
        ),
        (
            "task: counting\nn_images: 5\nk: 2\nspread: 1\n",
            "spread 1 lies outside the allowed range 2..5 (k..n_images)",
        ),
        (
            "task: counting\nn_images: 5\nk: [1, 9]\n",
            "k [1, 9] lies outside the allowed range 1..5 (1..n_images)",
        ),
        (
            "task: listing\nn_images: [2, 6]\nspread: [1, 9]\n",
            "spread [1, 9] lies outside the allowed range 1..6 (1..n_images)",
        ),
    ],
)
def test_out_of_range_counts_are_refused_with_the_allowed_range(
    tmp_path: Path, body: str, message: str
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(body)
    with pytest.raises(SpecError) as err:
        load_spec(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_in_range_values_still_load(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_text("task: counting\nn_images: [2, 9]\nk: [1, 2]\nspread: [1, 9]\n")
    assert load_spec(path).spread == (1, 9)


def test_build_refuses_it_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("task: counting\nn_images: 5\nspread: [1, 40]\n")
    res = subprocess.run(
        [sys.executable, "-m", "mimicgen", "build", str(path), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "allowed range 1..5" in lines[0] and "Traceback" not in res.stderr
    assert not (tmp_path / "out").exists()
