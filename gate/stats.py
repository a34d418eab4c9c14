"""Statistics that tell a real drop from noise: Wilson intervals, exact McNemar, paired
bootstrap and randomisation tests (clustered when cases are), Holm correction within Tarone's family, and the
minimum detectable effect at a sample size. numpy is imported where used; the normal quantile and the binomial
test need only the standard library (scipy cost 1-3 s of import for two numbers)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

DEFAULT_RESAMPLES = 10_000
_CHUNK = 1_000  # resamples drawn at a time, to bound memory at 10,000+ cases
_MAX_ELEMENTS = 1_000_000  # cells of one resample matrix (8 MB a matrix), whatever the number of cases


def _rows(k: int) -> int:
    """Resamples per chunk: fewer when there are many cases, so a chunk stays near _MAX_ELEMENTS."""
    return max(1, min(_CHUNK, _MAX_ELEMENTS // max(k, 1)))


@dataclass(frozen=True)
class Interval:
    low: float
    high: float


_NORMAL = NormalDist()


def _z(q: float) -> float:
    return _NORMAL.inv_cdf(q)


def binomial_half_cdf(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exact: the binomial coefficients are summed as integers and divided
    once (Python's int division is correctly rounded), so no term underflows at any n."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    term = total = 1  # C(n, 0)
    for i in range(k):
        term = term * (n - i) // (i + 1)
        total += term
    return total / (1 << n)


def wilson(successes: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval of a proportion: sound at small n and near 0 or 1."""
    if n <= 0:
        return Interval(0.0, 1.0)
    z = _z(1 - (1 - confidence) / 2)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # At 0 or n the bound is exactly 0 or 1; rounding would leave 0.9999999999999999.
    low = 0.0 if successes <= 0 else max(0.0, centre - half)
    high = 1.0 if successes >= n else min(1.0, centre + half)
    return Interval(low, high)


def mcnemar_exact(pass_to_fail: int, fail_to_pass: int) -> float:
    """Two-sided exact McNemar p-value: a binomial test on the discordant pairs."""
    n = pass_to_fail + fail_to_pass
    if n == 0:
        return 1.0
    # Symmetric at 1/2: both tails are the same size, so two-sided is twice the smaller one.
    return min(1.0, 2 * binomial_half_cdf(min(pass_to_fail, fail_to_pass), n))


def holm(pvalues: Mapping[str, float]) -> dict[str, float]:
    """Holm-Bonferroni adjusted p-values (monotone, capped at 1)."""
    ordered = sorted(pvalues.items(), key=lambda kv: kv[1])
    m = len(ordered)
    out: dict[str, float] = {}
    running = 0.0
    for i, (name, p) in enumerate(ordered):
        running = max(running, min(1.0, (m - i) * p))
        out[name] = running
    return out


@dataclass(frozen=True)
class Adjusted:
    """A p-value corrected for the other comparisons of the run.

    `family` is how many comparisons it was corrected with (Holm); 0 when it was left out of the family because
    even its most extreme outcome could not reach the level the family is held to."""

    p: float
    family: int
    level: int  # Tarone's K: the family is the comparisons whose smallest attainable p is below alpha / K


def tarone_holm(tests: Mapping[str, tuple[float, float]], alpha: float) -> dict[str, Adjusted]:
    """Holm within Tarone's family. `tests` maps a name to (p-value, smallest p-value its test could give on these
    data). A discrete test on a few cases can never reach significance: counting it in the correction only
    weakens the others. Tarone (1990): K is the smallest number with at most K tests able to reach alpha / K;
    those tests are corrected by Holm among themselves, the rest are left out (never significant: their p times K
    is reported, which their smallest attainable p keeps at or above alpha). The family depends only on what
    each test conditions on (the discordant pairs, the absolute differences), so the error rate stays at alpha."""
    if not tests:
        return {}
    floors = [floor for _, floor in tests.values()]
    level = next(k for k in range(1, len(tests) + 1) if sum(f < alpha / k for f in floors) <= k)
    members = {name: p for name, (p, floor) in tests.items() if floor < alpha / level}
    adjusted = holm(members)
    # A resampled p-value can fall a little below the exact test's floor: the floor is what the data allow.
    return {name: Adjusted(adjusted[name], len(members), level) if name in members
            else Adjusted(min(1.0, level * max(p, floor)), 0, level) for name, (p, floor) in tests.items()}


def _cluster_sums(deltas: Sequence[float], clusters: Sequence[str] | None) -> Any:
    import numpy as np

    values = np.asarray(deltas, dtype=float)
    if clusters is None:
        return values, np.ones_like(values)
    keys = {c: i for i, c in enumerate(dict.fromkeys(clusters))}
    index = np.fromiter((keys[c] for c in clusters), dtype=int, count=len(clusters))
    sums = np.bincount(index, weights=values, minlength=len(keys))
    sizes = np.bincount(index, minlength=len(keys)).astype(float)
    return sums, sizes


