"""HTML report: table numbers equal the JSON, cards match the benchmark, self-contained page."""

from __future__ import annotations

import json
import math
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

import mimicgen.cli  # noqa: F401  (registers the commands)
from mimicgen.cli.app import app
from mimicgen.errors import InputError
from tests.plots.helpers import read_jsonl

runner = CliRunner()


class _Page(HTMLParser):
    """Collects score-table cells, cards, select options and every src/href."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[dict[str, Any]] = []  # {"key": str|None, "text": str, "table": str}
        self.cards: list[dict[str, str]] = []
        self.options: dict[str, list[str]] = {}
        self.urls: list[str] = []  # src attributes
        self.hrefs: list[str] = []
        self.body: dict[str, str] = {}
        self._table: list[str] = []
        self._cell: dict[str, Any] | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "table":
            self._table.append(a.get("class", ""))
        elif tag == "td" and self._table and "scores" in self._table[-1]:
            self._cell = {"key": a.get("data-key"), "text": ""}
        elif tag == "article":
            self.cards.append(a)
        elif tag == "select":
            self._select = a["id"]
            self.options[self._select] = []
        elif tag == "option" and self._select:
            self.options[self._select].append(a["value"])
        elif tag == "body":
            self.body = a
        if "src" in a:
            self.urls.append(a["src"])
        if "href" in a:
            self.hrefs.append(a["href"])

    def handle_endtag(self, tag: str) -> None:
        if tag == "table":
            self._table.pop()
        elif tag == "td" and self._cell is not None:
            self.cells.append(self._cell)
            self._cell = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell["text"] += data


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def _fmt(value: Any) -> str:
    """The documented table format, restated independently: ints plain, floats (rates) in
    percent with one decimal, as report.md prints them."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if value is None or math.isnan(value):
        return "–"
    return f"{100 * value:.1f}%"


def _walk(obj: Any, key: list[Any]) -> Any:
    for k in key:
        obj = obj[k]
    return obj


def test_every_table_number_matches_the_json(synthetic, html_report):
    page = _parse(html_report)
    report = json.loads(synthetic.report.read_text())
    keyed = [c for c in page.cells if c["key"]]
    assert len(keyed) > 300
    for cell in keyed:
        key = json.loads(cell["key"])
        assert cell["text"] == _fmt(_walk(report, key)), key
    # No number in a score table escapes the check: unkeyed cells are labels or '–'.
    for cell in page.cells:
        if not cell["key"]:
            assert not any(ch.isdigit() for ch in cell["text"]) or cell["text"] in {
                v for m in report["models"] for v in _all_control_values(m)
            } | {b["majority_answer"] for b in report["baselines"].values()}, cell


def _all_control_values(model: dict[str, Any]) -> set[str]:
    return {
        v
        for p in model["pipelines"].values()
        for t in p["tasks"].values()
        for by in t["by"].values()
        for v in by
    }


def test_tables_cover_the_whole_report(synthetic, html_report):
    """Count expected cells straight from the JSON: nothing is dropped from the tables."""
    page = _parse(html_report)
    report = json.loads(synthetic.report.read_text())
    keys = [json.loads(c["key"]) for c in page.cells if c["key"]]
    overall = [k for k in keys if k[-2] == "overall"]
    n_scopes = sum(1 + len(p["tasks"]) for m in report["models"] for p in m["pipelines"].values())
    assert len(overall) == 5 * n_scopes  # n, accuracy, ci_low, ci_high, parse_failure_rate
    breakdown = [k for k in keys if "by" in k]
    n_values = sum(
        len(by)
        for m in report["models"]
        for t in m["pipelines"]["strict"]["tasks"].values()
        for by in t["by"].values()
    )
    assert len(breakdown) == 4 * n_values
    assert all(k[3] == "strict" for k in breakdown)
    assert len([k for k in keys if k[0] == "baselines"]) == 2 * len(report["baselines"])
    assert len([k for k in keys if "coverage" in k]) == 5 * len(report["models"])


