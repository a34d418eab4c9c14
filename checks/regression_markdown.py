"""The regression check's part of the PR comment: rates with intervals, comparisons, flipped cases."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.render.escape import code_block, inline
from gate.stats import format_p

MAX_FLIPS = 15


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _ci(pair: Any, pct: bool) -> str:
    lo, hi = pair
    return f"{_pct(lo)}–{_pct(hi)}" if pct else f"{lo:.3f}–{hi:.3f}"


def render_details(details: Mapping[str, Any]) -> str:
    suites: Mapping[str, Any] = details.get("suites") or {}
    lines = ["| suite | cases | pass rate (95% CI) | scores (95% CI) |", "|---|---:|---|---|"]
    for name, s in suites.items():
        scores = "; ".join(f"{inline(m, 60)} {v['mean']:.3f} ({_ci(v['ci95'], False)})"
                           for m, v in (s.get("scores") or {}).items()) or "—"
        lines.append(f"| {inline(name, 80)} | {s.get('count', 0)} | {_pct(s.get('pass_rate', 0))} "
                     f"({_ci(s.get('pass_rate_ci95', [0, 0]), True)}) | {scores} |")
    baseline = details.get("baseline") or {}
    lines += ["", f"Baseline: {inline(str(baseline.get('source', '')), 300)}"]
    comparisons = details.get("comparisons") or []
    if comparisons:
        lines += ["", "| suite | metric | head vs base | change (95% CI) | p (Holm) | detectable at this n | verdict |",
                  "|---|---|---|---|---|---|---|"]
        for c in comparisons:
            pct = c["metric"] == "pass_rate"
            fmt = _pct if pct else (lambda v: f"{v:.3f}")
            # None: too few cases for any drop to be significant.
            mde = "none" if c.get("mde") is None else f"{c['mde'] * 100:.1f} pts"
            significant_drop = c["delta"] < 0 and c["p_adjusted"] < c["alpha"]
            verdict = "❌ regression" if c["regression"] else ("⚠️ drop within tolerance" if significant_drop
                                                              else "✅ no significant drop")
            lines.append(
                f"| {inline(c['suite'], 80)} | {inline(c['metric'], 60)} | {fmt(c['head'])} vs {fmt(c['base'])} | "
                f"{c['delta'] * 100:+.1f} pts ({c['ci95'][0] * 100:+.1f} to {c['ci95'][1] * 100:+.1f}) | "
                f"{format_p(c['p_adjusted'])} | {mde} | {verdict} |")
    flips = _flips(details)
    if flips:
        lines += ["", f"**Cases that passed on the base branch and fail now** ({len(flips)}):", ""]
        for suite, case in flips[:MAX_FLIPS]:
            why = "; ".join(f"{m}: {d}" if d else m for r in case.get("repeats", [])[:1] for m, d in r.get("failed", []))
            out = next((r.get("output", "") for r in case.get("repeats", []) if not r.get("pass")), "")
            lines += [f"<details><summary>{inline(suite, 80)} / {inline(case['id'], 120)} — "
                      f"{inline(case.get('category') or '', 40)}: {inline(why, 200)}</summary>", "",
                      "Input:", "", code_block(case.get("input", ""), 1200), "", "Output:", "",
                      code_block(out, 1200), "", "</details>"]
        if len(flips) > MAX_FLIPS:
            lines.append(f"\n… and {len(flips) - MAX_FLIPS} more in the JSON report")
    for note in details.get("notes") or []:
        lines.append(f"\n_{inline(note, 300)}_")
    return "\n".join(lines) + "\n"


def _flips(details: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    out = []
    suites = details.get("suites") or {}
    for c in details.get("comparisons") or []:
        if c["metric"] != "pass_rate" or not c.get("pass_to_fail"):
            continue
        by_id = {case["id"]: case for case in (suites.get(c["suite"]) or {}).get("cases", [])}
        out += [(c["suite"], by_id[i]) for i in c["pass_to_fail"] if i in by_id]
    return out
