"""The MIMIC study's figure kinds, one function per kind.

Every function takes ``(data, out_dir, style)`` and returns a :class:`FigureResult`: the files it
wrote, or ``skipped`` with the reason when its inputs are missing (a control never varied, no probe
folder of the right kind). Missing data is a message, never an exception. Several models or probe
settings given together share one figure (lines, bars or small multiples).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from mimicgen.bench.reader import is_benchmark
from mimicgen.plots.bench_io import Benchmark, load_benchmark
from mimicgen.plots.inputs import PlotData
from mimicgen.plots.probe_io import ProbeRun, safe_id
from mimicgen.plots.report_io import TASKS, control_series, metric, sort_values
from mimicgen.plots.style import ROLE_COLOURS, FigureStyle, color_for, new_figure, save_figure
from mimicgen.plots.tables import crosstab
from mimicgen.registry import task_with_plot

__all__ = [
    "FIGURES",
    "FigureResult",
    "accuracy_vs_k",
    "attention_by_layer",
    "attention_overlay",
    "count_spread_heatmap",
    "make_figures",
    "pooling",
    "query_images",
    "sequence_length",
    "stitch",
]

MAX_OVERLAY_QUERIES = 3
"""Queries shown per attention-overlay figure (rows)."""
_TRUE = ("true", "1", "balanced", "yes")


@dataclass(frozen=True)
class FigureResult:
    """Outcome of one figure function."""

    name: str
    """Figure kind (file stem prefix)."""
    paths: tuple[Path, ...] = ()
    """Files written (PNG/SVG)."""
    skipped: str | None = None
    """Why nothing was written; None when written."""
    note: str | None = None
    """Caveat about what was drawn (e.g. a missing control run)."""
    skipped_panels: tuple[str, ...] = ()
    """Panels left out of a drawn figure, each ``"<panel>: <reason>"`` (a task whose control
    never varies), so a missing panel is never silent."""

    def lines(self) -> list[str]:
        """Human-readable lines for the CLI: ``wrote: ...``, ``note: ...`` or ``skipped: ...``."""
        if self.skipped:
            return [f"skipped: {self.name}: {self.skipped}"]
        out = [f"wrote: {p}" for p in self.paths]
        notes = [self.note] if self.note else []
        for panel in self.skipped_panels:
            what, _, why = panel.partition(": ")
            notes.append(f"skipped the {what} panel: {why}")
        if notes:  # one note line per kind
            out.append(f"note: {self.name}: {'; '.join(notes)}")
        return out


# ----------------------------------------------------------------------------------------- helpers


def _x_positions(values: list[str]) -> np.ndarray:
    """Numeric x for control values when they are numbers, else category indices."""
    try:
        return np.array([float(v) for v in values])
    except ValueError:
        return np.arange(len(values), dtype=float)


def _errorline(
    ax: Any,
    values: list[str],
    acc: list[float],
    lo: list[float],
    hi: list[float],
    color: str,
    label: str,
    linestyle: str = "-",
    marker: str = "o",
    order: list[str] | None = None,
) -> None:
    """Accuracy line with 95% CI error bars over control values.

    ``order`` is every value any line on this axis has (default: ``values``): ticks go at those
    values only (1, 2, 4, 8 - not 1.5), and non-numeric values share one category order.
    """
    order = order or values
    xs = _x_positions(order)
    where = dict(zip(order, xs, strict=True))
    a, lo_a, hi_a = np.array(acc), np.array(lo), np.array(hi)
    yerr = np.vstack([np.clip(a - lo_a, 0, None), np.clip(hi_a - a, 0, None)])
    ax.errorbar(
        [where[v] for v in values],
        a,
        yerr=yerr,
        color=color,
        label=label,
        linestyle=linestyle,
        marker=marker,
        markersize=4,
        capsize=3,
        linewidth=1.4,
    )
    ax.set_xticks(xs, order)
    ax.minorticks_off()


def _metric_cols(metrics: list[dict[str, Any]]) -> tuple[list[float], list[float], list[float]]:
    acc = [float(m["accuracy"]) for m in metrics]
    lo = [float(m.get("ci_low", m["accuracy"])) for m in metrics]
    hi = [float(m.get("ci_high", m["accuracy"])) for m in metrics]
    return acc, lo, hi


def _model_order(data: PlotData, df: pl.DataFrame) -> list[str]:
    present = set(df["model"].unique().to_list())
    order = [m["name"] for m in data.models if m["name"] in present]
    return order + sorted(present - set(order))


ACCURACY_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
"""Accuracy axes always carry these ticks, labelled in percent (as report.md and the HTML
report print accuracy): short panels would otherwise get only 0 and 1."""


def _finish_axes(ax: Any, xlabel: str, title: str) -> None:
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_yticks(ACCURACY_TICKS, [f"{100 * t:.0f}%" for t in ACCURACY_TICKS])
    ax.set_title(title)


def _legend(ax: Any) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(handles, labels, frameon=False, loc="best")


def _figure_legend(fig: Any, axes: Any, title: str) -> None:
    """One legend for all panels, outside them on the right: with many lines a per-panel
    legend covers the lines and spills into the next panel. Entries in first-seen order."""
    entries: dict[str, Any] = {}
    for ax in axes.ravel():
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            entries.setdefault(label, handle)
    if entries:
        fig.legend(
            list(entries.values()),
            list(entries),
            loc="outside right upper",
            title=title,
            frameon=False,
        )


def _constant_panels(values: dict[str, list[str]]) -> tuple[str, ...]:
    """``"<task>: ..."`` for each task whose number of query images never varies."""
    return tuple(
        f"{task}: the number of query images is always {vals[0]} there"
        for task, vals in values.items()
        if len(vals) == 1
    )


# ------------------------------------------------------------------------------ report figures


def query_images(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Accuracy vs number of query images, one line per total image count (paper Fig. 2)."""
    name = "query_images"
    if data.samples is not None and data.samples.height:
        ct = crosstab(data.samples, ["model", "task", "n_images", "n_query_images"])
        values = {
            t: sort_values(sub["n_query_images"].unique().to_list())
            for t in TASKS
            if (sub := ct.filter(pl.col("task") == t)).height
        }
        tasks = [t for t, vals in values.items() if len(vals) >= 2]
        if not tasks:
            return FigureResult(name, skipped="the number of query images never varies in any task")
        models = _model_order(data, ct)
        shown = ct.filter(pl.col("task").is_in(tasks))
        # One colour per total image count across every panel, so one legend serves them all.
        totals = sort_values(shown["n_images"].unique().to_list())
        fig, axes = new_figure(style, len(tasks), len(models), sharey=True)
        for r, task in enumerate(tasks):
            for c, model in enumerate(models):
                ax = axes[r][c]
                sub = ct.filter((pl.col("task") == task) & (pl.col("model") == model))
                order = sort_values(sub["n_query_images"].unique().to_list())
                for total in sort_values(sub["n_images"].unique().to_list()):
                    rows = {
                        row["n_query_images"]: row
                        for row in sub.filter(pl.col("n_images") == total).iter_rows(named=True)
                    }
                    vals = sort_values(list(rows))
                    _errorline(
                        ax,
                        vals,
                        *_metric_cols([rows[v] for v in vals]),
                        color_for(totals.index(total)),
                        f"{total} images",
                        order=order,
                    )
                _finish_axes(ax, "query images", f"{task} · {model}")
        _figure_legend(fig, axes, "total images")
        return FigureResult(
            name,
            tuple(save_figure(fig, out_dir, name, style)),
            skipped_panels=_constant_panels(values),
        )
    # Fallback: the report's one-way breakdown (total image count cannot be crossed in).
    if not data.models:
        return FigureResult(name, skipped="no score report given")
    values = {}
    for t in TASKS:
        seen = {
            v for m in data.models for v, _ in control_series(m, data.pipeline, t, "n_query_images")
        }
        if seen:
            values[t] = sort_values(list(seen))
    tasks = [
        t
        for t in TASKS
        if any(len(control_series(m, data.pipeline, t, "n_query_images")) >= 2 for m in data.models)
    ]
    if not tasks:
        return FigureResult(name, skipped="the number of query images never varies in any task")
    fig, axes = new_figure(style, 1, len(tasks), sharey=True)
    for c, task in enumerate(tasks):
        ax = axes[0][c]
        per_model = [control_series(m, data.pipeline, task, "n_query_images") for m in data.models]
        order = sort_values(list({v for series in per_model for v, _ in series}))
        for i, (entry, series) in enumerate(zip(data.models, per_model, strict=True)):
            if series:
                _errorline(
                    ax,
                    [v for v, _ in series],
                    *_metric_cols([m for _, m in series]),
                    color_for(i),
                    entry["name"],
                    order=order,
                )
        _finish_axes(ax, "query images", task)
    _figure_legend(fig, axes, "model")
    reason = data.notes.get("samples", "per-sample results unavailable")
    return FigureResult(
        name,
        tuple(save_figure(fig, out_dir, name, style)),
        note=f"one line per model, not per total image count ({reason})",
        skipped_panels=_constant_panels({t: v for t, v in values.items() if t not in tasks}),
    )


