"""Figures of paired twin scores (the ``paired`` key of a score report; docs/scoring.md).

Drawn only when a report has twin families: accuracy vs the first evidence image's position
(the same evidence moved), flip rates per control with Wilson CIs, and accuracy vs added
distractors on identical evidence. One line (or bar) per model, one panel per task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mimicgen.plots.figures import FigureResult
from mimicgen.plots.inputs import PlotData
from mimicgen.plots.report_io import TASKS, sort_values
from mimicgen.plots.style import FigureStyle, color_for, new_figure, save_figure

__all__ = [
    "TWIN_FIGURES",
    "has_paired",
    "pick_families",
    "twin_distractors",
    "twin_flips",
    "twin_position",
]


def has_paired(data: PlotData) -> bool:
    """Does any model entry carry paired twin scores?"""
    return any(m.get("paired") for m in data.models)


def pick_families(records: Sequence[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    """Sample cards of the HTML report for a twin build: whole families (base first, as in the
    file), round-robin over tasks, until ``n`` records are shown (at least one family)."""
    if n <= 0:
        return []
    families: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        families.setdefault(str(r.get("family", r["id"])), []).append(r)
    queues: dict[str, list[list[dict[str, Any]]]] = {}
    for fam in families.values():
        queues.setdefault(fam[0]["task"], []).append(fam)
    picked: list[dict[str, Any]] = []
    depth = 0
    while any(depth < len(q) for q in queues.values()):
        for q in queues.values():
            if depth < len(q):
                if picked and len(picked) + len(q[depth]) > n:
                    return picked
                picked += q[depth]
        depth += 1
    return picked


def _tasks(data: PlotData, key: str) -> dict[str, list[tuple[int, str, dict[str, Any]]]]:
    """Task -> [(model index, model name, ``paired`` task block[key])] where the key is present."""
    out: dict[str, list[tuple[int, str, dict[str, Any]]]] = {}
    for i, model in enumerate(data.models):
        tasks = ((model.get("paired") or {}).get(data.pipeline) or {}).get("tasks") or {}
        for task in TASKS:
            block = (tasks.get(task) or {}).get(key)
            if block:
                out.setdefault(task, []).append((i, model["name"], block))
    return out


def _skip(data: PlotData, what: str) -> str:
    if not data.models:
        return "no score report given"
    if not has_paired(data):
        return "the score report has no twin families (build with variants:)"
    return f"no twin family has {what}"


def _lines(
    data: PlotData, out_dir: Path, style: FigureStyle, name: str, key: str, xlabel: str
) -> tuple[Path, ...] | None:
    """Accuracy lines with 95% CIs over the rate blocks under ``key``, a panel per task."""
    panels = _tasks(data, key)
    if not panels:
        return None
    fig, axes = new_figure(style, 1, len(panels), sharey=True)
    for ax, (task, series) in zip(axes[0], panels.items(), strict=True):
        order = sort_values(sorted({v for _, _, b in series for v in b}))
        for i, model, block in series:
            xs = [float(v) for v in order if v in block]
            rates = np.array([block[v]["rate"] for v in order if v in block])
            lo = np.array([block[v]["ci_low"] for v in order if v in block])
            hi = np.array([block[v]["ci_high"] for v in order if v in block])
            ax.errorbar(
                xs, rates, yerr=np.vstack([np.clip(rates - lo, 0, None), np.clip(hi - rates, 0, None)]),
                color=color_for(i), label=model, marker="o", markersize=4, capsize=3, linewidth=1.4,
            )  # fmt: skip
        ax.set_xticks([float(v) for v in order], order)
        ax.set_xlabel(xlabel)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title(f"{task} ({data.pipeline})")
    axes[0][0].set_ylabel("accuracy")
    axes[0][0].legend(frameon=False, loc="best")
    return tuple(save_figure(fig, out_dir, name, style))


def twin_position(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Accuracy vs the first evidence position within families (base and order twins)."""
    name = "twin_position"
    paths = _lines(data, out_dir, style, name, "evidence_position", "first evidence position")
    if paths is None:
        return FigureResult(
            name, skipped=_skip(data, "order twins (permute) with a movable evidence block")
        )
    return FigureResult(name, paths)


def twin_distractors(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Accuracy vs the number of distractors added to the same evidence (base = 0)."""
    name = "twin_distractors"
    paths = _lines(data, out_dir, style, name, "added_distractors", "added distractor images")
    if paths is None:
        return FigureResult(name, skipped=_skip(data, "added-distractor twins"))
    return FigureResult(name, paths)


def twin_flips(data: PlotData, out_dir: Path, style: FigureStyle) -> FigureResult:
    """Flip rates vs the base per task and control (right->wrong above, wrong->right below),
    one bar per model, with Wilson 95% CIs."""
    name = "twin_flips"
    panels = _tasks(data, "controls")
    groups = sorted({(t, c) for t, s in panels.items() for _, _, b in s for c in b},
                    key=lambda tc: (TASKS.index(tc[0]), tc[1]))  # fmt: skip
    if not groups:
        return FigureResult(name, skipped=_skip(data, "twins other than content-free guesses"))
    models = sorted({(i, m) for s in panels.values() for i, m, _ in s})
    fig, axes = new_figure(style, 2, 1, sharex=True)
    width = 0.8 / len(models)
    x = np.arange(len(groups), dtype=float)
    for row, key, label in (
        (0, "flip_right_to_wrong", "right -> wrong"),
        (1, "flip_wrong_to_right", "wrong -> right"),
    ):
        ax = axes[row][0]
        for j, (i, model) in enumerate(models):
            blocks = {task: b for task, s in panels.items() for k, _, b in s if k == i}
            rate, lo, hi = [], [], []
            for task, control in groups:
                r = (blocks.get(task) or {}).get(control, {}).get(key)
                rate.append(r["rate"] if r else np.nan)
                lo.append(r["ci_low"] if r else np.nan)
                hi.append(r["ci_high"] if r else np.nan)
            rate_a, lo_a, hi_a = np.array(rate), np.array(lo), np.array(hi)
            ax.bar(
                x + (j - (len(models) - 1) / 2) * width, rate_a, width, color=color_for(i),
                label=model if row == 0 else None,
                yerr=np.vstack([np.clip(rate_a - lo_a, 0, None), np.clip(hi_a - rate_a, 0, None)]),
                capsize=2, error_kw={"linewidth": 0.8},
            )  # fmt: skip
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(f"{label}")
    axes[1][0].set_xticks(x, [f"{t}\n{c}" for t, c in groups])
    axes[1][0].tick_params(axis="x", labelsize=7)
    axes[0][0].set_title(f"flip rates vs the base, 95% CI ({data.pipeline})")
    axes[0][0].legend(frameon=False, loc="best")
    return FigureResult(name, tuple(save_figure(fig, out_dir, name, style)))


TWIN_FIGURES: dict[str, Callable[[PlotData, Path, FigureStyle], FigureResult]] = {
    "twin_position": twin_position,
    "twin_flips": twin_flips,
    "twin_distractors": twin_distractors,
}
"""Twin figure kinds, drawn after the others when a report has twin families (or by --only)."""
