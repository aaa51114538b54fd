"""Figures from a synthetic report and probe folders: files, sizes, content, determinism, numbers."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import mimicgen.cli  # noqa: F401  (registers the commands)
from mimicgen.cli.app import app
from mimicgen.plots.figures import FIGURES
from mimicgen.plots.inputs import gather_inputs
from mimicgen.plots.tables import crosstab, wilson
from tests.plots.helpers import MIN_PIXEL_STD, png_stats, read_jsonl, svg_root_tag

runner = CliRunner()


@pytest.fixture(scope="module")
def plotted(synthetic, tmp_path_factory):
    """`mimicgen plot` over the report and every probe folder, at 5 x 3 in, 80 dpi."""
    out = tmp_path_factory.mktemp("figs") / "out"
    args = [
        "plot",
        str(synthetic.report),
        *map(str, synthetic.probes),
        "--width",
        "5",
        "--height",
        "3",
        "--dpi",
        "80",
    ]
    res = runner.invoke(app, [*args, "--out", str(out)])
    assert res.exit_code == 0, res.output
    return out, res.stdout, args


def test_every_figure_kind_is_written_as_png_and_svg(plotted):
    out, stdout, _ = plotted
    assert "skipped:" not in stdout
    for name in FIGURES:
        for ext in ("png", "svg"):
            assert (out / f"{name}.{ext}").is_file(), f"{name}.{ext} missing; stdout:\n{stdout}"
            assert f"wrote: {out / f'{name}.{ext}'}" in stdout


def test_pngs_have_the_configured_size_and_are_not_blank(plotted):
    out, _, _ = plotted
    for png in sorted(out.glob("*.png")):
        size, std = png_stats(png)
        assert size == (400, 240), png.name  # 5 in x 80 dpi, 3 in x 80 dpi
        assert std > MIN_PIXEL_STD, f"{png.name} looks blank (std {std:.1f})"


def test_svgs_are_well_formed(plotted):
    out, _, _ = plotted
    svgs = sorted(out.glob("*.svg"))
    assert len(svgs) == len(FIGURES)
    for svg in svgs:
        assert svg_root_tag(svg) == "{http://www.w3.org/2000/svg}svg"


def test_same_inputs_give_byte_identical_files(plotted, tmp_path):
    out, _, args = plotted
    again = tmp_path / "again"
    kinds = ["count_spread_heatmap", "attention_overlay"]  # text, colour bars, raster images
    res = runner.invoke(app, [*args, "--out", str(again), *[f"--only={k}" for k in kinds]])
    assert res.exit_code == 0, res.output
    assert len(list(again.iterdir())) == 4
    for f in sorted(again.iterdir()):
        assert (out / f.name).read_bytes() == f.read_bytes(), f.name


def test_wilson_matches_published_values():
    # 8/10 successes: Wilson 95% interval (0.490, 0.943); 0/5: (0, 0.435).
    lo, hi = wilson(np.array([8, 0]), np.array([10, 5]))
    assert lo[0] == pytest.approx(0.4902, abs=1e-4) and hi[0] == pytest.approx(0.9433, abs=1e-4)
    assert lo[1] == pytest.approx(0.0, abs=1e-12) and hi[1] == pytest.approx(0.4345, abs=1e-4)


def test_two_way_table_matches_a_recount_from_the_raw_files(synthetic):
    """The heatmap/line numbers: recount correct/total per (model, count, spread) with plain json."""
    records = {r["id"]: r for r in read_jsonl(synthetic.bench / "benchmark.jsonl")}
    expected: dict[tuple[str, str, str], list[int]] = defaultdict(lambda: [0, 0])
    for s in read_jsonl(synthetic.samples):
        rec = records[s["id"]]
        if s["pipeline"] != "strict" or rec["task"] != "counting" or rec["controls"]["k"] != 1:
            continue
        count = next(iter(rec["answer"]["counts"].values()))
        cell = expected[(s["model"], str(count), str(rec["controls"]["spread"]))]
        cell[0] += int(s["correct"])
        cell[1] += 1
    data = gather_inputs([synthetic.report])
    df = data.samples.filter((data.samples["task"] == "counting") & (data.samples["k"] == "1"))
    got = {
        (r["model"], r["true_count"], r["spread"]): r
        for r in crosstab(df, ["model", "true_count", "spread"]).iter_rows(named=True)
    }
    assert set(got) == set(expected)
    for key, (k, n) in expected.items():
        assert got[key]["n"] == n and got[key]["accuracy"] == pytest.approx(k / n)


def test_one_way_report_numbers_agree_with_the_samples(synthetic):
    """The synthetic report itself is consistent with its samples (so the HTML test is meaningful)."""
    report = json.loads(synthetic.report.read_text())
    samples = [s for s in read_jsonl(synthetic.samples) if s["pipeline"] == "strict"]
    for model in report["models"]:
        mine = [s for s in samples if s["model"] == model["name"]]
        acc = sum(s["correct"] for s in mine) / len(mine)
        assert model["pipelines"]["strict"]["overall"]["accuracy"] == pytest.approx(acc)
        assert model["pipelines"]["strict"]["overall"]["n"] == len(mine)


def test_pipeline_option_changes_the_numbers(synthetic, tmp_path: Path):
    strict = gather_inputs([synthetic.report], pipeline="strict").samples
    lenient = gather_inputs([synthetic.report], pipeline="lenient").samples
    assert strict["correct"].sum() < lenient["correct"].sum()


def test_plots_from_a_real_mimicgen_score_report(synthetic, tmp_path):
    """The contract with the scorer: its report + samples feed the two-way figures."""
    report = tmp_path / "scores" / "report.json"
    res = runner.invoke(
        app, ["score", str(synthetic.bench), *map(str, synthetic.predictions), "--out", str(report)]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [
            "plot",
            str(report),
            "--out",
            str(tmp_path / "f"),
            "--formats",
            "png",
            "--only",
            "query_images",
            "--only",
            "count_spread_heatmap",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "skipped:" not in res.stdout, res.stdout
    # The one note: odd-one queries always have one query image, so that panel cannot be drawn.
    notes = [line for line in res.stdout.splitlines() if line.startswith("note:")]
    assert notes == [
        "note: query_images: skipped the odd_one panel: the number of query images is always 1 there"
    ], res.stdout
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [
        "count_spread_heatmap.png",
        "query_images.png",
    ]
    # Same per-sample verdicts as the synthetic replies imply (exact answer text = correct).
    data = gather_inputs([report])
    records = {r["id"]: r for r in read_jsonl(synthetic.bench / "benchmark.jsonl")}
    preds = {p["id"]: p["prediction"] for p in read_jsonl(synthetic.predictions[0])}
    got = dict(
        data.samples.filter(data.samples["model"] == "model-a").select("id", "correct").iter_rows()
    )
    assert got == {i: preds[i] == records[i]["answer_text"] for i in records}
