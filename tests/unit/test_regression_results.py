"""Repeats (k of K), shard assignment, the markdown details' escaping, and the baseline file's layout."""

from __future__ import annotations

import json
from pathlib import Path

from prodgate_checks.regression.baseline import baseline_data, write_baseline
from prodgate_checks.regression.compare import Baseline
from prodgate_checks.regression.config import Gates
from prodgate_checks.regression.metrics import Outcome, Score
from prodgate_checks.regression.render import render_details
from prodgate_checks.regression.report import build_result
from prodgate_checks.regression.results import SuiteResult, aggregate, repeat_result
from prodgate_checks.regression.suites import shard_of


def _rep(ok: bool, text: str = "answer", category: str = "quality.assertion") -> object:
    return repeat_result(Outcome(text, 10, 5, 0.2), [Score("m", 1.0 if ok else 0.0, ok, None if ok else category, "why")])


def test_regression_aggregate_passes_at_k_of_k_repeats() -> None:
    reps = [_rep(True), _rep(False), _rep(True)]
    assert aggregate("c", 1, reps, 2, cluster=None, input_text="q").passed  # type: ignore[arg-type]
    failed = aggregate("c", 1, reps, 3, cluster=None, input_text="q")  # type: ignore[arg-type]
    assert not failed.passed and failed.category == "quality.assertion" and failed.input == "q"
    assert failed.scores == {"m": 2 / 3}


def test_regression_shard_of_stable_and_spread() -> None:
    counts = [0, 0, 0, 0]
    for i in range(400):
        counts[shard_of("suite", f"case-{i}", 4)] += 1
    assert shard_of("suite", "case-7", 4) == shard_of("suite", "case-7", 4)
    assert min(counts) > 70


def _result(passes: list[bool], output: str) -> SuiteResult:
    cases = tuple(aggregate(f"c{i}", i + 1, [_rep(p, output)], 1, cluster=None,  # type: ignore[list-item]
                            input_text="Q <b>@team</b>") for i, p in enumerate(passes))
    return SuiteResult("s", "d.jsonl", "replay", (), cases)


def test_regression_markdown_flipped_case_text_is_inert() -> None:
    base = Baseline({"s": {f"c{i}": {"pass": True, "scores": {}} for i in range(30)}}, "base")
    hostile = "```\n<script>alert(1)</script> @octocat [x](http://evil) ```"
    result = build_result([_result([False] * 10 + [True] * 20, hostile)], base, "base", Gates())
    md = render_details(result.details)
    assert "Cases that passed on the base branch and fail now** (10)" in md
    assert "<script>" in md and "````\n" in md  # inside a fence longer than any backtick run in the text
    assert "@octocat" not in md and "@team" not in md  # mentions ping no one
    assert "```\nQ <b>@\u200dteam</b>\n```" in md  # the input, fenced: the tag is shown, not rendered
    summary_lines = [line for line in md.splitlines() if line.startswith("<details><summary>")]
    assert summary_lines and all("<script>" not in line for line in summary_lines)


def test_regression_baseline_one_case_per_line_and_round_trip(tmp_path: Path) -> None:
    result = build_result([_result([True, False], "x")], None, "none", Gates())
    path = write_baseline(tmp_path / ".gate" / "baseline.json", baseline_data(result))
    text = path.read_text(encoding="utf-8")
    data = json.loads(text)
    assert data["format"] == 1 and set(data["suites"]["s"]["cases"]) == {"c0", "c1"}
    assert data["suites"]["s"]["cases"]["c1"]["pass"] is False
    assert sum(line.startswith('"c') for line in text.splitlines()) == 2
    # Each case keeps its answer (so a flip shows the base's) and its input's hash (so a rename still pairs).
    assert data["suites"]["s"]["cases"]["c1"]["output"] == "x"
    assert data["suites"]["s"]["cases"]["c0"]["input_sha"] == data["suites"]["s"]["cases"]["c1"]["input_sha"] != ""
    assert oct(path.stat().st_mode & 0o777) == "0o644"


def test_regression_baseline_keep_outputs_false_keeps_hashes_only(tmp_path: Path) -> None:
    result = build_result([_result([True, False], "secret answer")], None, "none", Gates())
    text = write_baseline(tmp_path / "b.json", baseline_data(result, keep_outputs=False)).read_text(encoding="utf-8")
    assert '"output":' not in text and "secret answer" not in text and '"output_sha":' in text


