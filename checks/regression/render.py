"""The regression check's part of the PR comment: why it failed, rates with intervals, comparisons, and the cases
behind them (flipped ones beside the base branch's answer; failing ones when there is nothing to compare with)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.render.escape import code_block, html_text, inline, prose
from gate.render.markdown_base import file_link
from gate.render.words import counted
from gate.verdict import format_p

MAX_FLIPS = 15
MAX_FAILURES = 10
# Per case shown: 15 flips with input and both answers stay near 30,000 characters, half of a comment's room.
_INPUT_CHARS = 500
_ANSWER_CHARS = 700
_ICONS = {"regression": "❌", "too_few": "⚪", "significant_within_tolerance": "⚠️",
          "significant_not_beyond_tolerance": "⚠️", "improved": "✅",
          "no_significant_change": "✅"}


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _ci(pair: Any, pct: bool) -> str:
    lo, hi = pair
    return f"{_pct(lo)}–{_pct(hi)}" if pct else f"{lo:.3f}–{hi:.3f}"


def render_details(details: Mapping[str, Any]) -> str:
    lines: list[str] = []
    violations = details.get("violations") or []
    if violations:
        # Every reason, not only the first one the summary line has room for.
        lines += ["**Why this check failed:**", "", *(f"- {prose(v, 500)}" for v in violations), ""]
    not_compared = details.get("not_compared") or []
    if not_compared:
        # What of the baseline went uncompared short of failing the gate: where the reviewer reads, not only in JSON.
        lines += ["**Not compared with the baseline:**", "", *(f"- {prose(w, 500)}" for w in not_compared), ""]
    suites: Mapping[str, Any] = details.get("suites") or {}
    lines += ["| suite | cases | pass rate (95% CI) | scores (95% CI) |", "|---|---:|---|---|"]
    for name, s in suites.items():
        scores = "; ".join(f"{inline(m, 60)} {v['mean']:.3f} ({_ci(v['ci95'], False)})"
                           for m, v in (s.get("scores") or {}).items()) or "—"
        lines.append(f"| {inline(name, 80)} | {s.get('count', 0)} | {_pct(s.get('pass_rate', 0))} "
                     f"({_ci(s.get('pass_rate_ci95', [0, 0]), True)}) | {scores} |")
    baseline = details.get("baseline") or {}
    lines += ["", f"Baseline: {prose(str(baseline.get('source', '')), 300)}{_coverage(details)}"]
    lines += _comparisons(details.get("comparisons") or [])
    lines += _flipped(details)
    lines += _failing(details)
    for note in details.get("notes") or []:
        lines.append(f"\n_{prose(note, 400)}_")
    return "\n".join(lines) + "\n"


def _coverage(details: Mapping[str, Any]) -> str:
    cov = (details.get("coverage") or {}).values()
    if not cov:
        return ""
    compared, total = sum(c["compared"] for c in cov), sum(c["baseline"] for c in cov)
    by_input = sum(c.get("by_input", 0) for c in cov)
    new = sum(c.get("new", 0) for c in cov)
    paired = f", {by_input} of them renamed and paired by their input" if by_input else ""
    added = f"; {counted(new, 'new case')} not in the baseline" if new else ""
    return f" — {compared} of {counted(total, 'baseline case')} compared{paired}{added}."


def _comparisons(comparisons: Sequence[Mapping[str, Any]]) -> list[str]:
    if not comparisons:
        return []
    lines = ["", "| suite | metric | head vs base | change (95% CI) | p (Holm) | detectable at this n | verdict |",
             "|---|---|---|---|---|---|---|"]
    for c in comparisons:
        pct = c["metric"] == "pass_rate"
        fmt = _pct if pct else (lambda v: f"{v:.3f}")
        # None: too few cases for any drop to be significant.
        mde = "none" if c.get("mde") is None else f"{c['mde'] * 100:.1f} pts"
        # Green only where the suite could have seen a drop and its interval does not show one.
        unsure = c.get("mde") is None or (c["delta"] < 0 and c["ci95"][1] < 0)
        icon = "⚪" if unsure and c.get("verdict") == "no_significant_change" else _ICONS.get(str(c.get("verdict")), "")
        verdict = f"{icon} {inline(str(c.get('verdict_text', '')), 200)}"
        # A renamed suite says what it was compared with, in the row the reviewer reads.
        was = f" (base: {inline(str(c['base_suite']), 80)})" if c.get("base_suite") else ""
        lines.append(
            f"| {inline(c['suite'], 80)}{was} | {inline(c['metric'], 60)} | {fmt(c['head'])} vs {fmt(c['base'])} | "
            f"{c['delta'] * 100:+.1f} pts ({c['ci95'][0] * 100:+.1f} to {c['ci95'][1] * 100:+.1f}) | "
            f"{format_p(c['p_adjusted'], c.get('alpha'))} | {mde} | {verdict.strip()} |")
    return lines


def _why(case: Mapping[str, Any]) -> str:
    reasons = dict.fromkeys(f"{m}: {d}" if d else m for r in case.get("repeats", []) if not r.get("pass")
                            for m, d in r.get("failed", [])[:3])  # repeats often fail alike: say it once
    return "; ".join(reasons) or str(case.get("category") or "failed")


def _answer(case: Mapping[str, Any]) -> str:
    reps = case.get("repeats") or []
    return str(next((r.get("output", "") for r in reps if not r.get("pass")), reps[0].get("output", "") if reps else ""))


def _case_block(suite: str, file: str, case: Mapping[str, Any], before: str | None) -> list[str]:
    """One case, collapsed: where it is, why it failed, what was asked, and what came back (and before)."""
    summary = (f"{html_text(suite, 80)} / {html_text(str(case['id']), 120)} — "
               f"{html_text(str(case.get('category') or ''), 40)}: {html_text(_why(case), 200)}")
    where = file_link(file, case.get("line")) if file else ""
    out = [f"<details><summary>{summary}</summary>", ""]
    if where:
        out += [f"Case: {where}", ""]
    out += ["Input:", "", code_block(str(case.get("input", "")), _INPUT_CHARS), ""]
    if before is not None:
        out += ["Base branch answer:", "", code_block(before, _ANSWER_CHARS), "", "This branch's answer:", ""]
    else:
        out += ["Output:", ""]
    out += [code_block(_answer(case), _ANSWER_CHARS), "", "</details>"]
    return out


def _flipped(details: Mapping[str, Any]) -> list[str]:
    flips = []
    suites = details.get("suites") or {}
    for c in details.get("comparisons") or []:
        if c["metric"] != "pass_rate" or not c.get("pass_to_fail"):
            continue
        s = suites.get(c["suite"]) or {}
        by_id = {case["id"]: case for case in s.get("cases", [])}
        outputs = c.get("base_outputs") or {}
        flips += [(c["suite"], str(s.get("file", "")), by_id[i], outputs.get(i)) for i in c["pass_to_fail"] if i in by_id]
    if not flips:
        return []
    lines = ["", f"**Cases that passed on the base branch and fail now** ({len(flips)}):", ""]
    for suite, file, case, before in flips[:MAX_FLIPS]:
        lines += _case_block(suite, file, case, before if before is not None else "(the baseline keeps no answers: "
                             "it was written with baseline.keep_outputs: false, or by an older prodgate)")
    if len(flips) > MAX_FLIPS:
        lines.append(f"\n… and {len(flips) - MAX_FLIPS} more in the JSON report")
    return lines


def _failing(details: Mapping[str, Any]) -> list[str]:
    """Failing cases of the suites no baseline was compared with: without them a failing check shows no case."""
    compared = {c["suite"] for c in details.get("comparisons") or [] if c["metric"] == "pass_rate"}
    failing = []
    for name, s in (details.get("suites") or {}).items():
        if name in compared:
            continue
        failing += [(name, str(s.get("file", "")), case) for case in s.get("cases", []) if not case.get("pass")]
    if not failing:
        return []

    def worst(item: tuple[str, str, Mapping[str, Any]]) -> tuple[int, float, str, str]:
        case = item[2]
        reps = case.get("repeats") or []
        scores = case.get("scores") or {}
        return (sum(bool(r.get("pass")) for r in reps), sum(scores.values()) / len(scores) if scores else 0.0,
                item[0], str(case["id"]))

    failing.sort(key=worst)
    lines = ["", f"**Failing cases, worst first** ({len(failing)}):", ""]
    for suite, file, case in failing[:MAX_FAILURES]:
        lines += _case_block(suite, file, case, None)
    if len(failing) > MAX_FAILURES:
        lines.append(f"\n… and {len(failing) - MAX_FAILURES} more in the JSON report")
    return lines
