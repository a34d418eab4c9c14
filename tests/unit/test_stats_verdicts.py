"""The verdict around the statistics: tiny suites, the tolerance as a test, wording, renamed and flaky cases."""

from __future__ import annotations

import numpy as np
from prodgate_checks.regression.baseline import _shape_problem
from prodgate_checks.regression.compare import Baseline, pair_cases
from prodgate_checks.regression.config import Gates
from prodgate_checks.regression.metrics import Outcome, Score
from prodgate_checks.regression.render import render_details
from prodgate_checks.regression.report import build_result
from prodgate_checks.regression.results import CaseResult, SuiteResult, aggregate, input_digest, repeat_result

from gate import stats
from gate.verdict import Context, Decision, Evidence, Verdict, decide, format_p, words


def _suite(passes: list[bool], *, ids: list[str] | None = None, inputs: list[str] | None = None) -> SuiteResult:
    ids = ids or [f"c{i:03d}" for i in range(len(passes))]
    inputs = inputs or [f"question {i}" for i in range(len(passes))]
    cases = []
    for i, (case_id, ok) in enumerate(zip(ids, passes, strict=True)):
        rep = repeat_result(Outcome("ok" if ok else "no", 10, 5, 0.1), [Score("m", float(ok), ok, None if ok else
                                                                               "quality.assertion", "why")])
        cases.append(aggregate(case_id, i + 1, [rep], 1, cluster=None, input_text=inputs[i]))
    return SuiteResult("s", "d.jsonl", "python", (), tuple(cases))


def _baseline(passes: list[bool], **extra: object) -> Baseline:
    cases = {f"c{i:03d}": {"pass": ok, "scores": {}, "input_sha": input_digest(f"question {i}"), **extra}
             for i, ok in enumerate(passes)}
    return Baseline({"s": cases}, "base")


def test_stats_verdict_three_cases_all_failing_now_too_few_and_warns() -> None:
    result = build_result([_suite([False] * 3)], _baseline([True] * 3), "base", Gates())
    [c] = result.details["comparisons"]
    assert c["verdict"] == "too_few" and c["regression"] is False and c["mde"] is None
    assert result.status.value == "warn"
    assert "too few cases to tell (n=3); about 6 cases would detect a drop of 100.0 pts" in result.summary
    assert "⚪ too few cases to tell (n=3)" in render_details(result.details).replace("\\", "")


def test_stats_verdict_ten_cases_fifty_point_drop_interval_and_verdict_agree() -> None:
    result = build_result([_suite([False] * 5 + [True] * 5)], _baseline([True] * 10), "base", Gates())
    [c] = result.details["comparisons"]
    assert c["ci95"][1] < 0  # the interval excludes no change...
    assert c["verdict"] == "too_few"  # ...so the verdict may not say "no significant drop"
    row = next(line for line in render_details(result.details).splitlines() if line.startswith("| s |") and "pts" in line)
    assert "✅" not in row and "⚪" in row


def test_stats_decide_rules_table() -> None:
    nan = float("nan")
    ni, sd = Decision.NON_INFERIORITY, Decision.SIGNIFICANT_DROP
    # A significant 6-point drop against a 5-point tolerance, its interval reaching inside it: non-inferiority does
    # not fail it, and does not call it within the tolerance either; the old rule reads the observed size.
    larger = Evidence(-0.06, -0.02, 0.001, 0.2, 0.03)
    assert decide(larger, alpha=0.05, tolerance=0.05, decision=ni) is Verdict.SIGNIFICANT_NOT_BEYOND
    assert decide(larger, alpha=0.05, tolerance=0.05, decision=sd) is Verdict.REGRESSION
    within = Evidence(-0.04, -0.01, 0.001, 0.2, 0.03)
    for rule in (ni, sd):
        assert decide(within, alpha=0.05, tolerance=0.05, decision=rule) is Verdict.SIGNIFICANT_WITHIN_TOLERANCE
    beyond = Evidence(-0.12, -0.07, 0.001, 0.01, 0.03)
    assert decide(beyond, alpha=0.05, tolerance=0.05, decision=ni) is Verdict.REGRESSION
    assert decide(Evidence(0.1, 0.15, 0.001, 1.0, 0.03), alpha=0.05, tolerance=0, decision=ni) is Verdict.IMPROVED
    assert decide(Evidence(-0.5, -0.1, 0.25, 0.25, nan), alpha=0.05, tolerance=0, decision=ni) is Verdict.TOO_FEW
    noise = Evidence(-0.007, 0.02, 1.0, 1.0, 0.05)
    assert decide(noise, alpha=0.05, tolerance=0, decision=ni) is Verdict.NO_SIGNIFICANT_CHANGE


