"""Each statistic against a hand computation or scipy's own reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from gate import stats
from gate.verdict import format_p


def test_stats_wilson_known_values_match_hand_computation() -> None:
    # 8 of 10 at 95%: centre (0.8 + z²/20) / (1 + z²/10), half-width from the textbook formula.
    z = 1.959963984540054
    p, n = 0.8, 10
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    got = stats.wilson(8, 10)
    assert got.low == pytest.approx(centre - half, abs=1e-9)
    assert got.high == pytest.approx(centre + half, abs=1e-9)
    assert stats.wilson(0, 0) == stats.Interval(0.0, 1.0)
    assert stats.wilson(10, 10).high == 1.0


def test_stats_mcnemar_exact_matches_binomial_test() -> None:
    assert stats.mcnemar_exact(9, 0) == pytest.approx(2 * 0.5**9)
    assert stats.mcnemar_exact(7, 3) == pytest.approx(2 * (1 + 10 + 45 + 120) / 1024)  # 2 * P(X <= 3), X ~ B(10, 1/2)
    assert stats.mcnemar_exact(0, 0) == 1.0


def test_stats_holm_adjusts_in_order_and_stays_monotone() -> None:
    got = stats.holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert got["a"] == pytest.approx(0.03)
    assert got["c"] == pytest.approx(0.06)
    assert got["b"] == pytest.approx(0.06)  # 0.04 * 1 would be smaller: monotonicity keeps 0.06
    assert stats.holm({"x": 0.7, "y": 0.9}) == {"x": 1.0, "y": 1.0}


def test_stats_paired_difference_seeded_same_result_twice() -> None:
    rng = np.random.default_rng(3)
    base = rng.random(200).tolist()
    head = (np.asarray(base) - 0.05 + rng.normal(0, 0.1, 200)).tolist()
    a = stats.paired_difference(base, head, seed=7)
    b = stats.paired_difference(base, head, seed=7)
    assert a == b
    assert a.delta == pytest.approx(float(np.mean(np.asarray(head) - np.asarray(base))))
    assert a.interval.low < a.delta < a.interval.high
    assert a.p_value < 0.01
    assert a.mde > 0


def test_stats_paired_difference_no_change_large_p() -> None:
    same = [0.5, 0.7, 0.9, 0.2] * 25
    r = stats.paired_difference(same, same, seed=0)
    assert r.delta == 0.0
    assert r.p_value == 1.0
    assert r.interval == stats.Interval(0.0, 0.0)


def test_stats_compare_pass_lists_flips_and_formats_p() -> None:
    ids = [f"c{i:02d}" for i in range(40)]
    base = {i: True for i in ids}
    head = dict(base)
    for i in ids[:6]:
        head[i] = False
    c = stats.compare_pass(base, head)
    assert c.pass_to_fail == tuple(ids[:6]) and c.fail_to_pass == ()
    assert c.test == "mcnemar-exact"
    assert c.p_value == pytest.approx(2 * 0.5**6)
    assert c.delta == pytest.approx(-0.15) and format_p(c.p_value) == "p=0.031"


def test_stats_compare_pass_with_clusters_uses_randomisation() -> None:
    ids = [f"c{i:02d}" for i in range(40)]
    clusters = {i: f"k{n // 4}" for n, i in enumerate(ids)}
    base = {i: True for i in ids}
    head = {i: not i.endswith(("0", "1")) for i in ids}
    c = stats.compare_pass(base, head, clusters=clusters)
    assert c.test == "cluster-randomisation"
    assert 0 < c.p_value <= 1


def test_stats_compare_pass_case_named_like_a_cluster_stays_alone() -> None:
    # Case c1 is in a cluster named "c0"; case c0 has no cluster: they are two units, not one.
    ids = [f"c{i}" for i in range(10)]
    base = {i: True for i in ids}
    head = {i: i not in ("c0", "c1") for i in ids}
    c = stats.compare_pass(base, head, clusters={"c1": "c0"})
    assert c.test == "mcnemar-exact" and c.p_value == pytest.approx(stats.mcnemar_exact(2, 0))
    assert stats.sampling_unit("c0", None) != stats.sampling_unit("x", "c0")


def test_stats_mde_shrinks_with_more_cases() -> None:
    small = stats.mde_paired_proportions(50, 0.1)
    large = stats.mde_paired_proportions(500, 0.1)
    assert 0 < large < small <= 1
    assert math.isnan(stats.mde_paired_proportions(0, 0.1))


def test_stats_mean_interval_covers_mean_and_is_seeded() -> None:
    values = [0.25, 0.5, 0.75, 1.0] * 30
    a = stats.mean_interval(values, seed=1)
    assert a == stats.mean_interval(values, seed=1)
    assert a.low < 0.625 < a.high
    assert stats.mean_interval([]) == stats.Interval(0.0, 0.0)


def test_stats_bootstrap_at_10000_cases_bounded_chunks() -> None:
    # Resample matrices are sized by cells, not by resamples: 10,000 cases stay near 8 MB a matrix.
    assert stats._rows(10_000) * 10_000 <= 1_000_000
    assert stats._rows(10) == 1_000


def test_stats_format_p_three_ranges() -> None:
    assert format_p(0.0004) == "p<0.001"
    assert format_p(0.004) == "p=0.004"
    assert format_p(0.31) == "p=0.31"


def test_stats_mde_of_an_unchanged_run_is_not_zero() -> None:
    # Nothing moved (a replayed run): no drop, however small, is "detectable" because of that.
    ids = [f"c{i:02d}" for i in range(60)]
    base = {i: n % 3 != 0 for n, i in enumerate(ids)}
    plain = stats.compare_pass(base, dict(base))
    clustered = stats.compare_pass(base, dict(base), clusters={i: f"k{n % 10}" for n, i in enumerate(ids)})
    assert clustered.test == "cluster-randomisation"
    assert plain.mde == pytest.approx(stats.mde_paired_proportions(60, 0.0)) and plain.mde > 0.1
    assert clustered.mde >= plain.mde  # clustering never makes a drop easier to see
    scores = [0.25, 0.5, 0.75, 1.0] * 15
    assert stats.paired_difference(scores, scores).mde == pytest.approx(plain.mde)


def test_stats_mde_none_when_the_exact_test_cannot_reach_alpha() -> None:
    # 5 pairs all flipping give p = 2 * 0.5**5 = 0.0625: no drop is significant at 0.05.
    assert math.isnan(stats.mde_paired_proportions(5, 0.2))
    assert 0 < stats.mde_paired_proportions(6, 0.2) <= 1
    five = {str(i): True for i in range(5)}
    assert math.isnan(stats.compare_pass(five, {i: False for i in five}).mde)
    # The gate's own alpha sets the level: 7 pairs reach 0.05 but not 0.01.
    seven = {str(i): True for i in range(7)}
    assert not math.isnan(stats.compare_pass(seven, dict(seven)).mde)
    assert math.isnan(stats.compare_pass(seven, dict(seven), alpha=0.01).mde)
    forty = {str(i): True for i in range(40)}
    assert stats.compare_pass(forty, dict(forty), alpha=0.01).mde > stats.compare_pass(forty, dict(forty)).mde


def test_stats_standard_library_figures_equal_scipy_to_1e_9() -> None:
    scipy_stats = pytest.importorskip("scipy.stats")  # the reference, kept in the test extra only
    for q in (1e-9, 1e-6, 0.001, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 0.8, 0.9, 0.95, 0.975, 0.99, 0.999, 1 - 1e-9):
        assert stats._z(q) == pytest.approx(float(scipy_stats.norm.ppf(q)), abs=1e-9)
    pairs = [(a, b) for a in range(0, 60) for b in range(0, 60, 3)] + [(400, 460), (2900, 3000), (0, 1074), (5, 9000)]
    for a, b in pairs:
        if a + b:
            expected = float(scipy_stats.binomtest(a, a + b, 0.5).pvalue)
            assert stats.mcnemar_exact(a, b) == pytest.approx(expected, abs=1e-9, rel=1e-9), (a, b)
    for n, k in ((30, 6), (300, 140), (300, 160), (5000, 2400)):
        assert stats.wilson(k, n).low == pytest.approx(
            (lambda z, p: (p + z * z / (2 * n) - z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))) / (1 + z * z / n))(
                float(scipy_stats.norm.ppf(0.975)), k / n), abs=1e-9)


def test_stats_import_needs_no_scipy() -> None:
    import subprocess
    import sys

    code = ("import sys; from gate import stats; stats.wilson(3, 10); stats.mcnemar_exact(7, 3); "
            "stats.mde_paired_proportions(300, 0.1); print('scipy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
