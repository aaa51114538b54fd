"""query_images on many total image counts: one legend outside the panels, percent ticks, a line
for the panel that cannot be drawn; the HTML report prints accuracy in percent as report.md does."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import polars as pl
import pytest

pytest.importorskip("matplotlib", reason="the 'plots' extra (matplotlib) is not installed")

from mimicgen.plots import figures
from mimicgen.plots.html_report import ReportOptions
from mimicgen.plots.html_report import write_report as write_html_report
from mimicgen.plots.inputs import PlotData
from mimicgen.plots.style import FigureStyle
from mimicgen.scoring import score_files
from mimicgen.scoring.report import markdown_path
from mimicgen.scoring.report import write_report as write_score_report
from tests.plots.test_html_report import _parse
from tests.scoring.benchfiles import TINY_RECORDS, write_benchmark

TOTALS = range(2, 9)  # 7 total image counts, as a counting_unbalanced build has


def _samples() -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for total in TOTALS:
        for q in range(1, min(total, 4)):
            for i in range(6):
                rows.append(
                    {
                        "model": "m",
                        "task": "counting",
                        "n_images": str(total),
                        "n_query_images": str(q),
                        "correct": (i + q + total) % 3 != 0,
                    }
                )
    for q in (2, 3, 4):
        rows += [
            {
                "model": "m",
                "task": "listing",
                "n_images": "4",
                "n_query_images": str(q),
                "correct": i % 2 == 0,
            }
            for i in range(4)
        ]
    rows += [  # odd-one: always one query image (the odd one)
        {
            "model": "m",
            "task": "odd_one",
            "n_images": str(n),
            "n_query_images": "1",
            "correct": True,
        }
        for n in (4, 5)
    ]
    return pl.DataFrame(rows)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Any, figures.FigureResult]:
    """query_images' figure object (captured before it is saved and closed) and its result."""
    caught: list[Any] = []
    real = figures.save_figure

    def keep(fig: Any, *args: Any) -> list[Path]:
        fig.canvas.draw()  # lay out (constrained layout) while the figure is still open
        caught.append(fig)
        return real(fig, *args)

    monkeypatch.setattr(figures, "save_figure", keep)
    data = PlotData(models=[{"name": "m"}], pipeline="strict", samples=_samples())
    result = figures.query_images(data, tmp_path, FigureStyle(formats=("png",)))
    assert result.skipped is None and len(caught) == 1
    return caught[0], result


def test_one_legend_outside_every_panel_and_inside_the_figure(drawn) -> None:
    fig, _ = drawn
    assert [ax.get_legend() for ax in fig.axes] == [None] * len(fig.axes)
    assert len(fig.legends) == 1
    legend = fig.legends[0]
    assert [t.get_text() for t in legend.get_texts()] == [f"{n} images" for n in TOTALS]
    box = legend.get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), ax.get_title()
    page = fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1


def test_a_total_has_one_colour_in_every_panel(drawn) -> None:
    fig, _ = drawn
    colours: dict[str, set[Any]] = {}
    for ax in fig.axes:
        for container in ax.containers:  # errorbar containers carry the line's label
            line = container.lines[0]
            colours.setdefault(container.get_label(), set()).add(line.get_color())
    assert set(colours) == {f"{n} images" for n in TOTALS}
    assert all(len(c) == 1 for c in colours.values()), colours
    assert len({next(iter(c)) for c in colours.values()}) == len(TOTALS)


def test_accuracy_axes_have_percent_ticks_every_quarter(drawn) -> None:
    fig, _ = drawn
    for ax in fig.axes:
        assert list(ax.get_yticks()) == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert [t.get_text() for t in ax.get_yticklabels()] == ["0%", "25%", "50%", "75%", "100%"]


def test_the_odd_one_panel_that_cannot_be_drawn_gets_a_line(drawn) -> None:
    fig, result = drawn
    assert [ax.get_title() for ax in fig.axes] == ["counting · m", "listing · m"]
    assert (
        "note: query_images: skipped the odd_one panel: the number of query images is always 1 there"
        in result.lines()
    )


def test_html_report_accuracy_is_the_percent_report_md_prints(tmp_path: Path) -> None:
    bench = write_benchmark(tmp_path / "bench", TINY_RECORDS)
    preds = tmp_path / "p.jsonl"  # right on every other query
    preds.write_text(
        "".join(
            json.dumps({"id": r["id"], "prediction": r["answer_text"] if i % 2 else "no"}) + "\n"
            for i, r in enumerate(TINY_RECORDS)
        )
    )
    report = tmp_path / "r.json"
    write_score_report(score_files(bench, [preds]), report)
    # report.md's side-by-side table: "| overall | n | acc [lo, hi] | ..." (strict first)
    row = next(
        line for line in markdown_path(report).read_text().splitlines() if "| overall |" in line
    )
    numbers = re.match(r"\| overall \| \d+ \| ([\d.]+) \[([\d.]+), ([\d.]+)\]", row)
    assert numbers is not None, row
    page = tmp_path / "r.html"
    options = ReportOptions(figures=False, max_samples=0)
    write_html_report(bench, page, predictions=[], scores=[report], probes=[], options=options)
    cells = {c["key"]: c["text"] for c in _parse(page).cells if c["key"]}
    key = ["models", 0, "pipelines", "strict", "overall"]
    got = [cells[json.dumps([*key, c])] for c in ("accuracy", "ci_low", "ci_high")]
    assert got == [f"{v}%" for v in numbers.groups()]


def test_html_report_caption_names_the_skipped_panel(html_report: Path) -> None:
    text = html_report.read_text()
    caption = re.search(r'data-figure="query_images">.*?<figcaption>(.*?)</figcaption>', text)
    assert caption is not None
    assert "skipped the odd_one panel: the number of query images is always 1 there" in (
        caption.group(1)
    )
