"""Per-sample results joined with benchmark controls, and two-way accuracy tables with Wilson CIs.

The score report only breaks accuracy down by one control at a time; figures such as the paper's
"accuracy vs query images for each total image count" need two controls crossed, so they are
recomputed here from the per-sample results (``<stem>.samples.jsonl``) and the benchmark records.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from mimicgen.scoring.metrics import Z95  # the score report's CIs use the same quantile

__all__ = ["Z95", "crosstab", "tidy_samples", "wilson"]


def wilson(successes: np.ndarray, n: np.ndarray, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised Wilson score interval (lower, upper) for binomial proportions; n > 0.

    The array form of :func:`mimicgen.scoring.metrics.wilson_interval` (one call per table).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return np.clip(centre - half, 0.0, 1.0), np.clip(centre + half, 0.0, 1.0)


def tidy_samples(samples: pl.DataFrame, controls: pl.DataFrame) -> pl.DataFrame:
    """Per-sample results with every control column of their record (inner join on ``id``).

    The sample's own ``task`` wins over the record's (they agree for a consistent report).
    """
    ctrl = controls.drop("task") if "task" in controls.columns else controls
    return samples.join(ctrl, on="id", how="inner")


def crosstab(df: pl.DataFrame, keys: list[str]) -> pl.DataFrame:
    """Accuracy per group of ``keys``: columns ``keys + [n, correct, accuracy, ci_low, ci_high]``.

    Rows with a null in any key are dropped (the control does not apply to that record).
    """
    missing = [k for k in keys if k not in df.columns]
    if missing or df.height == 0:
        return pl.DataFrame(
            schema={
                **{k: pl.Utf8 for k in keys},
                "n": pl.UInt32,
                "correct": pl.UInt32,
                "accuracy": pl.Float64,
                "ci_low": pl.Float64,
                "ci_high": pl.Float64,
            }
        )
    grouped = (
        df.drop_nulls(keys)
        .group_by(keys, maintain_order=True)
        .agg(
            pl.len().alias("n"),
            pl.col("correct").fill_null(False).sum().cast(pl.UInt32).alias("correct"),
        )
        .sort(keys)
    )
    lo, hi = wilson(grouped["correct"].to_numpy(), grouped["n"].to_numpy())
    return grouped.with_columns(
        (pl.col("correct") / pl.col("n")).alias("accuracy"),
        pl.Series("ci_low", lo),
        pl.Series("ci_high", hi),
    )
