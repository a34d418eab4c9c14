"""What the comparison counts: Tarone's family of comparisons against hand-computed cases, the cases needed to detect
a drop computed as the MDE is, and baseline suites and metrics renamed or gone."""

from __future__ import annotations

import math
import random

import pytest
from prodgate_checks.regression.compare import Baseline, analyse
from prodgate_checks.regression.comparison import Comparison
from prodgate_checks.regression.config import Gates, MetricGate
from prodgate_checks.regression.metrics import Outcome, Score
from prodgate_checks.regression.renames import match_suites
from prodgate_checks.regression.report import build_result
from prodgate_checks.regression.results import SuiteResult, aggregate, input_digest, repeat_result

from gate import stats
from gate.verdict import Verdict


def _suite(name: str, passes: list[bool], *, ids: list[str] | None = None, inputs: list[str] | None = None,
           metrics: tuple[str, ...] = ("m",), clusters: list[str] | None = None) -> SuiteResult:
    ids = ids or [f"c{i:03d}" for i in range(len(passes))]
    inputs = inputs or [f"{name} question {i}" for i in range(len(passes))]
    cases = []
    for i, ok in enumerate(passes):
        scores = [Score(m, float(ok), ok, None if ok else "quality.assertion", "why") for m in metrics]
        rep = repeat_result(Outcome("ok" if ok else "no", 10, 5, 0.1), scores)
        cases.append(aggregate(ids[i], i + 1, [rep], 1, cluster=clusters[i] if clusters else None,
                               input_text=inputs[i]))
    return SuiteResult(name, f"{name}.jsonl", "python", (), tuple(cases))


def _base(name: str, passes: list[bool], *, inputs: list[str] | None = None,
          metrics: tuple[str, ...] = ("m",)) -> dict[str, dict[str, object]]:
    inputs = inputs or [f"{name} question {i}" for i in range(len(passes))]
    return {f"c{i:03d}": {"pass": ok, "scores": {m: float(ok) for m in metrics}, "input_sha": input_digest(inputs[i])}
            for i, ok in enumerate(passes)}


# Tarone's family, by hand


def test_family_trial_small_suites_left_out_large_one_corrected_with_its_peer() -> None:
    # Twelve unchanged three-case comparisons (floor 1), a 60-case suite whose 9 flips all went one way
    # (p = floor = 2 * 0.5**9) and its score (p 0.02, floor 2 * 0.5**9).
    floor = 2 * 0.5**9
    tests = {f"smoke{i}": (1.0, 1.0) for i in range(12)} | {"rate": (floor, floor), "score": (0.02, floor)}
    got = stats.tarone_holm(tests, 0.05)
    # K=1: 2 floors below 0.05 (more than 1); K=2: 2 below 0.025, not more than 2. The family is those two.
    assert got["rate"] == stats.Adjusted(2 * floor, 2, 2)
    assert got["score"] == stats.Adjusted(0.02, 2, 2)  # Holm's second step: max(2 * floor, 1 * 0.02)
    assert got["smoke0"] == stats.Adjusted(1.0, 0, 2)
    # Plain Holm over all fourteen loses the drop: 14 * 0.0039 = 0.055.
    assert stats.holm({k: p for k, (p, _) in tests.items()})["rate"] == pytest.approx(14 * floor)


def test_family_left_out_comparison_never_significant_though_its_own_p_is() -> None:
    tests = {"a": (0.001, 0.001), "b": (0.004, 0.001), "c": (0.02, 0.02), "d": (0.3, 0.03)}
    got = stats.tarone_holm(tests, 0.05)
    # K=1: 4 floors below 0.05; K=2: 3 below 0.025; K=3: 2 below 0.0167, at most 3: the family is a and b.
    assert {k: v.family for k, v in got.items()} == {"a": 2, "b": 2, "c": 0, "d": 0}
    assert got["a"].p == pytest.approx(0.002) and got["b"].p == pytest.approx(0.004)
    # c alone would pass at 0.02; held to 0.05 / 3 it cannot: reported as 3 * 0.02.
    assert got["c"].p == pytest.approx(0.06) and got["d"].p == pytest.approx(0.9)
    assert all(v.level == 3 for v in got.values())


