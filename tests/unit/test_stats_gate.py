"""The statistical test of the gate itself: on seeded simulations it neither cries wolf nor misses a real drop."""

from __future__ import annotations

import numpy as np

from gate import stats
from gate.verdict import is_regression

N = 300
SIMS = 200


def _case_probs(rng: np.random.Generator, n: int) -> np.ndarray:
    # Cases differ in difficulty: most pass almost always, a few are coin flips (real suites look like this).
    return rng.beta(6, 1, size=n)


def _flag_rate(drop: float, *, clusters: bool = False, sims: int = SIMS, seed: int = 1) -> float:
    rng = np.random.default_rng(seed)
    ids = [f"case-{i:03d}" for i in range(N)]
    cluster_map = {i: f"topic-{k // 5}" for k, i in enumerate(ids)} if clusters else None
    flagged = 0
    for s in range(sims):
        if clusters:
            # Five cases per topic share their difficulty: they pass and fail together.
            q = np.repeat(_case_probs(rng, N // 5), 5)
        else:
            q = _case_probs(rng, N)
        base = rng.random(N) < q
        head = rng.random(N) < q  # the same model sampled again: nothing but noise
        if drop:
            passing = np.flatnonzero(head)
            head[rng.choice(passing, size=int(round(drop * N)), replace=False)] = False
        c = stats.compare_pass(dict(zip(ids, base.tolist(), strict=True)), dict(zip(ids, head.tolist(), strict=True)),
                               clusters=cluster_map, seed=s, resamples=500)
        flagged += is_regression(c.delta, c.p_value, alpha=0.05)
    return flagged / sims


def test_stats_gate_pure_noise_flagged_in_at_most_5_percent() -> None:
    assert _flag_rate(0.0) <= 0.05


def test_stats_gate_ten_point_drop_at_300_cases_flagged_in_at_least_80_percent() -> None:
    assert _flag_rate(0.10) >= 0.80


def test_stats_gate_clustered_noise_flagged_in_at_most_5_percent() -> None:
    assert _flag_rate(0.0, clusters=True, sims=120) <= 0.05


def test_stats_gate_clustered_ten_point_drop_flagged_in_at_least_80_percent() -> None:
    assert _flag_rate(0.10, clusters=True, sims=120) >= 0.80


def test_stats_gate_tolerance_larger_than_drop_never_flags() -> None:
    # A significant 10-point drop within a 15-point tolerance is not a regression.
    assert not is_regression(-0.10, 0.001, alpha=0.05, tolerance=0.15)
    assert is_regression(-0.10, 0.001, alpha=0.05, tolerance=0.05)
    assert not is_regression(-0.10, 0.2, alpha=0.05, tolerance=0.0)
    assert not is_regression(+0.10, 0.001, alpha=0.05)