def test_cards_match_the_benchmark_and_the_samples(synthetic, html_report):
    page = _parse(html_report)
    records = read_jsonl(synthetic.bench / "benchmark.jsonl")
    correct = {
        (s["model"], s["id"]): s["correct"]
        for s in read_jsonl(synthetic.samples)
        if s["pipeline"] == "strict"
    }
    # Round-robin over tasks in benchmark order: 20 cards = 5 per task, each task's first 5.
    by_task = {
        t: [r["id"] for r in records if r["task"] == t]
        for t in dict.fromkeys(r["task"] for r in records)
    }
    expected = [ids[d] for d in range(5) for ids in by_task.values()]
    assert [c["data-id"] for c in page.cards] == expected
    task_of = {r["id"]: r["task"] for r in records}
    for card in page.cards:
        qid = card["data-id"]
        assert card["data-task"] == task_of[qid]
        assert card["data-correct"].split(",") == [
            "1" if correct[(m, qid)] else "0" for m in ("model-a", "model-b")
        ]


def test_filters_and_self_contained(synthetic, html_report):
    path, page = html_report, _parse(html_report)
    assert page.options["f-task"] == ["all", "counting", "listing", "common", "odd_one"]
    assert page.options["f-model"] == ["all", "0", "1"]
    assert page.options["f-outcome"] == ["all", "correct", "wrong"]
    assert page.urls and all(u.startswith("data:image/") for u in page.urls)
    assert page.hrefs and all(h.startswith("#s-") for h in page.hrefs)  # in-page navigation only
    text = path.read_text()
    assert "http://" not in text and "https://" not in text
    assert text.count('<figure class="fig"') == 8  # every figure kind but the twin ones


def test_link_images_uses_relative_paths(synthetic, tmp_path):
    out = tmp_path / "sub" / "r.html"
    res = runner.invoke(
        app,
        [
            "report",
            str(synthetic.bench),
            "--scores",
            str(synthetic.report),
            "--out",
            str(out),
            "--max-samples",
            "4",
            "--link-images",
            "--no-figures",
        ],
    )
    assert res.exit_code == 0, res.output
    page = _parse(out)
    assert "<figure" not in out.read_text()  # --no-figures
    images = [u for u in page.urls if not u.startswith("data:")]
    assert images and all(not u.startswith("/") for u in images)
    assert all((out.parent / u).resolve().is_file() for u in images)


def test_report_needs_inputs_and_refuses_to_overwrite(synthetic, tmp_path):
    res = runner.invoke(app, ["report", str(synthetic.bench), "--out", str(tmp_path / "r.html")])
    assert isinstance(res.exception, InputError) and "--predictions" in str(res.exception)
    existing = tmp_path / "old.html"
    existing.write_text("keep")
    res = runner.invoke(
        app,
        ["report", str(synthetic.bench), "--scores", str(synthetic.report), "--out", str(existing)],
    )
    assert isinstance(res.exception, InputError) and existing.read_text() == "keep"


def test_report_scores_predictions_on_the_fly(synthetic, tmp_path):
    out = tmp_path / "r.html"
    preds = [arg for p in synthetic.predictions for arg in ("--predictions", str(p))]
    res = runner.invoke(
        app,
        [
            "report",
            str(synthetic.bench),
            *preds,
            "--out",
            str(out),
            "--max-samples",
            "58",
            "--no-figures",
        ],
    )
    assert res.exit_code == 0, res.output
    page = _parse(out)
    records = {r["id"]: r for r in read_jsonl(synthetic.bench / "benchmark.jsonl")}
    preds = [{p["id"]: p["prediction"] for p in read_jsonl(path)} for path in synthetic.predictions]
    assert sorted(c["data-id"] for c in page.cards) == sorted(records)
    # The synthetic replies are either the canonical answer text or a refusal.
    for card in page.cards:
        qid = card["data-id"]
        expected = ["1" if p[qid] == records[qid]["answer_text"] else "0" for p in preds]
        assert card["data-correct"].split(",") == expected, qid