def test_family_resampled_p_below_its_floor_held_to_the_floor() -> None:
    # A randomisation p-value drawn a little under the exact floor of its test does not slip under alpha.
    got = stats.tarone_holm({"x": (0.029, 0.03125), "y": (0.001, 0.001), "z": (0.002, 0.001)}, 0.05)
    assert got["x"] == stats.Adjusted(pytest.approx(0.0625), 0, 2)
    assert stats.tarone_holm({}, 0.05) == {}


def test_family_every_comparison_able_equals_plain_holm() -> None:
    tests = {"a": (0.01, 1e-6), "b": (0.04, 1e-6), "c": (0.03, 1e-6)}
    got = stats.tarone_holm(tests, 0.05)
    assert {k: v.p for k, v in got.items()} == stats.holm({k: p for k, (p, _) in tests.items()})
    assert {v.family for v in got.values()} == {3}


def test_family_floors_of_the_tests_on_these_data() -> None:
    ids = [f"c{i}" for i in range(10)]
    # McNemar conditions on the discordant pairs: 3 flips one way and 1 the other give a floor of 2 * 0.5**4.
    c = stats.compare_pass(dict.fromkeys(ids, True) | {"c9": False}, {i: i not in ("c0", "c1", "c2") for i in ids},
                           resamples=200)
    assert c.min_p == 2 * 0.5**4 and c.test == "mcnemar-exact"
    assert stats.compare_pass(dict.fromkeys(ids, True), dict.fromkeys(ids, True), resamples=200).min_p == 1.0
    # The sign-flip test on scores: only the cases whose difference is not 0 count.
    d = stats.paired_difference([1.0] * 10, [0.5, 0.5, 0.5] + [1.0] * 7, resamples=200)
    assert d.min_p == 2 * 0.5**3
    # Clustered: a unit is a cluster, and one whose differences cancel out does not move.
    clusters = ["a", "a", "b", "b", "c", "c", "d", "d", "e", "e"]
    e = stats.paired_difference([1.0] * 10, [0.0, 1.0, 0.0, 2.0, 0.0] + [1.0] * 5, clusters=clusters, resamples=200)
    assert e.min_p == 2 * 0.5**2 and e.units == 5


def test_family_three_case_suites_do_not_weaken_a_sixty_case_suite() -> None:
    big = _suite("big", [i >= 9 for i in range(60)])
    smoke = [_suite(f"smoke{k}", [True] * 3) for k in range(12)]
    base = Baseline({"big": _base("big", [True] * 60)} | {f"smoke{k}": _base(f"smoke{k}", [True] * 3)
                                                           for k in range(12)}, "base")
    analysis = analyse([big, *smoke], base, Gates())
    rate = next(c for c in analysis.comparisons if c.suite == "big")
    assert rate.p_value == 2 * 0.5**9 and rate.family == 1 and rate.p_adjusted == rate.p_value
    assert rate.verdict is Verdict.REGRESSION
    assert all(c.family == 0 and c.p_adjusted == 1.0 for c in analysis.comparisons if c.suite != "big")


# The cases needed, computed as the MDE is


@pytest.mark.parametrize("clustered", [False, True])
def test_cases_to_detect_agrees_with_the_mde(clustered: bool) -> None:
    n, units, sd, disc = 60, 15, 0.35, 0.2
    kwargs = {"n": n, "units": units, "unit_sd": sd} if clustered else {}
    mde = stats.detectable_drop(n, disc, units=units if clustered else 0, unit_sd=sd if clustered else 0.0)
    for drop in (0.1, 0.15, 0.2, 0.25, 0.4):
        needed = stats.cases_to_detect(drop, disc, **kwargs)  # type: ignore[arg-type]
        assert needed is not None
        # Too few here exactly when more cases are needed than there are.
        assert (mde > drop) == (needed > n), (drop, mde, needed)
        # ...and that many cases (as many per cluster) would detect it.
        scale = dict(units=math.ceil(units * needed / n), unit_sd=sd) if clustered else {}
        assert stats.detectable_drop(needed, disc, **scale) <= drop + 1e-9  # type: ignore[arg-type]


