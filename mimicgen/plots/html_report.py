"""One self-contained HTML report: score tables, figures and filterable sample cards.

No template engine and no external resources: the page is built from escaped strings, figures
and image thumbnails are embedded as data URIs (``--link-images`` links benchmark images by
relative path instead), and a small inline script filters the cards by task, model and outcome.

Every number in a score table sits in its own ``<td data-key='[...]'>`` whose JSON array is the
path of that value inside the report object (``models[i]`` in the order given), so the tables can
be checked against the JSON mechanically.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from mimicgen.io import atomic_write_text
from mimicgen.plots.bench_io import Benchmark, load_benchmark
from mimicgen.plots.inputs import PlotData, gather_inputs
from mimicgen.plots.report_io import PIPELINES, SAMPLE_SCHEMA, TASKS, control_series, sort_values
from mimicgen.plots.style import ROLE_COLOURS, FigureStyle
from mimicgen.scoring import score_files

__all__ = ["ReportOptions", "fmt_value", "render_report", "score_in_memory", "write_report"]

THUMB_SIDE = 160
"""Longest side, in pixels, of embedded image thumbnails."""
_METRIC_COLS = ("n", "accuracy", "ci_low", "ci_high", "parse_failure_rate")
_LISTING_COLS = ("precision", "recall", "f1")
_COVERAGE_COLS = ("n_queries", "n_predicted", "n_missing", "n_unknown_ids", "n_duplicates")


class ReportOptions(BaseModel):
    """Options of ``mimicgen report``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    pipeline: str = "strict"
    """Pipeline of the breakdown tables, figures and sample cards (overall tables show all)."""
    max_samples: int = Field(120, ge=0)
    """Sample cards shown, taken round-robin over tasks in benchmark order."""
    link_images: bool = False
    """Link benchmark images by relative path instead of embedding thumbnails."""
    figures: bool = True
    """Draw and embed the figures."""
    seed: int = 0
    """Bootstrap seed passed to the scorer for ``--predictions``."""