def _flags(drop: int, decision: Decision, sims: int = 40) -> int:
    """Seeded runs at 300 cases and a 5-point tolerance with `drop` cases (of 300) losing their pass."""
    rng = np.random.default_rng(7)
    ids = [f"c{i:03d}" for i in range(300)]
    flagged = 0
    for s in range(sims):
        q = rng.beta(6, 1, size=300)
        base = rng.random(300) < q
        head = rng.random(300) < q
        if drop:
            head[rng.choice(np.flatnonzero(head), size=drop, replace=False)] = False
        c = stats.compare_pass(dict(zip(ids, base.tolist(), strict=True)), dict(zip(ids, head.tolist(), strict=True)),
                               seed=s, resamples=500, margin=0.05)
        e = Evidence(c.delta, c.interval.high, c.p_value, c.p_beyond, c.mde)
        flagged += decide(e, alpha=0.05, tolerance=0.05, decision=decision) is Verdict.REGRESSION
    return flagged


def test_stats_noninferiority_drop_inside_tolerance_rarely_fails_unlike_significant_drop() -> None:
    # A true 4-point drop (12 of 300) inside a 5-point tolerance: the old rule fails it often.
    assert _flags(12, Decision.NON_INFERIORITY) <= 2
    assert _flags(12, Decision.SIGNIFICANT_DROP) >= 6


def test_stats_noninferiority_fifteen_point_drop_beyond_tolerance_fails() -> None:
    assert _flags(45, Decision.NON_INFERIORITY, sims=20) >= 18


def test_stats_format_p_near_alpha_keeps_its_side() -> None:
    assert format_p(0.047) == "p=0.047"
    assert format_p(0.0496, 0.05) == "p=0.0496"
    assert format_p(0.0504, 0.05) == "p=0.0504"
    assert format_p(0.31) == "p=0.31" and format_p(0.0004) == "p<0.001"


def test_stats_verdict_wording_says_which() -> None:
    improved = build_result([_suite([True] * 40)], _baseline([False] * 10 + [True] * 30), "base", Gates())
    assert improved.details["comparisons"][0]["verdict_text"] == "improved by 25.0 pts"
    assert "within noise" not in improved.summary and improved.summary.endswith("improved by 25.0 pts")
    within = build_result([_suite([False] * 12 + [True] * 288)], _baseline([True] * 300), "base",
                          Gates(max_pass_rate_drop=0.05))
    assert within.details["comparisons"][0]["verdict_text"] == "drop of 4.0 pts is significant but within the 5-pt tolerance"
    assert within.status.value == "pass"


def test_stats_pair_cases_renamed_by_input_unique_only() -> None:
    base = {"a": {"pass": True, "input_sha": "x"}, "b": {"pass": True, "input_sha": "y"},
            "c": {"pass": True, "input_sha": "z"}, "d": {"pass": True, "input_sha": "z"}}
    head = [CaseResult("a", 1, True, None, {}, (), input_sha="x"), CaseResult("b2", 2, True, None, {}, (), input_sha="y"),
            CaseResult("c2", 3, True, None, {}, (), input_sha="z"), CaseResult("n", 4, True, None, {}, (), input_sha="q")]
    # a by id, b2 by input; c2's input belongs to two baseline cases: which one it was cannot be told.
    assert pair_cases(head, base) == {"a": "a", "b2": "b"}


def test_stats_renamed_half_with_collapse_fails_and_says_coverage() -> None:
    # Half the ids renamed; the renamed half collapses. Paired by input, the drop is seen and all 300 are compared.
    ids = [f"c{i:03d}" if i < 150 else f"renamed-{i}" for i in range(300)]
    head = _suite([True] * 150 + [i % 2 == 0 for i in range(150)], ids=ids)
    result = build_result([head], _baseline([True] * 300), "base", Gates())
    assert result.status.value == "fail"
    [c] = result.details["comparisons"]
    assert c["n"] == 300 and c["regression"] is True and len(c["pass_to_fail"]) == 75
    assert "300 of 300 baseline cases compared" in result.summary
    assert result.details["coverage"]["s"] == {"compared": 300, "baseline": 300, "by_input": 150, "new": 0}


def test_stats_coverage_under_minimum_fails_with_reason() -> None:
    ids = [f"c{i:03d}" if i < 150 else f"new-{i}" for i in range(300)]
    inputs = [f"question {i}" if i < 150 else f"reworded {i}" for i in range(300)]
    result = build_result([_suite([True] * 300, ids=ids, inputs=inputs)], _baseline([True] * 300), "base", Gates())
    assert result.status.value == "fail"
    assert "150 of 300 baseline cases compared" in result.summary
    assert "s: only 150 of 300 baseline cases compared (50%, under gates.min_coverage 80%)" in result.summary
    relaxed = build_result([_suite([True] * 300, ids=ids, inputs=inputs)], _baseline([True] * 300), "base",
                           Gates(min_coverage=0.5))
    # Within the relaxed minimum the check does not fail, but the cases left out are named: not a clean pass.
    assert relaxed.status.value == "warn"
    [gone] = [f for f in relaxed.findings if "not in this run" in f.message]
    assert gone.message.startswith("s: 150 baseline cases not in this run (c150, c151, c152, c153, c154 and 145 more)")