def count_spread_heatmap(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Balanced counting: accuracy for each true count (rows) x spread (columns) (paper Fig. 3)."""
    name = "count_spread_heatmap"
    task = task_with_plot(name)
    if task is None:
        return FigureResult(name, skipped="no registered task feeds this figure")
    if data.samples is None:
        return FigureResult(
            name,
            skipped="needs per-sample results joined with the benchmark ("
            + data.notes.get("samples", "none given")
            + ")",
        )
    df = data.samples.filter(pl.col("task") == task.name)
    note = None
    if "balanced" in df.columns:
        df = df.filter(pl.col("balanced").str.to_lowercase().is_in(_TRUE))
    else:
        note = "benchmark records no 'balanced' control; all counting queries with one total shown"
    if "k" in df.columns:
        df = df.filter(pl.col("k").is_null() | (pl.col("k") == "1"))
    spread = "spread" if "spread" in df.columns else "n_query_images"
    if "true_count" not in df.columns:
        return FigureResult(name, skipped="no counting queries with a single true count")
    ct = crosstab(df, ["model", "true_count", spread])
    if ct.height == 0:
        return FigureResult(name, skipped="no balanced counting queries with a single true count")
    models = _model_order(data, ct)
    counts = sort_values(ct["true_count"].unique().to_list())
    spreads = sort_values(ct[spread].unique().to_list())
    fig, axes = new_figure(style, 1, len(models))
    drawn: list[Any] = []  # the heatmaps; all share one 0-1 colour scale
    for c, model in enumerate(models):
        ax = axes[0][c]
        grid = np.full((len(counts), len(spreads)), np.nan)
        sub = ct.filter(pl.col("model") == model)
        for row in sub.iter_rows(named=True):  # at most a few dozen cells
            grid[counts.index(row["true_count"]), spreads.index(row[spread])] = row["accuracy"]
            ax.text(
                spreads.index(row[spread]),
                counts.index(row["true_count"]),
                f"{100 * row['accuracy']:.0f}%\nn={row['n']}",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if row["accuracy"] < 0.6 else "black",
            )
        drawn.append(ax.imshow(grid, vmin=0, vmax=1, cmap="viridis", origin="lower", aspect="auto"))
        ax.set_xticks(range(len(spreads)), spreads)
        ax.set_yticks(range(len(counts)), counts)
        ax.set_xlabel("spread (images holding the instances)")
        ax.set_ylabel("true count")
        ax.set_title(f"{task.title} · {model}")
        ax.grid(False)
    bar = fig.colorbar(drawn[-1], ax=axes.ravel().tolist(), label="accuracy", shrink=0.8)
    bar.set_ticks(ACCURACY_TICKS, labels=[f"{100 * t:.0f}%" for t in ACCURACY_TICKS])
    return FigureResult(name, tuple(save_figure(fig, out_dir, name, style)), note=note)


def accuracy_vs_k(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Counting accuracy vs the number of target classes k, one line per model (paper Fig. 5)."""
    name = "accuracy_vs_k"
    task = task_with_plot(name)
    if task is None:
        return FigureResult(name, skipped="no registered task feeds this figure")
    if not data.models:
        return FigureResult(name, skipped="no score report given")
    series = [
        (i, m, control_series(m, data.pipeline, task.name, "k")) for i, m in enumerate(data.models)
    ]
    series = [s for s in series if len(s[2]) >= 2]
    if not series:
        return FigureResult(name, skipped="k never varies among the counting queries")
    fig, axes = new_figure(style)
    ax = axes[0][0]
    order = sort_values(list({v for _, _, s in series for v, _ in s}))
    for i, model, s in series:
        _errorline(
            ax,
            [v for v, _ in s],
            *_metric_cols([m for _, m in s]),
            color_for(i),
            model["name"],
            order=order,
        )
    _finish_axes(
        ax, "k (classes counted per question)", f"{task.title} accuracy vs k ({data.pipeline})"
    )
    _legend(ax)
    return FigureResult(name, tuple(save_figure(fig, out_dir, name, style)))


# ------------------------------------------------------------------------------- probe figures


def _coverage_note(label: str, entry: dict[str, Any]) -> str | None:
    """A caveat when a run predicted only part of the benchmark (e.g. ``probe --limit``)."""
    cov = entry.get("coverage") or {}
    missing, total = cov.get("n_missing", 0), cov.get("n_queries", 0)
    if missing:
        return f"{label}: {missing} of {total} queries have no prediction and count as wrong"
    return None


def _runs_by_model(runs: list[ProbeRun]) -> dict[str, list[ProbeRun]]:
    out: dict[str, list[ProbeRun]] = {}
    for run in runs:
        out.setdefault(run.config.model, []).append(run)
    return out


def _panels(entries: list[dict[str, Any]], pipeline: str) -> list[str | None]:
    """``None`` (overall) plus every task any entry has, in canonical order."""
    tasks = {
        t
        for e in entries
        for t in ((e.get("pipelines") or {}).get(pipeline) or {}).get("tasks", {})
    }
    return [None, *[t for t in TASKS if t in tasks]]


def pooling(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Accuracy vs pooling factor (token pooling) beside the pixel-space control (paper Fig. 6)."""
    name = "pooling"
    runs = [r for r in data.probes if r.setting.kind in ("pool", "pixel", "none", "attn")]
    if not any(r.setting.kind in ("pool", "pixel") for r in runs):
        return FigureResult(name, skipped="no probe folders with pool:F or pixel:F were given")
    notes: list[str] = []
    # model -> kind -> [(factor, entry)]
    curves: dict[str, dict[str, list[tuple[int, dict[str, Any]]]]] = {}
    baselines: dict[str, list[dict[str, Any]]] = {}
    for model, model_runs in _runs_by_model(runs).items():
        for run in model_runs:
            entry, why = data.probe_model(run)
            if entry is None:
                notes.append(str(why))
                continue
            if cov := _coverage_note(run.label, entry):
                notes.append(cov)
            if run.setting.kind in ("none", "attn"):
                baselines.setdefault(model, []).append(entry)
                continue
            curve: str = run.setting.kind
            if run.setting.variant:  # pixel:F:area, pool:F:row: curves of their own
                curve = f"{curve}:{run.setting.variant}"
            curves.setdefault(model, {}).setdefault(curve, []).append(
                (run.setting.factor or 1, entry)
            )
    for model, entries_ in baselines.items():  # F = 1 on every curve of the model
        by_kind = curves.setdefault(model, {})
        for kind in {"pool", "pixel", *by_kind}:
            by_kind.setdefault(kind, []).extend((1, e) for e in entries_)
    curves = {m: k for m, k in curves.items() if any(len(v) >= 1 for v in k.values())}
    if not curves:
        return FigureResult(name, skipped="; ".join(notes) or "no scored pool/pixel runs")
    for model, by_kind in curves.items():
        if "pixel" not in by_kind or all(f == 1 for f, _ in by_kind["pixel"]):
            notes.append(f"pixel-space control missing for {model}")
    pipeline = data.pipeline
    entries = [e for k in curves.values() for v in k.values() for _, e in v]
    panels = _panels(entries, pipeline)
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure(style, nrows, ncols, sharey=True)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    for c, task in enumerate(panels):
        ax = axes.ravel()[c]
        for i, (model, by_kind) in enumerate(curves.items()):
            for kind, pts in sorted(by_kind.items()):
                got = [
                    (f, m)
                    for f, e in sorted(pts, key=lambda x: x[0])
                    if (m := metric(e, pipeline, task)) is not None
                ]
                if not got:
                    continue
                _errorline(
                    ax,
                    [str(f) for f, _ in got],
                    *_metric_cols([m for _, m in got]),
                    color_for(i),
                    f"{model} {kind}",
                    "-" if kind.startswith("pool") else "--",
                    "o" if kind.startswith("pool") else "s",
                )
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({f for k in curves.values() for v in k.values() for f, _ in v}))
        ax.xaxis.set_major_formatter("{x:g}")
        ax.minorticks_off()
        _finish_axes(ax, "factor F (1 = none)", task or "overall")
        if c == 0:
            _legend(ax)
    return FigureResult(
        name, tuple(save_figure(fig, out_dir, name, style)), note="; ".join(notes) or None
    )


def stitch(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Stitched (one composite image) vs multi-image accuracy per task (paper Table 4)."""
    name = "stitch"
    stitched = [r for r in data.probes if r.setting.kind == "stitch"]
    if not stitched:
        return FigureResult(name, skipped="no probe folders with stitch:RxC were given")
    notes: list[str] = []
    groups: list[tuple[str, list[tuple[str, dict[str, Any]]]]] = []
    for model, runs in _runs_by_model(data.probes).items():
        bars: list[tuple[str, dict[str, Any]]] = []
        base = next((r for r in runs if r.setting.kind in ("none", "attn")), None)
        base_entry = data.probe_model(base)[0] if base else None
        if base_entry is None:
            base_entry = next((m for m in data.models if m["name"] == model), None)
        if base_entry is not None:
            bars.append(("multi-image", base_entry))
        else:
            notes.append(
                f"no multi-image baseline for {model} (probe 'none' or a report model of that name)"
            )
        for run in sorted(
            (r for r in runs if r.setting.kind == "stitch"), key=lambda r: r.setting.text
        ):
            entry, why = data.probe_model(run)
            if entry is None:
                notes.append(str(why))
            else:
                bars.append((run.setting.text, entry))
                if cov := _coverage_note(run.label, entry):
                    notes.append(cov)
        if any(label != "multi-image" for label, _ in bars):
            groups.append((model, bars))
    if not groups:
        return FigureResult(name, skipped="; ".join(notes) or "no scored stitch runs")
    pipeline = data.pipeline
    fig, axes = new_figure(style, 1, len(groups), sharey=True)
    for c, (model, bars) in enumerate(groups):
        ax = axes[0][c]
        panels = _panels([e for _, e in bars], pipeline)
        width = 0.8 / len(bars)
        for j, (label, entry) in enumerate(bars):
            ms = [metric(entry, pipeline, t) for t in panels]
            x = np.arange(len(panels)) + (j - (len(bars) - 1) / 2) * width
            acc = np.array([m["accuracy"] if m else np.nan for m in ms])
            lo = np.array([m.get("ci_low", m["accuracy"]) if m else np.nan for m in ms])
            hi = np.array([m.get("ci_high", m["accuracy"]) if m else np.nan for m in ms])
            ax.bar(
                x,
                acc,
                width,
                color=color_for(j),
                label=label,
                yerr=np.vstack([np.clip(acc - lo, 0, None), np.clip(hi - acc, 0, None)]),
                capsize=2,
            )
        ax.set_xticks(np.arange(len(panels)), [t or "overall" for t in panels])
        _finish_axes(ax, "task", model)
        _legend(ax)
    return FigureResult(
        name, tuple(save_figure(fig, out_dir, name, style)), note="; ".join(notes) or None
    )


def attention_by_layer(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Share of vision-token attention that is intra-image, inter-image and to text, by layer."""
    name = "attention_by_layer"
    runs = [(r, r.attn_stats) for r in data.probes if r.attn_stats]
    if not runs:
        return FigureResult(
            name,
            skipped="no probe folder has attention statistics (attn_summary.json; run mimicgen probe with +attn)",
        )
    parts = ["intra", "inter", "text"]
    if all(np.isnan(x.text) for _, st in runs for x in st):
        parts = parts[:2]
    fig, axes = new_figure(style, 1, len(parts), sharey=True)
    for c, part in enumerate(parts):
        ax = axes[0][c]
        for i, (run, stats) in enumerate(runs):
            ax.plot(
                [x.layer for x in stats],
                [getattr(x, part) for x in stats],
                color=color_for(i),
                marker=".",
                linewidth=1.4,
                label=run.label,
            )
        ax.set_xlabel("decoder layer")
        ax.set_ylabel("attention share")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{part}-image" if part != "text" else "to text")
        if c == 0:
            _legend(ax)
    return FigureResult(name, tuple(save_figure(fig, out_dir, name, style)))


def _load_rgb(path: Path, max_side: int = 192) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(path) as src:
            rgb = src.convert("RGB")
        rgb.thumbnail((max_side, max_side))
        return np.asarray(rgb)
    except OSError:
        return None


def _record_for(bench: Benchmark | None, stem: str) -> dict[str, Any] | None:
    """The record a map file belongs to (file stems are ids made file-safe)."""
    if bench is None:
        return None
    if stem in bench.by_id:
        return bench.by_id[stem]
    return next((r for i, r in bench.by_id.items() if safe_id(i) == stem), None)


def attention_overlay(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Answer-to-image attention maps over each query's images (one figure per probe run)."""
    name = "attention_overlay"
    runs = [r for r in data.probes if r.attn_map_ids()]
    if not runs:
        return FigureResult(
            name,
            skipped="no probe folder has answer-to-image maps (maps/*.npz; run mimicgen probe with +attn)",
        )
    paths: list[Path] = []
    notes: list[str] = []
    # Probe runs usually share one benchmark (often the one already loaded): read each once.
    loaded = {data.bench.root.resolve(): data.bench} if data.bench is not None else {}
    for n_run, run in enumerate(runs):
        bench = data.bench
        if run.config.benchmark and is_benchmark(run.config.benchmark):
            key = Path(run.config.benchmark).resolve()
            if key not in loaded:
                loaded[key] = load_benchmark(Path(run.config.benchmark))
            bench = loaded[key]
        queries = [run.attn_maps(q) for q in run.attn_map_ids()[:MAX_OVERLAY_QUERIES]]
        ncols = max(len(q.maps) for q in queries)
        fig, axes = new_figure(style, len(queries), ncols)
        missing_images = 0
        for r, q in enumerate(queries):
            record = _record_for(bench, q.query_id)
            # A stitched run saw one composite image: its map does not align with record images.
            images = (
                {}
                if run.setting.kind == "stitch"
                else {
                    int(im.get("position", j)): im
                    for j, im in enumerate((record or {}).get("images", []))
                }
            )
            top = max((float(m.max()) for m in q.maps), default=0.0) or 1.0
            for c in range(ncols):
                ax = axes[r][c]
                ax.set_axis_off()
                if c >= len(q.maps):
                    continue
                amap, pos = q.maps[c] / top, q.positions[c]
                meta = images.get(pos)
                rgb = _load_rgb(bench.image_path(meta)) if (bench and meta) else None
                if rgb is None:
                    missing_images += run.setting.kind != "stitch"
                    ax.imshow(amap, cmap="inferno", vmin=0, vmax=1)
                else:
                    h, w = rgb.shape[:2]
                    ax.imshow(rgb, extent=(0, w, h, 0))
                    ax.imshow(
                        amap,
                        cmap="inferno",
                        vmin=0,
                        vmax=1,
                        alpha=0.55,
                        extent=(0, w, h, 0),
                        interpolation="bilinear",
                    )
                role = (
                    "composite" if run.setting.kind == "stitch" else (meta or {}).get("role", "?")
                )
                ax.set_title(
                    f"{q.query_id} #{pos} {role}" if c == 0 else f"#{pos} {role}",
                    color=ROLE_COLOURS.get(role, "black"),
                    fontsize=7,
                )
        fig.suptitle(f"answer-to-image attention · {run.label}", fontsize=9)
        stem = name if len(runs) == 1 else f"{name}_{n_run}"
        paths += save_figure(fig, out_dir, stem, style)
        if missing_images:
            notes.append(
                f"{run.label}: {missing_images} map(s) drawn without their image "
                "(benchmark images not found; pass --bench)"
            )
    return FigureResult(name, tuple(paths), note="; ".join(notes) or None)


def sequence_length(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Accuracy vs mean prompt tokens per query across probe configurations (paper Finding 1);
    drawn by :mod:`mimicgen.plots.seq_length`."""
    from mimicgen.plots.seq_length import sequence_length as draw

    return draw(data, out_dir, style)


FIGURES: dict[str, Callable[[PlotData, Path, FigureStyle], FigureResult]] = {
    "query_images": query_images,
    "count_spread_heatmap": count_spread_heatmap,
    "accuracy_vs_k": accuracy_vs_k,
    "pooling": pooling,
    "stitch": stitch,
    "sequence_length": sequence_length,
    "attention_by_layer": attention_by_layer,
    "attention_overlay": attention_overlay,
}
"""Every figure kind by name, in the order ``mimicgen plot`` draws them."""


def make_figures(
    data: PlotData, out_dir: Path, style: FigureStyle, only: list[str] | None = None
) -> list[FigureResult]:
    """Draw every (or each named) figure kind into ``out_dir``; the twin kinds
    (:mod:`mimicgen.plots.twins`) only when a report has twin families or ``only`` names them."""
    from mimicgen.plots.twins import TWIN_FIGURES, has_paired

    kinds = dict(FIGURES)
    if has_paired(data) or set(only or ()) & set(TWIN_FIGURES):
        kinds.update(TWIN_FIGURES)
    return [fn(data, out_dir, style) for name, fn in kinds.items() if not only or name in only]