@dataclass(frozen=True)
class PairedResult:
    """head minus base: the mean difference, its interval and a two-sided p-value.

    `p_beyond` tests "the drop is no larger than `margin`" on the bootstrap: below alpha when the 1 - alpha
    interval lies below -margin (it is on the two-sided scale).
    `discordance` is the mean squared difference (what McNemar's MDE for pass/fail pairs is computed from),
    `units` the clusters (or the cases) resampled, and `unit_sd` the spread of their differences (`unit_spread`):
    what the MDE of graded values, and with clusters every MDE, rests on.
    `min_p` is the smallest p-value the test could give on these data (every unit that moved moving one way)."""

    delta: float
    interval: Interval
    p_value: float
    n: int
    mde: float
    p_beyond: float = 1.0
    discordance: float = 0.0
    min_p: float = 1.0
    units: int = 0
    unit_sd: float = 0.0


def paired_difference(
    base: Sequence[float],
    head: Sequence[float],
    *,
    clusters: Sequence[str] | None = None,
    confidence: float = 0.95,
    power: float = 0.8,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    alpha: float | None = None,
    margin: float = 0.0,
) -> PairedResult:
    """Mean of head - base over paired cases, each value in [0, 1] (a pass, a score).

    The interval is a percentile bootstrap; the p-value a sign-flip randomisation test (exact in
    distribution under "no change"). With clusters, both resample and flip whole clusters,
    because cases of one cluster fail together and are not independent evidence. The MDE is at
    the test's level `alpha` (default 1 - confidence)."""
    import numpy as np

    if len(base) != len(head):
        raise ValueError("base and head must be paired")
    n = len(base)
    if n == 0:
        return PairedResult(0.0, Interval(0.0, 0.0), 1.0, 0, float("nan"))
    deltas = np.asarray(head, dtype=float) - np.asarray(base, dtype=float)
    sums, sizes = _cluster_sums(deltas, clusters)
    k = len(sums)
    observed = float(sums.sum() / sizes.sum())
    rng = np.random.default_rng(seed)
    boot = np.empty(resamples)
    flips_extreme = 0
    within_margin = 0
    for start in range(0, resamples, _rows(k)):
        m = min(_rows(k), resamples - start)
        idx = rng.integers(0, k, size=(m, k))
        boot[start:start + m] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
        within_margin += int(np.count_nonzero(boot[start:start + m] >= -margin - 1e-12))
        signs = rng.choice(np.array([-1.0, 1.0]), size=(m, k))
        flipped = (signs * sums).sum(axis=1) / sizes.sum()
        flips_extreme += int(np.count_nonzero(np.abs(flipped) >= abs(observed) - 1e-12))
    outside = 1 - confidence
    low, high = np.quantile(boot, [outside / 2, 1 - outside / 2])
    # +1 in both: the observed labelling is one of the possible ones (never a p of exactly 0).
    p_value = (flips_extreme + 1) / (resamples + 1)
    level = outside if alpha is None else alpha
    discordance = float(np.mean(deltas * deltas))
    sd = unit_spread(sums, sizes)
    mde = graded_detectable_drop(n, level, power, units=k, unit_sd=sd)
    p_beyond = min(1.0, 2 * (within_margin + 1) / (resamples + 1)) if observed < 0 else 1.0
    # Only units whose difference is not 0 change the statistic when flipped; with all of them one way, the
    # observed labelling and its mirror image are the most extreme of 2**moved equally likely ones.
    moved = int(np.count_nonzero(np.abs(sums) > 1e-12))
    min_p = max(min(1.0, 2 * 0.5**moved), 1 / (resamples + 1))
    return PairedResult(observed, Interval(float(low), float(high)), float(p_value), n, mde, p_beyond, discordance,
                        min_p, k, sd)


@dataclass(frozen=True)
class PassComparison:
    base_rate: float
    head_rate: float
    delta: float  # head - base, as a fraction
    interval: Interval
    p_value: float
    mde: float
    n: int
    pass_to_fail: tuple[str, ...]
    fail_to_pass: tuple[str, ...]
    test: str  # "mcnemar-exact" or "cluster-randomisation"
    p_beyond: float = 1.0  # see PairedResult
    discordance: float = 0.0
    min_p: float = 1.0  # see PairedResult
    units: int = 0
    unit_sd: float = 0.0


