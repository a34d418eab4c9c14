"""The detectable drop of graded paired differences (scores, IR measures): from the differences' own spread, clusters
included, one function for the regression and retrieval checks, against hand-computed cases."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest
from prodgate_checks.regression.comparison import Comparison
from prodgate_checks.retrieval.paired import paired_tests

from gate import stats
from gate.verdict import Verdict

# 65 queries, 13 of them losing one of five relevant documents in the top 5 (P@5 -0.2), the rest unchanged: a
# 4-pt drop. By hand: mean -0.04; squared residuals 13 x 0.16^2 + 52 x 0.04^2 = 0.416; SD sqrt(0.416 / 64) =
# 0.0806226; standard error 0.0806226 / sqrt(65) = 0.01. With z_a = 1.959964 and z_b = 0.841621 (alpha 0.05, power
# 0.8), d = 0.01 (z_b + z_a sqrt(1 + (z_b^2 - z_a^2) / 65)) / (1 - z_a^2 / 65) = 0.01 x 2.753765 / 0.940901.
P5_BASE = [0.4] * 65
P5_HEAD = [0.2] * 13 + [0.4] * 52
P5_MDE = 0.0292673


def test_unit_spread_unclustered_is_the_sd_of_the_differences() -> None:
    deltas = np.array(P5_HEAD) - np.array(P5_BASE)
    assert stats.unit_spread(deltas, np.ones(65)) == pytest.approx(0.0806226, abs=1e-7)


def test_unit_spread_equal_clusters_is_the_sd_of_cluster_means() -> None:
    # Clusters of two with differences (-0.2, 0), (0, 0), (-0.4, -0.2), (0.2, 0): means -0.1, 0, -0.3, 0.1 about
    # -0.075; squared deviations 0.0875 over 3: SD 0.170783.
    result = stats.paired_difference([0.4, 0.4, 0.5, 0.5, 0.6, 0.6, 0.3, 0.3], [0.2, 0.4, 0.5, 0.5, 0.2, 0.4, 0.5, 0.3],
                                     clusters=["a", "a", "b", "b", "c", "c", "d", "d"], resamples=200)
    assert result.units == 4 and result.unit_sd == pytest.approx(0.170783, abs=1e-6)


def test_graded_detectable_drop_hand_computed_case_below_the_drop_it_detects() -> None:
    mde = stats.graded_detectable_drop(65, units=65, unit_sd=0.0806226)
    assert mde == pytest.approx(P5_MDE, abs=1e-6)
    # It was McNemar's 11.6 pts, for any graded measure at 65 queries.
    assert stats.mde_paired_proportions(65, float(np.mean((np.array(P5_HEAD) - 0.4) ** 2))) > 0.11
    # The power equation it solves: the test rejects at z_a * (its null SD, spread plus the drop squared) with
    # probability 0.8 when the mean falls by the MDE.
    se, za = 0.01, NormalDist().inv_cdf(0.975)
    power = NormalDist().cdf((mde - za * math.sqrt(se * se + mde * mde / 65)) / se)
    assert power == pytest.approx(0.8, abs=1e-4)


def test_graded_detectable_drop_same_for_both_checks() -> None:
    regression = stats.paired_difference(P5_BASE, P5_HEAD, resamples=2000)
    (retrieval,) = paired_tests([[b] for b in P5_BASE], [[h] for h in P5_HEAD], margins=[0.0], resamples=2000)
    assert regression.mde == pytest.approx(P5_MDE, abs=1e-6)
    assert retrieval.mde == pytest.approx(P5_MDE, abs=1e-6)
    assert regression.p_value < 0.001 and retrieval.p_value < 0.001  # the 4-pt drop it detects is above it


def test_graded_detectable_drop_clusters_raise_it() -> None:
    # The same 13 losses, now as 13 clusters of 5 that lose together or not at all: the test flips 13 clusters,
    # so the spread of cluster means at 13 units is what it sees.
    base = [0.4] * 65
    head = [0.2 if i < 20 else 0.4 for i in range(65)]
    plain = stats.paired_difference(base, head, resamples=500)
    clustered = stats.paired_difference(base, head, clusters=[f"k{i // 5}" for i in range(65)], resamples=500)
    assert clustered.units == 13
    # By hand: cluster means -0.2 (4 of them) and 0 (9) about -0.061538; SD sqrt((4 x 0.138462^2 + 9 x 0.061538^2)
    # / 12) = 0.096077; the MDE at 13 units solves the same equation with k = 13.
    assert clustered.unit_sd == pytest.approx(0.096077, abs=1e-6)
    za, zb, k = NormalDist().inv_cdf(0.975), NormalDist().inv_cdf(0.8), 13
    se = 0.096077 / math.sqrt(k)
    expected = se * (zb + za * math.sqrt(1 + (zb * zb - za * za) / k)) / (1 - za * za / k)
    assert clustered.mde == pytest.approx(expected, abs=1e-5) and clustered.mde > plain.mde


def test_graded_detectable_drop_too_few_units_is_nan() -> None:
    # 5 clusters flipping all one way give p = 2 * 0.5**5 = 0.0625: no drop can be significant at 0.05.
    assert math.isnan(stats.graded_detectable_drop(60, units=5, unit_sd=0.2))
    assert not math.isnan(stats.graded_detectable_drop(60, units=6, unit_sd=0.2))


def test_graded_detectable_drop_nothing_moved_is_the_pass_fail_bound() -> None:
    # No spread to go by: the drop seen when the cases that dropped lost everything, not "any drop at all".
    unchanged = stats.paired_difference(P5_BASE, P5_BASE, resamples=200)
    assert unchanged.unit_sd == 0.0 and unchanged.mde == pytest.approx(stats.mde_paired_proportions(65, 0.0))


@pytest.mark.parametrize("units", [0, 13])
def test_graded_cases_to_detect_agrees_with_the_mde(units: int) -> None:
    n, sd = 65, 0.09
    mde = stats.graded_detectable_drop(n, units=units, unit_sd=sd)
    for drop in (0.01, 0.02, 0.03, 0.05, 0.1):
        needed = stats.graded_cases_to_detect(drop, n, units=units, unit_sd=sd)
        assert needed is not None
        assert (mde > drop) == (needed > n), (drop, mde, needed)
        # ...and that many cases, as many per cluster, would detect it (rounding the clusters up), one fewer not.
        scaled = math.ceil((units or n) * needed / n - 1e-9)
        assert stats.graded_detectable_drop(needed, units=scaled, unit_sd=sd) <= drop + 1e-9
        fewer = math.floor((units or n) * (needed - 1) / n + 1e-9)
        assert needed == 1 or not stats.graded_detectable_drop(needed - 1, units=fewer, unit_sd=sd) <= drop


def test_comparison_too_few_scored_metric_counts_cases_as_its_mde() -> None:
    # A scored metric whose small drop the test at 20 cases cannot tell from its spread: the cases named are the
    # graded count, not McNemar's.
    base = [0.5] * 20
    head = [0.5 + d for d in (-0.5, 0.4, -0.3, 0.2, -0.1) * 4]
    pd = stats.paired_difference(base, head, resamples=2000)
    c = Comparison("s", "grounded", 0.8, sum(head) / 20, pd.delta, pd.interval.low, pd.interval.high, 0.3, pd.mde,
                   20, "paired-bootstrap", 0.0, p_adjusted=0.3, units=pd.units, unit_sd=pd.unit_sd,
                   discordance=pd.discordance, verdict=Verdict.TOO_FEW)
    needed = stats.graded_cases_to_detect(-pd.delta, 20, units=20, unit_sd=pd.unit_sd)
    assert needed is not None and needed != stats.cases_to_detect(-pd.delta, pd.discordance)
    assert c.cases_to_detect() == needed
    assert needed > 20 and pd.mde > -pd.delta  # "too few" and the count agree
    assert c.verdict_text() == f"too few cases to tell (n=20); about {needed} cases would detect a drop of 6.0 pts"
