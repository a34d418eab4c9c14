"""The resilience check's part of the PR comment: a row per scenario, its expectations, and the models' shares."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.render.escape import code_span, inline
from gate.report import CheckResult, Severity

_ICON = {True: "✅", False: "❌"}


def markdown_details(result: CheckResult) -> str:
    scenarios = result.details.get("scenarios") or []
    if not scenarios:
        return ""
    parts = [_table(scenarios), _expectations(scenarios)]
    chart = share_chart(scenarios)
    if chart:
        parts.append(chart)
    errors = _errors(scenarios)
    if errors:
        parts.append(errors)
    problems = [f for f in result.findings if f.severity is not Severity.NOTICE and not f.message.startswith("scenario '")]
    if problems:
        parts.append("\n".join(f"- **{f.severity.value}**: {inline(f.message, 400)}" for f in problems[:20]))
    return "\n\n".join(p for p in parts if p)


def _ms(value: Any) -> str:
    return "–" if not isinstance(value, (int, float)) else f"{value:.0f} ms"


def _table(scenarios: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| scenario | faults | requests | success | p95 | upstream calls / request | models served | verdict |",
             "|---|---|---:|---:|---:|---:|---|---|"]
    for s in scenarios:
        faults = ", ".join(_fault(f) for f in s.get("faults") or []) or "none"
        cpr = s.get("calls_per_request") or {}
        calls = f"{cpr.get('mean', 0):.2f}" + (f" (max {cpr['max']})" if cpr.get("max") is not None else "")
        share = ", ".join(f"{code_span(str(m), 40, in_table=True)} {100 * float(v):.0f}%"
                          for m, v in (s.get("model_share") or {}).items()) or "–"
        lines.append(f"| {inline(str(s['name']), 60)} | {faults} | {s['requests']} | "
                     f"{100 * float(s['success_rate']):.1f}% | {_ms((s.get('latency_ms') or {}).get('p95'))} | "
                     f"{calls} | {share} | {'cut short' if s.get('cut') else _ICON[bool(s['passed'])]} |")
    return "\n".join(lines)


def _fault(f: Mapping[str, Any]) -> str:
    text = str(f.get("type"))
    if f.get("model"):
        text += f" of {f['model']}"
    if f.get("upstream"):
        text += f" on {f['upstream']}"
    share = f.get("share")
    if isinstance(share, (int, float)) and share < 1:
        text += f" ({100 * share:.0f}%)"
    return inline(text, 80)


def _expectations(scenarios: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for s in scenarios:
        for e in s.get("expectations") or []:
            lines.append(f"- {_ICON[bool(e['passed'])]} {inline(str(s['name']), 60)}: {e['name']} "
                         f"{code_span(str(e['expected']), 80)}: {inline(str(e['observed']), 200)}")
    return "\n".join(lines)


def share_chart(scenarios: Sequence[Mapping[str, Any]]) -> str:
    """A mermaid bar chart of the share of answers each model served, a bar per scenario and model."""
    models = sorted({str(m) for s in scenarios for m in (s.get("model_share") or {})})
    if not models:
        return ""
    labels, values = [], []
    for s in scenarios:
        share = s.get("model_share") or {}
        for model in models:
            labels.append(f'"{_label(str(s["name"]))} {_label(model)}"')
            values.append(f"{100 * float(share.get(model, 0)):.0f}")
    return "\n".join(["```mermaid", "xychart-beta", '    title "Answers served by each model (%), per scenario"',
                      f"    x-axis [{', '.join(labels)}]", '    y-axis "%" 0 --> 100',
                      f"    bar [{', '.join(values)}]", "```"])


def _label(text: str) -> str:
    # Scenario names are limited by the schema; keep the chart's syntax safe whatever they hold.
    return "".join(c for c in text if c.isalnum() or c in "-_.")[:30]


def _errors(scenarios: Sequence[Mapping[str, Any]]) -> str:
    rows = [(s["name"], e) for s in scenarios for e in s.get("errors") or []]
    if not rows:
        return ""
    lines = ["| scenario | category | error | count |", "|---|---|---|---:|"]
    for name, e in rows[:30]:
        lines.append(f"| {inline(str(name), 60)} | {code_span(str(e['category']), 60, in_table=True)} | "
                     f"{inline(str(e['message']), 160)} | {e['count']} |")
    return "\n".join(lines)
