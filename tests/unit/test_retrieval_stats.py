"""Rank-biased overlap and the paired tests of several measures at once: exact where they can be, seeded otherwise."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from prodgate_checks.retrieval.drift import drift, rbo
from prodgate_checks.retrieval.paired import paired_tests


def _rbo_reference(s: list[str], t: list[str], p: float) -> float:
    """RBO_ext of two rankings of the same length, straight from its definition (eq. 30 of the paper)."""
    k = len(s)
    agreement = [len(set(s[:d]) & set(t[:d])) / d for d in range(1, k + 1)]
    return agreement[-1] * p**k + (1 - p) / p * sum(a * p**d for d, a in enumerate(agreement, start=1))


def test_retrieval_rbo_equal_lengths_matches_the_definition() -> None:
    s, t = list("abcdefgh"), list("badcxyge")
    assert rbo(s, t, 0.9) == pytest.approx(_rbo_reference(s, t, 0.9), abs=1e-12)
    assert rbo(s, s, 0.9) == 1.0 and rbo(s, list("stuvwxyz"), 0.9) == 0.0
    assert rbo([], [], 0.9) == 1.0 and rbo(["a"], [], 0.9) == 0.0


def test_retrieval_rbo_uneven_lengths_extrapolates_within_bounds() -> None:
    short, long_ = list("abc"), list("abcdefg")
    value = rbo(short, long_, 0.9)
    assert 0.9 < value <= 1.0  # the shorter ranking agrees on all it has
    assert rbo(long_, short, 0.9) == value
    assert rbo(list("xyz"), long_, 0.9) < 0.05


def test_retrieval_drift_counts_moved_queries_and_lists_the_worst() -> None:
    base = {"q1": ("a", "b", "c"), "q2": ("a", "b", "c"), "q3": ("a", "b", "c"), "q4": ("a",)}
    head = {"q1": ("a", "b", "c"), "q2": ("x", "y", "z"), "q3": ("a", "c", "b"), "new": ("a",)}
    d = drift(head, base, depth=3, p=0.9, threshold=0.8)
    assert (d.compared, d.changed) == (3, 1) and d.share == pytest.approx(1 / 3)
    assert [m.query for m in d.most_moved] == ["q2"] and d.most_moved[0].before == ("a", "b", "c")


def test_retrieval_paired_exact_sign_flip_p_value_enumerates_every_pattern() -> None:
    base = np.array([[0.5], [0.6], [0.4], [0.8], [0.3], [0.7]])
    deltas = np.array([-0.2, -0.1, -0.3, 0.05, -0.25, -0.15])
    [r] = paired_tests(base, base + deltas[:, None], margins=[0.0])
    observed = abs(deltas.mean())
    flips = [abs(np.mean(np.array(signs) * deltas)) >= observed - 1e-12
             for signs in itertools.product((-1, 1), repeat=len(deltas))]
    assert r.p_value == pytest.approx(sum(flips) / len(flips), abs=1e-12)
    assert r.delta == pytest.approx(deltas.mean()) and r.n == 6


def test_retrieval_paired_monte_carlo_is_seeded_and_finds_a_real_drop() -> None:
    rng = np.random.default_rng(1)
    base = rng.uniform(0.3, 0.9, size=(200, 2))
    head = base.copy()
    head[:, 0] -= 0.1  # the first measure dropped by 10 points on every query, the second did not move
    head[:, 1] += rng.normal(0, 0.01, size=200)
    first = paired_tests(base, head, margins=[0.02, 0.0], seed=3)
    again = paired_tests(base, head, margins=[0.02, 0.0], seed=3)
    assert first == again
    assert first[0].p_value < 0.001 and first[0].interval.high < -0.05 and first[0].p_beyond < 0.05
    assert first[1].p_value > 0.05


def test_retrieval_paired_clusters_resample_whole_clusters() -> None:
    base = np.full((40, 1), 0.5)
    head = base.copy()
    head[:10, 0] -= 0.4  # one cluster of ten collapsed: the evidence is one cluster, not ten queries
    clusters = [f"c{i // 10}" for i in range(40)]
    [clustered] = paired_tests(base, head, clusters=clusters, margins=[0.0])
    [independent] = paired_tests(base, head, margins=[0.0])
    assert clustered.p_value > 0.05 > independent.p_value