def _verdict(flips: int, alpha: float) -> str:
    base = Baseline({"s": {f"c{i}": {"pass": True, "scores": {}} for i in range(30)}}, "base")
    gates = Gates(alpha=alpha, max_pass_rate_drop=0.5)  # every drop here is within tolerance
    result = build_result([_result([False] * flips + [True] * (30 - flips), "x")], base, "base", gates)
    [row] = [line for line in render_details(result.details).splitlines() if line.startswith("| s | pass\\_rate")]
    return row.rsplit("|", 2)[1].strip().replace("\\", "")  # as GitHub shows it: no markdown escapes


def test_regression_markdown_drop_label_uses_configured_alpha() -> None:
    # McNemar p of 5 flips one way is 0.0625, of 8 is 0.0078.
    assert _verdict(5, alpha=0.1) == "⚠️ drop of 16.7 pts is significant but within the 50-pt tolerance"
    # Not significant, yet every flip went one way: the suite is too small to tell, and says how big it would need to be.
    assert _verdict(5, alpha=0.05) == "⚪ too few cases to tell (n=30); about 45 cases would detect a drop of 16.7 pts"
    assert _verdict(8, alpha=0.005) == "⚪ too few cases to tell (n=30); about 47 cases would detect a drop of 26.7 pts"
    assert _verdict(1, alpha=0.05) == "✅ no significant change"
    assert _verdict(8, alpha=0.05) == "⚠️ drop of 26.7 pts is significant but within the 50-pt tolerance"


def _clustered_run(loner: str) -> dict[str, object]:
    """Ten cases, c1..c3 in cluster "c0", and one unclustered case named `loner`; scores on metric m."""
    ids = [loner] + [f"c{i}" for i in range(1, 10)]
    base = Baseline({"s": {i: {"pass": True, "scores": {"m": 1.0}} for i in ids}}, "base")
    cases = tuple(aggregate(i, n + 1, [_rep(n > 1)], 1, cluster="c0" if 1 <= n <= 3 else None,  # type: ignore[list-item]
                            input_text="q") for n, i in enumerate(ids))
    result = build_result([SuiteResult("s", "d.jsonl", "replay", ("m",), cases)], base, "base", Gates())
    return {"suite": result.details["suites"]["s"]["scores"],
            "comparisons": [{k: v for k, v in c.items() if "to_" not in k} for c in result.details["comparisons"]]}


def test_regression_case_named_like_a_cluster_not_merged_into_it() -> None:
    # A case whose id is a cluster's name is analysed exactly as if it had any other id.
    assert _clustered_run("c0") == _clustered_run("c00")  # sorts in the same place: same resamples


def test_regression_failures_held_to_nothing_warn() -> None:
    result = build_result([_result([False, False], "x")], None, "no baseline: none", Gates())
    assert result.status.value == "warn"
    assert result.summary == ("0 of 2 cases pass (0.0%) in 1 suite; 2 failing cases held to nothing: no baseline "
                              "to compare with and no gates.min_pass_rate (set it to fail the gate below a pass rate)")
    assert build_result([_result([True, True], "x")], None, "none", Gates()).status.value == "pass"
    gated = build_result([_result([False, True], "x")], None, "none", Gates(min_pass_rate=0.5))
    assert gated.status.value == "pass"  # the configured gate decides
    assert build_result([_result([False, True], "x")], None, "none", Gates(min_pass_rate=0.8)).status.value == "fail"
    # Compared with a baseline where the same case failed: the comparison holds it, no warning.
    base = Baseline({"s": {"c0": {"pass": False, "scores": {}}, "c1": {"pass": True, "scores": {}}}}, "base")
    assert build_result([_result([False, True], "x")], base, "base", Gates()).status.value == "pass"


def test_regression_comparison_sentence_in_summary() -> None:
    base = Baseline({"s": {f"c{i}": {"pass": True, "scores": {}} for i in range(30)}}, "base")
    result = build_result([_result([False] * 6 + [True] * 24, "x")], base, "base", Gates())
    assert result.summary.startswith("24 of 30 cases pass (80.0%) in 1 suite; 30 of 30 baseline cases compared; "
                                     "s: pass rate regressed: 80.0% vs 100.0% (-20.0 pts, 95% CI ")
    assert result.summary.endswith(", p=0.031)")  # McNemar, 6 flips one way: 2 * 0.5**6
