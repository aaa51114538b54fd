"""Aggregate per-sample verdicts into METRIC blocks: overall, per task, per control value.

Inputs are numpy arrays aligned with the benchmark's records. A breakdown's counts come from one
``np.bincount`` over its group codes (not one gather per group); float means and the bootstrap
still read each group's rows, in record order, exactly as a per-group computation would.
Bootstrap generators are derived from ``(seed, crc32(group key))`` so a CI does not depend on
which other groups or models were scored.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from mimicgen.registry import get_task
from mimicgen.scoring.baselines import RecordBaselines
from mimicgen.scoring.groups import Breakdown, Layout
from mimicgen.scoring.metrics import bootstrap_micro_f1, prf, wilson_interval

__all__ = ["Verdicts", "metric_block", "task_blocks"]


@dataclass(frozen=True)
class Verdicts:
    """Per-record outcomes of one pipeline, aligned with ``Benchmark.records``."""

    correct: np.ndarray  # bool
    parse_failed: np.ndarray  # bool: a reply was present but could not be read
    missing: np.ndarray  # bool: no reply for this id
    tp: np.ndarray  # int: listing true positives
    n_pred: np.ndarray  # int: listing predicted items
    n_gold: np.ndarray  # int: listing gold items
    f1: np.ndarray  # float: listing per-sample F1


def _rng(seed: int, key: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(key.encode())])


def _block(
    n: int, k: int, n_fail: int, n_missing: int, baseline: tuple[float, float] | None
) -> dict[str, Any]:
    """A METRIC dict's common part (key order is the report's)."""
    low, high = wilson_interval(k, n)
    out: dict[str, Any] = {
        "n": n,
        "accuracy": k / n if n else 0.0,
        "ci_low": low,
        "ci_high": high,
        "ci_method": "wilson",
        "parse_failure_rate": n_fail / n if n else 0.0,
        "n_parse_failures": n_fail,
        "n_missing": n_missing,
    }
    if baseline is not None:
        out["chance"], out["majority"] = baseline
    return out


def _add_listing(
    out: dict[str, Any], v: Verdicts, rows: np.ndarray, sums: tuple[int, int, int], rng: Any
) -> None:
    """The listing keys of a METRIC dict: micro P/R/F1 from ``sums``, bootstrap, macro F1."""
    precision, recall, f1 = prf(*sums)
    f1_low, f1_high = bootstrap_micro_f1(v.tp[rows], v.n_pred[rows] + v.n_gold[rows], rng)
    out.update(
        precision=precision,
        recall=recall,
        f1=f1,
        f1_ci_low=f1_low,
        f1_ci_high=f1_high,
        f1_ci_method="bootstrap",
        macro_f1=float(v.f1[rows].mean()) if len(rows) else 0.0,
        exact_set_accuracy=out["accuracy"],
    )


def metric_block(
    v: Verdicts,
    rows: np.ndarray,
    listing: bool,
    seed: int,
    key: str,
    base: RecordBaselines | None = None,
) -> dict[str, Any]:
    """One METRIC dict (see notes/report_schema.md) for the records ``rows``.

    With ``base``, adds the group's ``chance`` and ``majority`` baselines: the means of the
    per-record baseline arrays over ``rows``.
    """
    n = len(rows)
    baseline = None
    if base is not None:
        baseline = (
            float(base.chance[rows].mean()) if n else 0.0,
            float(base.majority[rows].mean()) if n else 0.0,
        )
    out = _block(
        n,
        int(v.correct[rows].sum()),
        int(v.parse_failed[rows].sum()),
        int(v.missing[rows].sum()),
        baseline,
    )
    if listing:
        sums = (int(v.tp[rows].sum()), int(v.n_pred[rows].sum()), int(v.n_gold[rows].sum()))
        _add_listing(out, v, rows, sums, _rng(seed, key))
    return out


def _count(codes: np.ndarray, flags: np.ndarray, size: int) -> list[int]:
    """Per group, how many of its records have ``flags`` set."""
    return np.bincount(codes[flags], minlength=size).tolist()


def _total(codes: np.ndarray, values: np.ndarray, size: int) -> list[int]:
    """Per group, the sum of an integer column (float64 sums of small ints are exact)."""
    return [int(x) for x in np.bincount(codes, weights=values, minlength=size)]


def _breakdown_blocks(
    v: Verdicts,
    task_v: Verdicts,
    split: Breakdown,
    listing: bool,
    seed: int,
    key: str,
) -> dict[str, dict[str, Any]]:
    """``{value: METRIC}`` for one breakdown; ``task_v`` is ``v`` restricted to the task."""
    codes, size = split.codes, len(split.values)
    ns = np.bincount(codes, minlength=size).tolist()
    ks = _count(codes, task_v.correct, size)
    fails = _count(codes, task_v.parse_failed, size)
    missing = _count(codes, task_v.missing, size)
    if listing:
        tps, preds, golds = (
            _total(codes, a, size) for a in (task_v.tp, task_v.n_pred, task_v.n_gold)
        )
    out = {}
    for g, value in enumerate(split.values):
        block = _block(ns[g], ks[g], fails[g], missing[g], (split.chance[g], split.majority[g]))
        if listing:
            sums = (tps[g], preds[g], golds[g])
            _add_listing(block, v, split.rows[g], sums, _rng(seed, f"{key}={value}"))
        out[value] = block
    return out


def task_blocks(
    v: Verdicts,
    groups: Layout,
    seed: int,
    prefix: str,
    base: RecordBaselines | None = None,
) -> dict[str, Any]:
    """``{task: {"overall": METRIC, "by": {control: {value: METRIC}}}}`` for one pipeline.

    Every block carries its group's chance and majority baselines (the layout's).
    """
    out: dict[str, Any] = {}
    for task, rows in groups.task_rows.items():
        listing = get_task(task).kind == "set"
        task_v = Verdicts(*(getattr(v, f)[rows] for f in Verdicts.__dataclass_fields__))
        by = {
            name: _breakdown_blocks(v, task_v, split, listing, seed, f"{prefix}/{task}/{name}")
            for name, split in groups.breakdowns[task].items()
        }
        out[task] = {
            "overall": metric_block(v, rows, listing, seed, f"{prefix}/{task}", base),
            "by": by,
        }
    return out