def test_stats_flaky_baseline_note_suggests_repeats() -> None:
    base = _baseline([True] * 20, repeats=[{"pass": True}, {"pass": False}, {"pass": True}])
    result = build_result([_suite([True] * 20)], base, "base", Gates())
    [note] = result.details["notes"]
    assert note.startswith("s: the model is stochastic: in the baseline, 20 of 20 cases' repeats disagreed")
    assert "raise `repeats`" in note
    assert "raise <code>" not in render_details(result.details) and "`repeats`" in render_details(result.details)


def test_stats_baseline_format_true_is_a_defect() -> None:
    problem = _shape_problem({"format": True, "suites": {}})
    assert problem is not None and problem.startswith("baseline format True")
    assert _shape_problem({"format": 1, "suites": {}}) is None


def test_stats_verdict_unchanged_tiny_suite_not_green() -> None:
    result = build_result([_suite([True] * 3)], _baseline([True] * 3), "base", Gates())
    [c] = result.details["comparisons"]
    assert c["verdict_text"] == "no drop, but too few cases (n=3) for any drop to be significant"
    row = next(line for line in render_details(result.details).splitlines() if line.startswith("| s | pass"))
    assert "⚪" in row and "✅" not in row
    assert result.status.value == "pass"  # nothing dropped: nothing to warn about


def test_stats_verdict_drop_lost_to_holm_not_shown_as_no_change() -> None:
    # Eight suites that all moved (each can reach significance, so each counts in the correction); one drops 9 of
    # 40 and gains 1 (p=0.021, interval below 0), which Holm over the eight does not keep.
    suites = [SuiteResult(f"s{k}", "d.jsonl", "python", (), _suite([i >= 9 if k == 0 else not 10 <= i < 20
                                                                     for i in range(40)]).cases) for k in range(8)]
    base = Baseline({f"s{k}": _baseline([i != 9 if k == 0 else i >= 10 for i in range(40)]).suites["s"]
                     for k in range(8)}, "base")
    result = build_result(suites, base, "base", Gates())
    c = next(c for c in result.details["comparisons"] if c["suite"] == "s0")
    assert c["ci95"][1] < 0 and c["p_value"] < 0.05 <= c["p_adjusted"] and c["family"] == 8
    assert c["verdict_text"] == ("drop of 20.0 pts is significant alone (p=0.021), not once the run's 8 comparisons "
                                 "that could reach significance are counted (Holm)")
    row = next(line for line in render_details(result.details).splitlines() if line.startswith("| s0 | pass"))
    assert "⚪" in row and "✅" not in row


def test_verdict_words_drop_not_shown_beyond_names_both_p_values() -> None:
    larger = Evidence(-0.023, -0.012, 0.0009999, 0.67, 0.018)
    verdict = decide(larger, alpha=0.05, tolerance=0.02, decision=Decision.NON_INFERIORITY)
    assert verdict is Verdict.SIGNIFICANT_NOT_BEYOND
    context = Context(0.05, 0.02, 65, "queries", 0.0002, "not after Holm's correction across the 5 measures")
    assert words(verdict, larger, context) == ("drop of 2.3 pts is significant (p<0.001) and larger than the 2-pt "
                                               "tolerance, but not significantly beyond it (p=0.67)")
    # Without a tolerance, "beyond it" is beyond 0: the exact test says significant, the interval reaches 0.
    at_zero = Evidence(-0.05, 0.0, 0.03, 0.08, 0.04)
    verdict = decide(at_zero, alpha=0.05, tolerance=0.0, decision=Decision.NON_INFERIORITY)
    assert words(verdict, at_zero, Context(0.05, 0.0, 60, "cases", 0.03, "")) == \
        "drop of 5.0 pts is significant (p=0.030), but its interval reaches 0 (p=0.080)"


def test_verdict_words_retrieval_drop_lost_to_holm_says_so() -> None:
    lost = Evidence(-0.07, -0.01, 0.12, 1.0, 0.05)  # corrected p; 0.024 alone
    verdict = decide(lost, alpha=0.05, tolerance=0.0, decision=Decision.NON_INFERIORITY)
    assert verdict is Verdict.NO_SIGNIFICANT_CHANGE  # the MDE is below the drop: the suite could have seen it
    context = Context(0.05, 0.0, 65, "queries", 0.024, "not after Holm's correction across the 5 measures")
    assert words(verdict, lost, context) == ("drop of 7.0 pts is significant alone (p=0.024), not after Holm's "
                                             "correction across the 5 measures")