def fmt_value(value: Any) -> str:
    """How every table number is printed: ints (counts) as is, floats (accuracies, CIs, rates,
    baselines: all in [0, 1]) in percent with one decimal as report.md prints them, missing
    as '–'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{100 * value:.1f}%"
    return str(value)


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num_td(value: Any, key: list[Any]) -> str:
    return f"<td class=\"num\" data-key='{_e(json.dumps(key))}'>{_e(fmt_value(value))}</td>"


# ------------------------------------------------------------------------------------- scoring


def score_in_memory(
    bench_dir: Path, pred_paths: list[Path], pipeline: str, seed: int
) -> tuple[dict[str, Any], pl.DataFrame]:
    """Score prediction files (``mimicgen.scoring.score_files``): the report and its per-sample
    results for ``pipeline``."""
    rows: list[Any] = []  # scoring.score.SampleRow, read like dicts
    report = score_files(bench_dir, list(pred_paths), seed=seed, samples=rows)
    picked = [r for r in rows if r["pipeline"] == pipeline]  # filtered once, not per column
    cols = {k: [r.get(k) for r in picked] for k in SAMPLE_SCHEMA}
    cols["id"] = [str(x) for x in cols["id"]]
    return report, pl.DataFrame(cols, schema=SAMPLE_SCHEMA)


# -------------------------------------------------------------------------------------- tables


def _overall_table(models: list[dict[str, Any]]) -> str:
    head = "".join(
        f"<th>{c}</th>" for c in ("model", "pipeline", "scope", *_METRIC_COLS, *_LISTING_COLS)
    )
    rows = []
    for mi, model in enumerate(models):
        for pipe in [p for p in PIPELINES if p in model["pipelines"]] + [
            p for p in model["pipelines"] if p not in PIPELINES
        ]:
            block = model["pipelines"][pipe]
            scopes = [
                ("overall", ["models", mi, "pipelines", pipe, "overall"], block.get("overall"))
            ]
            for task in TASKS:
                t = (block.get("tasks") or {}).get(task)
                if t and t.get("overall"):
                    scopes.append(
                        (
                            task,
                            ["models", mi, "pipelines", pipe, "tasks", task, "overall"],
                            t["overall"],
                        )
                    )
            for scope, key, m in scopes:
                if not m:
                    continue
                cells = "".join(_num_td(m.get(c), [*key, c]) for c in _METRIC_COLS)
                cells += "".join(
                    _num_td(m[c], [*key, c]) if c in m else "<td></td>" for c in _LISTING_COLS
                )
                rows.append(
                    f"<tr><td>{_e(model['name'])}</td><td>{_e(pipe)}</td><td>{_e(scope)}</td>"
                    f"{cells}</tr>"
                )
    return (
        f'<table class="scores" id="overall"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _breakdown_tables(models: list[dict[str, Any]], pipeline: str) -> str:
    """One table per (task, control) of ``pipeline``: values down, (model x metric) across."""
    parts = []
    for task in TASKS:
        controls: dict[str, None] = {}
        for m in models:
            by = (((m["pipelines"].get(pipeline) or {}).get("tasks") or {}).get(task) or {}).get(
                "by"
            ) or {}
            controls.update(dict.fromkeys(by))
        for control in controls:
            series = [dict(control_series(m, pipeline, task, control)) for m in models]
            values: list[str] = []
            for s in series:
                values += [v for v in s if v not in values]
            head1 = "".join(f'<th colspan="4">{_e(m["name"])}</th>' for m in models)
            head2 = "".join(
                "<th>n</th><th>accuracy</th><th>ci_low</th><th>ci_high</th>" for _ in models
            )
            body = []
            for v in sort_values(values):
                cells = ""
                for mi, s in enumerate(series):
                    key = ["models", mi, "pipelines", pipeline, "tasks", task, "by", control, v]
                    cells += "".join(
                        _num_td(s[v].get(c), [*key, c]) if v in s else "<td>–</td>"
                        for c in ("n", "accuracy", "ci_low", "ci_high")
                    )
                body.append(f"<tr><td>{_e(v)}</td>{cells}</tr>")
            parts.append(
                f'<h3>{_e(task)} by {_e(control)}</h3><table class="scores breakdown" '
                f'data-task="{_e(task)}"><thead><tr><th rowspan="2">{_e(control)}</th>{head1}</tr>'
                f"<tr>{head2}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            )
    return "".join(parts) or "<p>No breakdowns in this pipeline.</p>"


def _coverage_table(models: list[dict[str, Any]]) -> str:
    head = "".join(f"<th>{c}</th>" for c in ("model", *_COVERAGE_COLS))
    rows = []
    for mi, m in enumerate(models):
        cov = m.get("coverage") or {}
        cells = "".join(
            _num_td(cov[c], ["models", mi, "coverage", c]) if c in cov else "<td>–</td>"
            for c in _COVERAGE_COLS
        )
        rows.append(f"<tr><td>{_e(m['name'])}</td>{cells}</tr>")
    return f'<table class="scores" id="coverage"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def _baseline_table(baselines: dict[str, Any]) -> str:
    if not baselines:
        return "<p>No baselines in the score report.</p>"
    rows = []
    for task in [t for t in TASKS if t in baselines]:
        b = baselines[task]
        rows.append(
            f"<tr><td>{_e(task)}</td>{_num_td(b.get('chance'), ['baselines', task, 'chance'])}"
            f"{_num_td(b.get('majority'), ['baselines', task, 'majority'])}"
            f"<td>{_e(b.get('majority_answer', ''))}</td></tr>"
        )
    return (
        '<table class="scores" id="baselines"><thead><tr><th>task</th><th>chance</th>'
        f"<th>majority</th><th>majority answer</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


# ------------------------------------------------------------------------------------- figures


def _figures_html(data: PlotData) -> str:
    from mimicgen.plots.figures import make_figures

    style = FigureStyle(formats=("png",))
    blocks, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="mimicgen-figs-") as tmp:
        for res in make_figures(data, Path(tmp), style):
            if res.skipped:
                skipped.append(f"<li>{_e(res.name)}: {_e(res.skipped)}</li>")
                continue
            # The CLI's note line without its prefix: the caveat and any panel left out.
            caveat = next((ln for ln in res.lines() if ln.startswith("note: ")), "")
            caveat = caveat.removeprefix(f"note: {res.name}: ")
            for path in res.paths:
                uri = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
                note = (
                    f"<figcaption>{_e(res.name)}"
                    + (f" — {_e(caveat)}" if caveat else "")
                    + "</figcaption>"
                )
                blocks.append(
                    f'<figure class="fig" data-figure="{_e(path.stem)}">'
                    f'<img alt="{_e(path.stem)}" src="{uri}">{note}</figure>'
                )
    out = "".join(blocks)
    if skipped:
        out += f'<p>Figures not drawn:</p><ul class="skipped">{"".join(skipped)}</ul>'
    return out


# ---------------------------------------------------------------------------------------- cards


class _Thumbs:
    """Image sources for cards: cached base64 JPEG thumbnails, or relative links."""

    def __init__(self, bench: Benchmark, out: Path, link: bool) -> None:
        self.bench, self.out_dir, self.link = bench, out.parent.resolve(), link
        self._cache: dict[Path, str] = {}

    def src(self, image: dict[str, Any]) -> str | None:
        path = self.bench.image_path(image)
        if self.link:
            rel = os.path.relpath(path.resolve(), self.out_dir)
            return quote(Path(rel).as_posix())
        if path not in self._cache:
            self._cache[path] = self._thumb(path)
        return self._cache[path] or None

    @staticmethod
    def _thumb(path: Path) -> str:
        from PIL import Image

        try:
            with Image.open(path) as src:
                src.draft("RGB", (THUMB_SIDE, THUMB_SIDE))  # fast JPEG decode at reduced size
                rgb = src.convert("RGB")
            rgb.thumbnail((THUMB_SIDE, THUMB_SIDE))
            buf = io.BytesIO()
            rgb.save(buf, format="JPEG", quality=80, optimize=True)
        except OSError:
            return ""
        return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pick_records(bench: Benchmark, n: int) -> list[dict[str, Any]]:
    """Up to n records, round-robin over tasks, each task in benchmark order (deterministic);
    twin builds: whole families, so a query's twins sit side by side."""
    if any("family" in r for r in bench.records):
        from mimicgen.plots.twins import pick_families

        return pick_families(bench.records, n)
    queues = {
        t: [r for r in bench.records if r["task"] == t]
        for t in dict.fromkeys(r["task"] for r in bench.records)
    }
    picked: list[dict[str, Any]] = []
    depth = 0
    while len(picked) < n and any(depth < len(q) for q in queues.values()):
        for q in queues.values():
            if depth < len(q) and len(picked) < n:
                picked.append(q[depth])
        depth += 1
    return picked