def _reachable(units: int, alpha: float) -> bool:
    """Whether a two-sided exact test on this many pairs (or clusters) can reach alpha at all: its
    smallest p-value, every one of them moving the same way, is 2 * 0.5**units (0.0625 at 5)."""
    return units > 0 and 2 * 0.5**units < alpha


def mde_paired_proportions(n: int, discordance: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """Smallest drop in pass rate that McNemar detects with this power at n pairs; NaN when no drop
    can be significant at n (too few pairs for the exact test to reach alpha).

    Solves n = (z_a*sqrt(psi) + z_b*sqrt(psi - d^2))^2 / d^2 for d, where psi is the share of
    discordant pairs, which can never be below d itself."""
    if not _reachable(n, alpha):
        return float("nan")

    def needed(d: float) -> float:
        return _pairs_needed(d, discordance, alpha, power)

    lo, hi = 1e-6, 1.0
    if needed(hi) > n:
        return 1.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if needed(mid) > n:
            lo = mid
        else:
            hi = mid
    return hi


def _pairs_needed(drop: float, discordance: float, alpha: float, power: float) -> float:
    psi = max(discordance, drop)
    za, zb = _z(1 - alpha / 2), _z(power)
    return (za * math.sqrt(psi) + zb * math.sqrt(max(psi - drop * drop, 0.0))) ** 2 / (drop * drop)


def _cluster_z(alpha: float, power: float) -> float:
    return _z(1 - alpha / 2) + _z(power)


def detectable_drop(n: int, discordance: float, alpha: float = 0.05, power: float = 0.8, *, units: int = 0,
                    unit_sd: float = 0.0) -> float:
    """The MDE at n paired cases: McNemar's, and with clusters (`units` fewer than n) never below what the spread
    of the cluster means (`unit_sd`) allows at that many clusters; NaN when no drop can be significant."""
    mde = mde_paired_proportions(n, discordance, alpha, power)
    if not 0 < units < n or math.isnan(mde):
        return mde
    if not _reachable(units, alpha):
        return math.nan
    return max(mde, _cluster_z(alpha, power) * unit_sd / math.sqrt(units))


def cases_to_detect(drop: float, discordance: float, alpha: float = 0.05, power: float = 0.8, *, n: int = 0,
                    units: int = 0, unit_sd: float = 0.0) -> int | None:
    """How many paired cases would detect a drop this large with this power, computed as `detectable_drop` is (the
    same discordance; with clusters, as many cases per cluster as the n cases in `units` clusters have and the same
    spread of their means); None for no drop. Never fewer than the exact test needs to reach alpha at all."""
    if drop <= 0:
        return None
    smallest = next(k for k in range(1, 64) if _reachable(k, alpha))
    cases = max(smallest, math.ceil(_pairs_needed(min(drop, 1.0), discordance, alpha, power) - 1e-9))
    if 0 < units < n:
        clusters = max(smallest, math.ceil((_cluster_z(alpha, power) * unit_sd / drop) ** 2 - 1e-9))
        cases = max(cases, math.ceil(clusters * n / units - 1e-9))
    return cases


def unit_spread(sums: Any, sizes: Any) -> float:
    """How the sampling units' differences spread about their mean (ddof 1), each unit's residual taken at its
    size: the SD of the differences without clusters, of the cluster means when clusters are equal in size. The
    standard error of the mean difference is this over sqrt(units), clusters included."""
    k = len(sums)
    if k < 2:
        return 0.0
    total = float(sizes.sum())
    residuals = sums - sizes * (float(sums.sum()) / total)
    return k * math.sqrt(float(residuals @ residuals) / (k - 1)) / total


def _graded_mde(units: float, unit_sd: float, alpha: float, power: float) -> float:
    """Solves d = z_a * sqrt(se^2 + d^2 / units) + z_b * se for d, se = unit_sd / sqrt(units): the sign-flip test
    of the mean sees, under "no change", the differences' second moment (their spread plus the drop squared);
    under a drop d, their spread alone."""
    za, zb = _z(1 - alpha / 2), _z(power)
    shrink = 1 - za * za / units
    if shrink <= 0:
        return 1.0
    se = unit_sd / math.sqrt(units)
    return min(1.0, se * (zb + za * math.sqrt(max(0.0, 1 + (zb * zb - za * za) / units))) / shrink)


def graded_detectable_drop(n: int, alpha: float = 0.05, power: float = 0.8, *, units: int = 0,
                           unit_sd: float = 0.0) -> float:
    """The MDE of a mean of paired differences of graded values (scores, IR measures, anything in [0, 1]) at n
    cases in `units` sampling units (default n): the drop its sign-flip test detects with this power if the
    differences kept the spread they have (`unit_spread`). NaN when no drop can be significant. When nothing
    moved there is no spread to go by: then the bound for pass/fail differences (`detectable_drop`), the drop that
    is seen when the cases that dropped lost everything."""
    k = units or n
    if not _reachable(k, alpha):
        return math.nan
    if unit_sd <= 0:
        return detectable_drop(n, 0.0, alpha, power)
    return _graded_mde(k, unit_sd, alpha, power)


def graded_cases_to_detect(drop: float, n: int, alpha: float = 0.05, power: float = 0.8, *, units: int = 0,
                           unit_sd: float = 0.0) -> int | None:
    """How many paired cases would detect a drop this large with this power, computed as `graded_detectable_drop`
    is (as many cases per unit, the same spread); None for no drop."""
    if drop <= 0:
        return None
    if unit_sd <= 0:
        return cases_to_detect(drop, 0.0, alpha, power)
    per_unit = (units or n) / n

    def detects(cases: int) -> bool:
        k = cases * per_unit
        return _reachable(math.floor(k + 1e-9), alpha) and _graded_mde(k, unit_sd, alpha, power) <= drop

    high = 1
    while not detects(high):
        high *= 2
        if high > 1 << 40:  # a drop far below the spread: no suite size is worth naming
            return None
    low = high // 2  # detects(low) is false (or low is 0)
    while high - low > 1:
        mid = (low + high) // 2
        low, high = (low, mid) if detects(mid) else (mid, high)
    return high


def sampling_unit(case_id: str, cluster: str | None) -> str:
    """What a case is resampled with: its cluster, else itself. The two kinds of label cannot collide, so a
    case whose id happens to be a cluster's name is not taken into that cluster."""
    return f"case:{case_id}" if cluster is None else f"cluster:{cluster}"


def compare_pass(
    base: Mapping[str, bool],
    head: Mapping[str, bool],
    *,
    clusters: Mapping[str, str] | None = None,
    confidence: float = 0.95,
    power: float = 0.8,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
    alpha: float | None = None,
    margin: float = 0.0,
) -> PassComparison:
    """Pass/fail on the cases both runs have, paired by case id; the MDE at the test's level `alpha`
    (default 1 - confidence); `p_beyond` tests a drop larger than `margin`."""
    ids = sorted(set(base) & set(head))
    b = [1.0 if base[i] else 0.0 for i in ids]
    h = [1.0 if head[i] else 0.0 for i in ids]
    p2f = tuple(i for i in ids if base[i] and not head[i])
    f2p = tuple(i for i in ids if head[i] and not base[i])
    n = len(ids)
    cluster_list = [sampling_unit(i, clusters.get(i)) for i in ids] if clusters else None
    paired = paired_difference(b, h, clusters=cluster_list, confidence=confidence, power=power, seed=seed,
                               resamples=resamples, alpha=alpha, margin=margin)
    if cluster_list is not None and len(set(cluster_list)) < n:
        p_value, test, min_p = paired.p_value, "cluster-randomisation", paired.min_p
    else:
        # Exact McNemar conditions on the discordant pairs: all of them one way is its most extreme outcome.
        p_value, test = mcnemar_exact(len(p2f), len(f2p)), "mcnemar-exact"
        min_p = mcnemar_exact(len(p2f) + len(f2p), 0)
    # The mean squared difference of 0/1 values is the share of discordant pairs: McNemar's MDE.
    level = 1 - confidence if alpha is None else alpha
    mde = detectable_drop(n, paired.discordance, level, power, units=paired.units, unit_sd=paired.unit_sd) if n \
        else paired.mde
    return PassComparison(
        base_rate=sum(b) / n if n else 0.0, head_rate=sum(h) / n if n else 0.0, delta=paired.delta,
        interval=paired.interval, p_value=p_value, mde=mde, n=n, pass_to_fail=p2f, fail_to_pass=f2p,
        test=test, p_beyond=paired.p_beyond, discordance=paired.discordance, min_p=min_p, units=paired.units,
        unit_sd=paired.unit_sd,
    )


def mean_interval(
    values: Sequence[float],
    *,
    clusters: Sequence[str] | None = None,
    confidence: float = 0.95,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of a mean (resampling whole clusters when given)."""
    import numpy as np

    if not values:
        return Interval(0.0, 0.0)
    sums, sizes = _cluster_sums(values, clusters)
    k = len(sums)
    rng = np.random.default_rng(seed)
    boot = np.empty(resamples)
    for start in range(0, resamples, _rows(k)):
        m = min(_rows(k), resamples - start)
        idx = rng.integers(0, k, size=(m, k))
        boot[start:start + m] = sums[idx].sum(axis=1) / sizes[idx].sum(axis=1)
    alpha = 1 - confidence
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    return Interval(float(low), float(high))
