"""Metrics with confidence intervals: Wilson intervals for proportions, a seeded bootstrap for F1.

The bootstrap resamples *queries* with replacement. Micro F1 is ``2*sum(tp) / sum(n_pred +
n_gold)``, a function of per-query integer pairs ``(tp, n_pred + n_gold)`` only, so resampling n
queries is exactly a multinomial draw over the distinct pairs: we draw that instead of n indices
(same distribution, O(distinct pairs) per replicate instead of O(n)), which keeps 1M-query
reports fast.
"""

from __future__ import annotations

import numpy as np

__all__ = ["N_BOOTSTRAP", "Z95", "bootstrap_micro_f1", "prf", "wilson_interval"]

Z95 = 1.959963984540054
N_BOOTSTRAP = 2000


def wilson_interval(k: int, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval for k successes in n trials; (0, 1) when n == 0."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    """Micro precision, recall, F1 from summed counts (0 where undefined)."""
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_gold if n_gold else 0.0
    f1 = 2 * tp / (n_pred + n_gold) if tp else 0.0
    return precision, recall, f1


def _pair_counts(tp: np.ndarray, denom: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct (tp, denom) pairs in lexicographic order and how often each occurs.

    The same as ``np.unique(np.stack([tp, denom], 1), axis=0, return_counts=True)`` (whose order
    fixes the bootstrap draws), computed on one integer key per pair: a bincount when the keys
    are small (the usual case: item counts), else a 1-D unique. Counts are non-negative.
    """
    width = int(denom.max()) + 1
    key = tp.astype(np.int64) * width + denom
    if int(key.max()) < 1 << 22:
        counts = np.bincount(key)
        keys = np.flatnonzero(counts)
        counts = counts[keys]
    else:
        keys, counts = np.unique(key, return_counts=True)
    return keys // width, keys % width, counts


def bootstrap_micro_f1(
    tp: np.ndarray,
    denom: np.ndarray,
    rng: np.random.Generator,
    n_boot: int = N_BOOTSTRAP,
    level: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of micro F1 = 2*sum(tp)/sum(denom) over resampled queries.

    ``denom`` is ``n_pred + n_gold`` per query. Returns (0, 1) for an empty group.
    """
    n = len(tp)
    if n == 0:
        return 0.0, 1.0
    pair_tp, pair_denom, counts = _pair_counts(np.asarray(tp), np.asarray(denom))
    draws = rng.multinomial(n, counts / n, size=n_boot)  # (n_boot, distinct pairs)
    num = draws @ (2 * pair_tp).astype(np.float64)
    den = draws @ pair_denom.astype(np.float64)
    f1 = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    alpha = (1 - level) / 2
    low, high = np.quantile(f1, [alpha, 1 - alpha])
    return float(low), float(high)