def _cards_html(data: PlotData, bench: Benchmark, thumbs: _Thumbs, n: int) -> tuple[str, list[str]]:
    samples = data.samples
    models = [m["name"] for m in data.models]
    verdicts: dict[tuple[str, str], dict[str, Any]] = {}
    if samples is not None:
        for row in samples.select("model", "id", "prediction", "correct").iter_rows(named=True):
            verdicts[(row["model"], row["id"])] = row
    cards = []
    for rec in _pick_records(bench, n):
        rid = str(rec["id"])
        imgs = []
        for im in sorted(rec.get("images") or [], key=lambda x: int(x.get("position", 0))):
            role = str(im.get("role", ""))
            src = thumbs.src(im)
            inner = (
                f'<img src="{_e(src)}" alt="{_e(im.get("path", ""))}">'
                if src
                else '<div class="noimg">missing</div>'
            )
            imgs.append(
                f'<div class="im role-{_e(role)}">{inner}<span>#{_e(im.get("position"))} '
                f"{_e(role)}</span></div>"
            )
        flags, preds = [], []
        for model in models:
            v = verdicts.get((model, rid))
            ok = bool(v and v["correct"])
            flags.append("1" if ok else "0")
            text = (
                "(no per-sample result)"
                if v is None
                else ("(no prediction)" if v["prediction"] is None else str(v["prediction"])[:300])
            )
            preds.append(
                f'<tr class="{"ok" if ok else "bad"}"><td>{_e(model)}</td><td>{_e(text)}</td>'
                f"<td>{'✓' if ok else '✗'}</td></tr>"
            )
        # Twin builds: the family and variant, so a family's cards read side by side.
        family = f'data-family="{_e(rec["family"])}" ' if "family" in rec else ""
        variant = f' <span class="task">{_e(rec["variant"])}</span>' if "variant" in rec else ""
        cards.append(
            f'<article class="card" data-id="{_e(rid)}" data-task="{_e(rec["task"])}" {family}'
            f'data-correct="{",".join(flags)}">'
            f'<header><b>{_e(rid)}</b> <span class="task">{_e(rec["task"])}</span>{variant}</header>'
            f'<div class="strip">{"".join(imgs)}</div>'
            f'<p class="q">{_e(rec.get("question", ""))}</p>'
            f'<p class="a">answer: <b>{_e(rec.get("answer_text", ""))}</b></p>'
            f'<table class="preds">{"".join(preds)}</table></article>'
        )
    return "".join(cards), models


