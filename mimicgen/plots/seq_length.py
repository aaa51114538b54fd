"""Accuracy vs sequence length across probe configurations (the MIMIC paper's Finding 1).

x is the mean number of prompt tokens per query (text + vision), from the per-query counts the
probe runner records in ``samples.jsonl``; in a task's panel, the mean over that task's queries.
One line and marker set per model and configuration family (``pool``, ``pixel``, ``stitch``,
``mask``, combinations such as ``pool+mask``); the model's unmodified run (``none``/``attn``) is a
point of every family of that model, as in the ``pooling`` figure.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mimicgen.errors import SpecError
from mimicgen.plots.figures import (
    FigureResult,
    _coverage_note,
    _finish_axes,
    _metric_cols,
    _panels,
    _runs_by_model,
)
from mimicgen.plots.inputs import PlotData
from mimicgen.plots.probe_io import ProbeRun
from mimicgen.plots.report_io import metric
from mimicgen.plots.style import FigureStyle, color_for, new_figure, save_figure
from mimicgen.probes.spec import parse_config

__all__ = ["config_family", "mean_tokens", "sequence_length", "sequence_length_points"]

_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
_BASELINE = ("none", "attn")


def config_family(run: ProbeRun) -> str:
    """``none`` | ``pool`` | ``pixel:area`` | ``stitch`` | ``mask`` | ``pool+mask`` ...: the
    intervention kinds of the run's configuration (``attn`` records only, so it is ``none``)."""
    s = run.setting
    if s.kind in _BASELINE:
        return "none"
    if s.kind != "other":
        return f"{s.kind}:{s.variant}" if s.variant else s.kind
    try:
        config = parse_config(s.text)
    except SpecError:
        return "other"
    return "+".join(p.kind for p in config.probes if p.kind not in _BASELINE)


def mean_tokens(run: ProbeRun, task: str | None = None) -> dict[str, float] | None:
    """Mean ``prompt_tokens`` and ``vision_tokens`` per query (``task``'s queries only when
    given) from the run's ``samples.jsonl``; None when it has no such rows."""
    rows = [r for r in run.sample_rows if task is None or r.get("task") == task]
    if not rows:
        return None
    vision = np.array([r["vision_tokens"] for r in rows], dtype=float)
    prompt = vision + np.array([r["text_tokens"] for r in rows], dtype=float)
    return {"prompt_tokens": float(prompt.mean()), "vision_tokens": float(vision.mean())}


Point = tuple[float, dict[str, Any], str]
"""(mean prompt tokens, score-report model entry, probe string)."""


def sequence_length_points(
    data: PlotData, task: str | None, notes: list[str] | None = None
) -> dict[tuple[str, str], list[Point]]:
    """``(model, family) -> points sorted by x``; runs without token counts or scores are left
    out (with a note appended to ``notes``)."""
    notes = notes if notes is not None else []
    out: dict[tuple[str, str], list[Point]] = {}
    for model, runs in _runs_by_model(data.probes).items():
        base: list[Point] = []
        fams: dict[str, list[Point]] = {}
        for run in runs:
            tokens = mean_tokens(run, task)
            if tokens is None:
                if task is None:
                    notes.append(f"{run.label}: no per-query token counts (samples.jsonl)")
                continue
            entry, why = data.probe_model(run)
            if entry is None:
                notes.append(str(why))
                continue
            point = (tokens["prompt_tokens"], entry, run.setting.text)
            fam = config_family(run)
            (base if fam == "none" else fams.setdefault(fam, [])).append(point)
        if not fams and base:
            fams["none"] = []
        for fam, pts in fams.items():
            out[(model, fam)] = sorted([*base, *pts], key=lambda p: p[0]) if fam != "none" else base
    return out


def sequence_length(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Accuracy vs mean prompt tokens per query, one line per model and configuration family."""
    name = "sequence_length"
    if not data.probes:
        return FigureResult(name, skipped="no probe folders were given")
    notes: list[str] = []
    overall = sequence_length_points(data, None, notes)
    if not overall:
        return FigureResult(
            name, skipped="; ".join(notes) or "no probe folder has per-query token counts"
        )
    for pts in overall.values():
        for _, entry, text in pts:
            if cov := _coverage_note(str(entry.get("name", text)), entry):
                notes.append(cov)
    pipeline = data.pipeline
    panels = _panels([e for pts in overall.values() for _, e, _ in pts], pipeline)
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    fig, axes = new_figure(style, nrows, ncols, sharey=True)
    for ax in axes.ravel()[len(panels) :]:
        ax.set_axis_off()
    keys = list(overall)  # one colour per line, the same in every panel
    families = sorted({f for _, f in overall})
    for c, task in enumerate(panels):
        ax = axes.ravel()[c]
        series = overall if task is None else sequence_length_points(data, task)
        for (model, fam), pts in series.items():
            got = [(x, m) for x, e, _ in pts if (m := metric(e, pipeline, task)) is not None]
            if not got:
                continue
            acc, lo, hi = _metric_cols([m for _, m in got])
            a = np.array(acc)
            yerr = np.vstack([np.clip(a - lo, 0, None), np.clip(np.array(hi) - a, 0, None)])
            ax.errorbar(
                [x for x, _ in got],
                a,
                yerr=yerr,
                color=color_for(keys.index((model, fam))),
                label=f"{model} {fam}",
                linestyle="-",
                marker=_MARKERS[families.index(fam) % len(_MARKERS)],
                markersize=4,
                capsize=3,
                linewidth=1.4,
            )
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter("{x:g}")
        _finish_axes(ax, "mean prompt tokens", task or "overall")
        if c == 0:
            handles, labels = ax.get_legend_handles_labels()
            if handles:
                ax.legend(handles, labels, frameon=False, loc="best")
    return FigureResult(
        name,
        tuple(save_figure(fig, out_dir, name, style)),
        note="; ".join(dict.fromkeys(notes)) or None,  # a baseline is on several lines
    )
