"""Wilson and bootstrap intervals: hand-computed values and coverage checked by simulation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mimicgen.scoring.metrics import bootstrap_micro_f1, prf, wilson_interval


def test_wilson_known_values() -> None:
    # 4/8: textbook Wilson 95% interval [0.2152, 0.7848]; 0/10 -> [0, 0.2775]; 10/10 symmetric.
    assert wilson_interval(4, 8) == pytest.approx((0.2152, 0.7848), abs=1e-4)
    assert wilson_interval(0, 10) == pytest.approx((0.0, 0.2775), abs=1e-4)
    assert wilson_interval(10, 10) == pytest.approx((0.7225, 1.0), abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_wilson_matches_formula() -> None:
    k, n, z = 37, 91, 1.959963984540054
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half), abs=1e-12)


def test_prf_by_hand() -> None:
    # 3 true positives, 4 predicted items, 5 gold items: P = 3/4, R = 3/5, F1 = 6/9.
    assert prf(3, 4, 5) == pytest.approx((0.75, 0.6, 2 / 3))
    assert prf(0, 0, 3) == (0.0, 0.0, 0.0)


def test_wilson_coverage_by_simulation() -> None:
    rng = np.random.default_rng(1)
    p, n, sims = 0.3, 40, 4000
    ks = rng.binomial(n, p, size=sims)
    covered = sum(lo <= p <= hi for lo, hi in (wilson_interval(int(k), n) for k in ks))
    assert 0.93 <= covered / sims <= 0.97


def _population(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    n_gold = rng.integers(1, 5, size=n)  # E = 2.5
    tp = rng.binomial(n_gold, 0.7)  # E = 1.75
    n_pred = tp + rng.poisson(0.5, size=n)  # E = 2.25
    return tp, n_pred + n_gold


def test_bootstrap_f1_coverage_by_simulation() -> None:
    true_f1 = 2 * 1.75 / (2.25 + 2.5)
    rng = np.random.default_rng(2)
    sims, covered = 300, 0
    for _ in range(sims):
        tp, denom = _population(rng, 150)
        lo, hi = bootstrap_micro_f1(tp, denom, rng, n_boot=400)
        covered += lo <= true_f1 <= hi
    assert 0.90 <= covered / sims <= 0.98


def test_bootstrap_equals_naive_resampling() -> None:
    """The multinomial shortcut has the distribution of resampling queries with replacement."""
    rng = np.random.default_rng(3)
    tp, denom = _population(rng, 120)
    fast = bootstrap_micro_f1(tp, denom, np.random.default_rng(4), n_boot=6000)
    idx = np.random.default_rng(5).integers(0, len(tp), size=(6000, len(tp)))
    naive = 2 * tp[idx].sum(axis=1) / denom[idx].sum(axis=1)
    assert fast == pytest.approx(tuple(np.quantile(naive, [0.025, 0.975])), abs=0.01)


def test_bootstrap_tiny_case_by_hand() -> None:
    # Two queries (tp, n_pred + n_gold) = (2, 5), (1, 2): resampled F1 is 0.8, 6/7 or 1.0, with
    # probabilities 1/4, 1/2, 1/4, so the 2.5% and 97.5% quantiles are 0.8 and 1.0.
    lo, hi = bootstrap_micro_f1(np.array([2, 1]), np.array([5, 2]), np.random.default_rng(0))
    assert (lo, hi) == pytest.approx((0.8, 1.0))


def test_bootstrap_is_seeded() -> None:
    tp, denom = _population(np.random.default_rng(6), 50)
    a = bootstrap_micro_f1(tp, denom, np.random.default_rng(7))
    b = bootstrap_micro_f1(tp, denom, np.random.default_rng(7))
    assert a == b


def test_pair_counts_match_unique_rows() -> None:
    """The bootstrap's distinct (tp, denom) pairs: same order and counts as numpy's row unique."""
    from mimicgen.scoring.metrics import _pair_counts

    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(1, 2000))
        tp = rng.integers(0, int(rng.integers(1, 40)), n)
        denom = tp + rng.integers(0, int(rng.integers(1, 50)), n)
        if trial % 5 == 0:
            denom = denom * 1_000_003  # large keys: the 1-D unique path
        pairs, counts = np.unique(np.stack([tp, denom], axis=1), axis=0, return_counts=True)
        got_tp, got_denom, got_counts = _pair_counts(tp, denom)
        assert got_tp.tolist() == pairs[:, 0].tolist()
        assert got_denom.tolist() == pairs[:, 1].tolist()
        assert got_counts.tolist() == counts.tolist()
