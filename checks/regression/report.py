"""Suite results + baseline -> the regression CheckResult (also what `gate merge` rebuilds from shards)."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from gate.redact import clip, secret_env_values
from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity, Status
from gate.verdict import format_p

from .compare import Analysis, Baseline, analyse
from .comparison import PASS_RATE
from .config import Gates
from .results import SuiteResult

NAME = "regression"


def _percentile(sorted_values: Sequence[int], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), without numpy."""
    if not sorted_values:
        return 0.0
    pos = (len(sorted_values) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def _token_stats(values: list[int]) -> dict[str, float] | None:
    if not values:
        return None
    values.sort()
    return {"mean": round(statistics.fmean(values), 3), "p50": round(_percentile(values, 0.5), 3),
            "p95": round(_percentile(values, 0.95), 3)}


def usage_by_suite(suites: Sequence[SuiteResult]) -> dict[str, Any]:
    """Measured tokens per request (every repeat counts), for the cost check's `measured: SUITE`."""
    out: dict[str, Any] = {}
    for s in suites:
        inputs = [r.input_tokens for c in s.cases for r in c.repeats if r.input_tokens is not None]
        outputs = [r.output_tokens for c in s.cases for r in c.repeats if r.output_tokens is not None]
        out[s.name] = {"cases": len(s.cases), "input_tokens": _token_stats(inputs), "output_tokens": _token_stats(outputs)}
    return out


def _finding(s: SuiteResult, c: Any, flipped: bool, secrets: Sequence[str]) -> Finding:
    why = next((f"{m}: {d}" if d else m for r in c.repeats for m, d in r.failed), "failed")
    lead = "passed on the base branch, fails now" if flipped else "failed"
    # The case id travels as case_id: every view prints it once, beside the message.
    return Finding(Severity.ERROR if flipped else Severity.NOTICE,
                   clip(f"{lead} ({c.category}): {why}", 400, secrets), s.file, c.line, case_id=f"{s.name}/{c.id}",
                   category=c.category)


def build_result(suites: Sequence[SuiteResult], baseline: Baseline | None, baseline_note: str, gates: Gates, *,
                 seed: int = 0, run: Mapping[str, Any] | None = None, extra_findings: Sequence[Finding] = (),
                 full: bool = True, locate: Callable[[Sequence[str | int]], tuple[str, int]] | None = None) -> CheckResult:
    """full=False keeps in details only the failing cases (every flipped one among them): the rest are counted.
    locate: gate.yaml's file and line of a path in it, where each violated gate is set."""
    # Name and id order, whatever order the suites ran or the shards came in: the report is the same.
    suites = sorted((replace(s, cases=tuple(sorted(s.cases, key=lambda c: c.id))) for s in suites),
                    key=lambda s: s.name)
    analysis = analyse(suites, baseline, gates, seed, partial=bool((run or {}).get("shard")),
                       unmeasured=frozenset(map(str, (run or {}).get("unmeasured") or ())))
    regressed = {c.suite for c in analysis.comparisons if c.metric == PASS_RATE and c.regression}
    flips = {(c.suite, i) for c in analysis.comparisons if c.metric == PASS_RATE for i in c.pass_to_fail}
    categories: dict[str, int] = {}
    total = passed = 0
    failures: list[Finding] = []
    secrets = secret_env_values()  # once, not once per failing case: it reads the whole environment
    for s in suites:
        for c in s.cases:
            total += 1
            passed += c.passed
            if not c.passed:
                categories[c.category or "quality.assertion"] = categories.get(c.category or "quality.assertion", 0) + 1
                failures.append(_finding(s, c, s.name in regressed and (s.name, c.id) in flips, secrets))
    broken = [Finding(Severity.ERROR, v, *(locate(at) if locate else ()))
              for v, at in zip(analysis.violations, analysis.violated, strict=True)]
    findings = [*extra_findings, *broken, *analysis.warnings, *failures]
    rate = passed / total if total else 0.0
    pooled = _pooled_change(analysis)
    defects = [f.message for f in extra_findings if f.severity is Severity.ERROR]
    ungated = _ungated_failures(suites, analysis, gates)
    failing = bool(analysis.violations or defects)
    # A warning beside the results (no baseline where the base expects one) is not a clean pass either.
    warned = any(f.severity is Severity.WARNING for f in extra_findings)
    status = Status.FAIL if failing else Status.WARN if ungated or analysis.too_few or analysis.warnings or warned \
        else Status.PASS
    details: dict[str, Any] = {
        "headline": {"value": f"{rate:.1%} pass", "change": pooled},
        "baseline": {"compared": baseline is not None, "source": baseline_note},
        "suites": {s.name: {**analysis.suite_stats[s.name], **s.to_dict(full=full)} for s in suites},
        "comparisons": [c.to_dict() for c in analysis.comparisons],
        "coverage": {c.suite: c.to_dict() for c in analysis.coverage},
        "violations": list(analysis.violations),
        **({"not_compared": [w.message for w in analysis.warnings]} if analysis.warnings else {}),
        "notes": list(analysis.notes),
        "usage_by_suite": usage_by_suite(suites),
        "run": dict(run or {}),
    }
    metrics: dict[str, Any] = {
        "cases": total, "passed": passed, "pass_rate": round(rate, 6), "suites": len(suites),
        "regressions": sum(c.regression for c in analysis.comparisons),
        "failure_categories": dict(sorted(categories.items())),
        "baseline_compared": baseline is not None,
    }
    summary = summary_line(suites, total, passed, analysis, baseline is not None, defects, ungated)
    return CheckResult(NAME, status, summary, metrics=metrics, findings=tuple(findings), details=details)


def _pooled_change(analysis: Analysis) -> str | None:
    """The headline's change: the worst pass-rate comparison (by adjusted p among drops), else the largest move."""
    rates = [c for c in analysis.comparisons if c.metric == PASS_RATE]
    if not rates:
        return None
    worst = min(rates, key=lambda c: (not c.regression, c.delta))
    return f"{worst.delta * 100:+.1f} pts ({format_p(worst.p_adjusted, worst.alpha)})"


def _ungated_failures(suites: Sequence[SuiteResult], analysis: Analysis, gates: Gates) -> int:
    """Failed cases that nothing holds to account: no gates.min_pass_rate, and their suite was not compared
    with a baseline. They warn: a suite at 0% must not pass silently."""
    if gates.min_pass_rate is not None:
        return 0
    compared = {c.suite for c in analysis.comparisons if c.metric == PASS_RATE}
    return sum(not c.passed for s in suites if s.name not in compared for c in s.cases)


def summary_line(suites: Sequence[SuiteResult], total: int, passed: int, analysis: Analysis, compared: bool,
                 defects: Sequence[str], ungated: int) -> str:
    """Clauses joined by '; ': what ran, how much of the baseline it was compared with, then the verdict."""
    verb = "passes" if total == 1 else "pass"
    clauses = [f"{passed} of {counted(total, 'case')} {verb} ({passed / total if total else 0:.1%}) in "
               f"{counted(len(suites), 'suite')}"]
    if analysis.coverage:
        paired = sum(c.compared for c in analysis.coverage)
        clauses.append(f"{paired} of {counted(sum(c.baseline for c in analysis.coverage), 'baseline case')} compared")
    clauses.append(_verdict_clause(analysis, compared, defects, ungated))
    if analysis.warnings and not analysis.violations:
        # What could not be compared reads beside the verdict, never hidden behind a pass.
        more = len(analysis.warnings) - 1
        clauses.append(_gist(analysis.warnings[0].message) + (f" (+{more} more below)" if more else ""))
    return "; ".join(clauses)


def _gist(message: str) -> str:
    """A warning's first sentence, for the summary line (the finding keeps the whole)."""
    return message.split(". ", 1)[0]


def _verdict_clause(analysis: Analysis, compared: bool, defects: Sequence[str], ungated: int) -> str:
    problems = [*analysis.violations, *(f"unusable baseline: {d}" for d in defects)]
    if problems:
        return problems[0] + (f" (+{len(problems) - 1} more below)" if len(problems) > 1 else "")
    if analysis.too_few:
        c = analysis.too_few[0]
        return f"vs base, {c.suite}: {c.sentence()}: {c.verdict_text()}"
    if ungated:
        return (f"{counted(ungated, 'failing case')} held to nothing: no baseline to compare with and no "
                "gates.min_pass_rate (set it to fail the gate below a pass rate)")
    if not compared:
        return "no baseline: absolute results only"
    moved = [c for c in analysis.comparisons if c.metric == PASS_RATE]
    if moved:
        # The largest drop; among equal ones the suite with the most cases, whose comparison says most.
        worst = min(moved, key=lambda c: (round(c.delta, 9), -c.n, c.suite))
        return f"vs base, {worst.suite}: {worst.sentence()}: {worst.verdict_text()}"
    return "no case in common with the baseline"