def test_cases_to_detect_clustered_sixty_cases_never_says_fewer_than_sixty() -> None:
    # The trial's wording was "too few cases to tell (n=60); about 37 cases would detect a drop of 20.0 pts": the
    # MDE counted the clusters, the cases needed did not. Here 5 whole clusters of 4 fail of 15.
    clusters = [f"k{i // 4}" for i in range(60)]
    head = _suite("s", [i >= 20 for i in range(60)], clusters=clusters)
    analysis = analyse([head], Baseline({"s": _base("s", [True] * 60)}, "base"), Gates())
    rate = next(c for c in analysis.comparisons if c.metric == "pass_rate")
    assert rate.units == 15 and rate.mde > -rate.delta and rate.verdict is Verdict.TOO_FEW
    needed = rate.cases_to_detect()
    assert needed is not None and needed > 60
    assert rate.verdict_text() == f"too few cases to tell (n=60, in 15 clusters); about {needed} cases would detect " \
                                  "a drop of 33.3 pts"


def test_verdict_text_names_the_correction_when_it_decided() -> None:
    c = Comparison("s", "pass_rate", 0.9, 0.7, -0.2, -0.33, -0.07, 0.029, 0.21, 60, "cluster-randomisation", 0.0,
                   p_adjusted=0.17, verdict=Verdict.TOO_FEW, family=6, units=20, unit_sd=0.3)
    assert c.verdict_text() == ("drop of 20.0 pts is significant alone (p=0.029), not once the run's 6 comparisons "
                                "that could reach significance are counted (Holm)")
    left_out = Comparison("s", "pass_rate", 0.9, 0.7, -0.2, -0.33, -0.07, 0.03, 0.21, 60, "mcnemar-exact", 0.0,
                          p_adjusted=0.06, verdict=Verdict.TOO_FEW, family=0)
    assert "left out of them: Tarone" in left_out.verdict_text()
    unsure = Comparison("s", "pass_rate", 0.9, 0.8, -0.1, -0.2, -0.01, 0.08, 0.2, 30, "mcnemar-exact", 0.0,
                        p_adjusted=0.08, verdict=Verdict.NO_SIGNIFICANT_CHANGE, family=1)
    assert unsure.verdict_text() == "drop of 10.0 pts: its interval lies below 0, but its test does not confirm it (p=0.080)"


# Suites renamed or gone, metrics gone


def test_match_suites_renamed_by_inputs_not_by_default_ids() -> None:
    rows = [f"row-{i}" for i in range(3)]
    base = {"old": _base("old", [True] * 3), "gone": _base("gone", [True] * 3)}
    renamed = _suite("new", [True] * 3, ids=rows, inputs=[f"old question {i}" for i in range(3)])
    # Rows without ids share names across prompt files: the same ids with other inputs are another suite.
    unrelated = _suite("other", [True] * 3, ids=[f"c{i:03d}" for i in range(3)])
    assert match_suites([renamed, unrelated], base) == {"new": "old"}


def test_match_suites_most_of_either_side_largest_first() -> None:
    base = {"a": _base("a", [True] * 10), "b": _base("b", [True] * 4)}
    grown = _suite("a2", [True] * 30, inputs=[f"a question {i}" for i in range(10)] + [f"x{i}" for i in range(20)])
    shrunk = _suite("b2", [True] * 1, inputs=["b question 0"])  # 1 of 4 of b, but all of itself
    few = _suite("c", [True] * 10, inputs=["a question 0", "a question 1"] + [f"y{i}" for i in range(8)])
    assert match_suites([grown, shrunk, few], base) == {"a2": "a", "b2": "b"}
    # Half of neither side is no match.
    half = _suite("h", [True] * 10, inputs=[f"a question {i}" for i in range(5)] + [f"z{i}" for i in range(5)])
    assert match_suites([half], base) == {}


