"""Paired head-minus-base tests of several measures on the same queries at once: a sign-flip randomisation test
(exact over every sign pattern when there are few queries or clusters, else Monte-Carlo with a fixed seed) and a
percentile bootstrap of the mean difference, both resampling whole clusters when queries have them; the MDE of
graded differences as gate.stats computes it. One set of resamples serves every measure, so 10,000 queries stay fast."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from gate import stats

EXACT_UNITS = 16  # 2**16 sign patterns: exact up to here, Monte-Carlo beyond
DEFAULT_RESAMPLES = stats.DEFAULT_RESAMPLES
# Cells of resampling drawn per measure pass: the resamples shrink (to no fewer than MIN_RESAMPLES) at tens of
# thousands of queries so that a run stays within seconds; the p-value's resolution is 1 / (resamples + 1).
_BUDGET = 20_000_000
MIN_RESAMPLES = 2_000
_CHUNK_CELLS = 2_000_000


def resamples_for(units: int, wanted: int = DEFAULT_RESAMPLES) -> int:
    return max(min(wanted, MIN_RESAMPLES), min(wanted, _BUDGET // max(units, 1)))


def _units(deltas: Any, clusters: Sequence[str] | None) -> tuple[Any, Any]:
    """Per sampling unit (a cluster, else a query): the sums of each measure's differences, and its size."""
    import numpy as np

    if clusters is None:
        return deltas, np.ones(deltas.shape[0])
    keys = {c: i for i, c in enumerate(dict.fromkeys(clusters))}
    index = np.fromiter((keys[c] for c in clusters), dtype=np.intp, count=len(clusters))
    sums = np.zeros((len(keys), deltas.shape[1]))
    np.add.at(sums, index, deltas)
    return sums, np.bincount(index, minlength=len(keys)).astype(float)


def paired_tests(base: Any, head: Any, *, clusters: Sequence[str] | None = None, margins: Sequence[float],
                 alpha: float = 0.05, confidence: float = 0.95, power: float = 0.8, seed: int = 0,
                 resamples: int = DEFAULT_RESAMPLES) -> list[stats.PairedResult]:
    """One PairedResult per column of `base`/`head` (queries x measures, values in [0, 1])."""
    import numpy as np

    b, h = np.asarray(base, dtype=float), np.asarray(head, dtype=float)
    n, m = b.shape
    if n == 0:
        return [stats.PairedResult(0.0, stats.Interval(0.0, 0.0), 1.0, 0, math.nan) for _ in range(m)]
    deltas = h - b
    sums, sizes = _units(deltas, clusters)
    k = sums.shape[0]
    total = sizes.sum()
    observed = sums.sum(axis=0) / total
    rng = np.random.default_rng(seed)
    extreme, exact_count = _sign_flips(sums, total, observed, k, rng, resamples)
    boot = _bootstrap(sums, sizes, k, rng, resamples_for(k, resamples))
    outside = 1 - confidence
    low, high = np.quantile(boot, [outside / 2, 1 - outside / 2], axis=0)
    out = []
    for j in range(m):
        if exact_count is not None:
            p_value = float(extreme[j]) / exact_count
        else:
            p_value = (float(extreme[j]) + 1) / (resamples_for(k, resamples) + 1)
        within = int(np.count_nonzero(boot[:, j] >= -margins[j] - 1e-12))
        p_beyond = min(1.0, 2 * (within + 1) / (boot.shape[0] + 1)) if observed[j] < 0 else 1.0
        discordance = float(np.mean(deltas[:, j] ** 2))
        spread = stats.unit_spread(sums[:, j], sizes)
        mde = stats.graded_detectable_drop(n, alpha, power, units=k, unit_sd=spread)
        out.append(stats.PairedResult(float(observed[j]), stats.Interval(float(low[j]), float(high[j])),
                                      min(1.0, p_value), n, mde, p_beyond, discordance, units=k, unit_sd=spread))
    return out


def _sign_flips(sums: Any, total: float, observed: Any, k: int, rng: Any, resamples: int) -> tuple[Any, int | None]:
    """How many sign patterns give a mean difference at least as far from 0 as the observed one, per measure;
    and the number of patterns when all were enumerated (exact), else None."""
    import numpy as np

    threshold = np.abs(observed) - 1e-12
    if k <= EXACT_UNITS:
        patterns = 1 << k
        bits = (np.arange(patterns)[:, None] >> np.arange(k)[None, :]) & 1
        flipped = (1 - 2 * bits.astype(float)) @ sums / total
        return np.count_nonzero(np.abs(flipped) >= threshold, axis=0), patterns
    count = np.zeros(sums.shape[1], dtype=np.int64)
    n_samples = resamples_for(k, resamples)
    rows = max(1, _CHUNK_CELLS // k)
    for start in range(0, n_samples, rows):
        r = min(rows, n_samples - start)
        # The sign of u - 0.5 for u uniform in [0, 1): -1 below one half, +1 from it, in place, in one pass.
        signs = rng.random((r, k))
        signs -= 0.5
        np.copysign(1.0, signs, out=signs)
        flipped = signs @ sums / total
        count += np.count_nonzero(np.abs(flipped) >= threshold, axis=0)
    return count, None


def _bootstrap(sums: Any, sizes: Any, k: int, rng: Any, n_samples: int) -> Any:
    """Resampled means (n_samples x measures): whole units drawn with replacement, as counts per unit."""
    import numpy as np

    out = np.empty((n_samples, sums.shape[1]))
    rows = max(1, _CHUNK_CELLS // k)
    # Without clusters every unit has size 1: each resample holds k of them, exactly.
    single = bool(np.all(sizes == 1))
    for start in range(0, n_samples, rows):
        r = min(rows, n_samples - start)
        draws = rng.integers(0, k, size=(r, k))
        draws += (np.arange(r) * k)[:, None]  # row i counts into cells i*k .. i*k+k-1
        counts = np.bincount(draws.ravel(), minlength=r * k).reshape(r, k).astype(float)
        out[start:start + r] = counts @ sums
        out[start:start + r] /= float(k) if single else (counts @ sizes)[:, None]
    return out

