"""Twin figures (accuracy vs evidence position, flip rates, accuracy vs added distractors) from a
hand-written report's ``paired`` section; reports without twins draw none of them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from mimicgen.cli.app import app
from mimicgen.scoring.paired import pair_block, rate_block
from tests.plots.helpers import MIN_PIXEL_STD, png_stats

runner = CliRunner()
TWIN_KINDS = ("twin_position", "twin_flips", "twin_distractors")


def _paired(shift: int) -> dict[str, Any]:
    import numpy as np

    base = np.array([1, 1, 1, 0, 1, 0, 1, 1], bool)
    twin = np.roll(base, shift)
    block = {
        "n_families": 8,
        "consistency": rate_block(3, 8),
        "variants": {"permute-p1": pair_block(base, twin)},
        "controls": {"permute": pair_block(base, twin), "distractors": pair_block(base, ~twin)},
        "evidence_position": {str(p): rate_block(8 - p - shift, 8) for p in range(4)},
        "added_distractors": {str(d): rate_block(7 - d, 8) for d in (0, 2, 4)},
    }
    return {"strict": {"tasks": {"counting": block, "listing": block}}}


def _report(path: Path, paired: bool) -> Path:
    overall = {"n": 8, "k": 6, "accuracy": 0.75, "ci_low": 0.4, "ci_high": 0.9}
    models = [
        {"name": name, "pipelines": {"strict": {"overall": overall, "tasks": {}}},
         **({"paired": _paired(i)} if paired else {})}
        for i, name in enumerate(("model-a", "model-b"))
    ]  # fmt: skip
    path.write_text(json.dumps({"models": models, "pipelines": ["strict"]}))
    return path


def _plot(report: Path, out: Path, *extra: str) -> str:
    res = runner.invoke(
        app, ["plot", str(report), "--out", str(out), "--width", "5", "--height", "3",
              "--dpi", "80", *extra],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    return res.stdout


def test_twin_figures_are_drawn_from_the_paired_section(tmp_path) -> None:
    out = tmp_path / "figs"
    stdout = _plot(_report(tmp_path / "r.json", True), out)
    for kind in TWIN_KINDS:
        size, std = png_stats(out / f"{kind}.png")
        assert size == (400, 240) and std > MIN_PIXEL_STD, kind
        assert (out / f"{kind}.svg").is_file() and f"skipped: {kind}" not in stdout
    again = tmp_path / "again"
    _plot(
        _report(tmp_path / "r.json", True), again, *[a for k in TWIN_KINDS for a in ("--only", k)]
    )
    for kind in TWIN_KINDS:  # byte-identical redraw
        assert (again / f"{kind}.png").read_bytes() == (out / f"{kind}.png").read_bytes()


def test_reports_without_twins_draw_no_twin_figure(tmp_path) -> None:
    out = tmp_path / "figs"
    stdout = _plot(_report(tmp_path / "r.json", False), out)
    assert not any(k in stdout for k in TWIN_KINDS)
    stdout = _plot(_report(tmp_path / "r.json", False), tmp_path / "only", "--only", "twin_flips")
    assert (
        "skipped: twin_flips: the score report has no twin families (build with variants:)"
        in stdout
    )