def test_gone_suite_counted_in_coverage_and_fails_named() -> None:
    base = Baseline({"kept": _base("kept", [True] * 10), "dropped": _base("dropped", [True] * 30)}, "base")
    result = build_result([_suite("kept", [True] * 10)], base, "base", Gates())
    assert result.status.value == "fail"
    assert "10 of 40 baseline cases compared" in result.summary
    assert result.details["coverage"]["dropped"] == {"compared": 0, "baseline": 30, "by_input": 0, "new": 0,
                                                     "gone": True}
    [finding] = [f for f in result.findings if f.message.startswith("dropped:")]
    assert finding.severity.value == "error" and "none of its 30 baseline cases were compared" in finding.message
    # Allowed by gates.min_coverage 0: still said, as a warning, and not a clean pass.
    relaxed = build_result([_suite("kept", [True] * 10)], base, "base", Gates(min_coverage=0.0))
    assert relaxed.status.value == "warn"
    assert [f.severity.value for f in relaxed.findings if f.message.startswith("dropped:")] == ["warning"]
    # A shard holds part of the run: judged when the shards are merged.
    shard = build_result([_suite("kept", [True] * 10)], base, "base", Gates(), run={"shard": "1/2"})
    assert not [f for f in shard.findings if f.message.startswith("dropped:")]


def test_unmeasured_or_empty_suite_is_not_gone() -> None:
    # A suite whose recordings were no evidence has its own finding; a suite of no cases lost nothing.
    base = Baseline({"kept": _base("kept", [True] * 10), "replayed": _base("replayed", [True] * 30), "empty": {}},
                    "base")
    result = build_result([_suite("kept", [True] * 10)], base, "base", Gates(), run={"unmeasured": ["replayed"]})
    assert result.status.value == "pass"
    assert set(result.details["coverage"]) == {"kept"}


def test_gone_metric_is_a_warning_naming_its_gate() -> None:
    base = Baseline({"s": _base("s", [True] * 20, metrics=("m", "grounded", "tone"))}, "base")
    gates = Gates(metrics={"grounded": MetricGate(min_score=0.6, max_drop=0.1)})
    result = build_result([_suite("s", [True] * 20)], base, "base", gates)
    assert result.status.value == "warn"
    messages = [f.message for f in result.findings if f.severity.value == "warning"]
    assert [m.split("'")[1] for m in messages] == ["grounded", "tone"]
    assert messages[0].startswith("s: 'grounded' is no longer measured (the baseline scored 20 cases with it).")
    assert "gates.metrics.grounded could not be evaluated on this suite" in messages[0]
    assert "gates.metrics" not in messages[1]
    assert result.summary.endswith("s: 'grounded' is no longer measured (the baseline scored 20 cases with it) "
                                   "(+1 more below)")


def test_family_chance_of_any_false_drop_stays_under_alpha() -> None:
    # No change at all (each discordant pair goes either way by a coin): one 60-case suite with eight 3-case ones,
    # and twelve 10-case suites. Holm within Tarone's family flags some comparison in at most alpha of the runs.
    rng = random.Random(1)
    for sizes, discordance in (([60] + [3] * 8, 0.2), ([10] * 12, 0.5)):
        flagged = 0
        for _ in range(2000):
            tests = {}
            for j, n in enumerate(sizes):
                d = sum(rng.random() < discordance for _ in range(n))
                down = sum(rng.random() < 0.5 for _ in range(d))
                tests[str(j)] = (stats.mcnemar_exact(down, d - down), stats.mcnemar_exact(d, 0))
            flagged += any(a.p < 0.05 for a in stats.tarone_holm(tests, 0.05).values())
        assert 0 < flagged / 2000 <= 0.05, (sizes, flagged)