# ------------------------------------------------------------------------------------- page

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;max-width:1400px}
h1{font-size:1.4em}h2{font-size:1.2em;border-bottom:1px solid #ddd;margin-top:1.5em}h3{font-size:1em}
table.scores{border-collapse:collapse;font-size:.85em;margin:.5em 0}
table.scores td,table.scores th{border:1px solid #ddd;padding:2px 6px}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.figs{display:flex;flex-wrap:wrap;gap:1em}.fig img{max-width:640px;border:1px solid #eee}
figcaption{font-size:.8em;color:#555}
#filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd}
#cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1em;margin-top:1em}
.card{border:1px solid #ccc;border-radius:6px;padding:.6em;font-size:.85em}
.card .task{background:#eee;border-radius:3px;padding:0 4px}
.strip{display:flex;flex-wrap:wrap;gap:4px}.im{display:flex;flex-direction:column;align-items:center;
border:3px solid #999;border-radius:3px}.im img{max-width:96px;max-height:96px}.im span{font-size:.75em}
.noimg{width:64px;height:48px;background:#eee}
.preds{width:100%;border-collapse:collapse}.preds td{border-top:1px solid #eee;padding:2px}
tr.ok td:last-child{color:#080}tr.bad td:last-child{color:#c00}
"""


def _role_css() -> str:
    return "".join(f".role-{r}{{border-color:{c}}}" for r, c in ROLE_COLOURS.items())


_JS = """
(function(){
  function apply(){
    var task=document.getElementById('f-task').value,
        model=document.getElementById('f-model').value,
        outcome=document.getElementById('f-outcome').value, shown=0;
    var cards=document.querySelectorAll('#cards .card');
    for(var i=0;i<cards.length;i++){
      var c=cards[i], flags=c.getAttribute('data-correct').split(','), ok;
      if(model==='all'){ok=flags.every(function(f){return f==='1';});}
      else{ok=flags[parseInt(model,10)]==='1';}
      var vis=(task==='all'||c.getAttribute('data-task')===task)&&
              (outcome==='all'||(outcome==='correct')===ok);
      c.style.display=vis?'':'none'; if(vis){shown++;}
    }
    document.getElementById('f-count').textContent=shown+' of '+cards.length+' shown';
    return shown;
  }
  window.addEventListener('error',function(){document.body.setAttribute('data-selfcheck','ERROR');});
  ['f-task','f-model','f-outcome'].forEach(function(id){
    document.getElementById(id).addEventListener('change',apply);});
  var expected=parseInt(document.getElementById('cards').getAttribute('data-count'),10);
  var n=apply();
  document.body.setAttribute('data-selfcheck',
    (n===expected&&document.querySelectorAll('table.scores').length>0)?'OK':'ERROR');
})();
"""


def _filters_html(tasks: list[str], models: list[str]) -> str:
    topt = "".join(f'<option value="{_e(t)}">{_e(t)}</option>' for t in tasks)
    mopt = "".join(f'<option value="{i}">{_e(m)}</option>' for i, m in enumerate(models))
    return (
        '<div id="filters">task <select id="f-task"><option value="all">all</option>'
        f'{topt}</select> model <select id="f-model"><option value="all">every model</option>'
        f'{mopt}</select> outcome <select id="f-outcome"><option value="all">all</option>'
        '<option value="correct">correct</option><option value="wrong">wrong</option></select> '
        '<span id="f-count"></span></div>'
    )


def render_report(
    data: PlotData,
    bench: Benchmark,
    out: Path,
    options: ReportOptions,
    baselines: dict[str, Any] | None = None,
) -> str:
    """The whole HTML page as a string."""
    thumbs = _Thumbs(bench, out, options.link_images)
    cards, models = _cards_html(data, bench, thumbs, options.max_samples)
    n_cards = cards.count("<article ")
    tasks = [t for t in TASKS if any(r["task"] == t for r in bench.records)]
    man = bench.manifest
    meta = (
        f"<p>benchmark <code>{_e(bench.root)}</code>: {len(bench.records)} queries; generator "
        f"{_e(man.get('generator_version', '?'))}, seed {_e(man.get('seed', '?'))}, spec hash "
        f"<code>{_e(man.get('spec_hash', '?'))}</code>. Breakdowns, figures and cards use the "
        f"<b>{_e(data.pipeline)}</b> pipeline.</p>"
    )
    notes = "".join(f'<p class="note">note: {_e(v)}</p>' for v in data.notes.values())
    sections = [
        ("coverage", "Coverage", _coverage_table(data.models)),
        ("overall", "Overall accuracy", _overall_table(data.models)),
        ("baselines", "Baselines", _baseline_table(baselines or {})),
        (
            "breakdowns",
            f"Breakdowns ({data.pipeline})",
            _breakdown_tables(data.models, data.pipeline),
        ),
    ]
    if options.figures:
        sections.append(("figures", "Figures", f'<div class="figs">{_figures_html(data)}</div>'))
    sections.append(
        (
            "samples",
            "Samples",
            (f'{_filters_html(tasks, models)}<div id="cards" data-count="{n_cards}">{cards}</div>'),
        )
    )
    nav = " · ".join(f'<a href="#s-{sid}">{_e(title)}</a>' for sid, title, _ in sections)
    body = "".join(
        f'<h2 id="s-{sid}">{_e(title)}</h2>{content}' for sid, title, content in sections
    )
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>mimicgen report — {_e(bench.root.name)}</title>"
        f"<style>{_CSS}{_role_css()}</style></head><body>"
        f"<h1>mimicgen report</h1>{meta}{notes}<nav>{nav}</nav>{body}"
        f"<script>{_JS}</script></body></html>\n"
    )


def write_report(
    bench_dir: Path,
    out: Path,
    predictions: list[Path],
    scores: list[Path],
    probes: list[Path],
    options: ReportOptions,
) -> list[str]:
    """Score/load everything, render the page and write it atomically; returns notes for the CLI."""
    bench = load_benchmark(bench_dir)
    scored: dict[str, Any] = {"models": []}
    extra_samples = None
    if predictions:
        scored, extra_samples = score_in_memory(
            bench_dir, predictions, options.pipeline, options.seed
        )
    data = gather_inputs(
        [*scores, *probes],
        pipeline=options.pipeline,
        extra_models=scored["models"],
        extra_samples=extra_samples,
        bench=bench,
    )
    data.baselines = data.baselines or dict(scored.get("baselines") or {})
    page = render_report(data, bench, out, options, data.baselines)
    atomic_write_text(out, page)
    return [f"note: {v}" for v in data.notes.values()]
