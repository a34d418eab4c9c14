"""The load check's part of the PR comment: percentile table, thresholds, errors, and a mermaid chart."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.render.escape import code_block, code_span, inline
from gate.render.markdown_base import in_comment
from gate.render.words import counted
from gate.report import CheckResult, Severity

from .thresholds import format_value

_ROWS = (("latency", "latency_ms", "latency"), ("ttft", "ttft_ms", "time to first token"),
         ("tpot", "tpot_ms", "time per output token"), ("output_tokens_per_s", "output_tokens_per_s",
                                                         "output tokens/s per request"),
         ("lag", "lag_ms", "send lag (open loop)"))
_STATS = ("p50", "p90", "p95", "p99", "mean")
_ICON = {True: "✅", False: "❌"}
MAX_LOG_LINES = 20


def markdown_details(result: CheckResult) -> str:
    metrics, details = result.metrics, result.details
    if "run" not in details:  # the service never became ready: nothing was measured
        return _log(details.get("target") or {})
    parts = [_run_line(metrics, details.get("run") or {})]
    parts.append(_table(metrics, details.get("thresholds") or []))
    other = [t for t in details.get("thresholds") or [] if t["metric"] in ("error_rate", "throughput", "completed")]
    if other:
        parts.append("\n".join(f"- {_ICON[bool(t['passed'])]} {t['metric']} {code_span(t['threshold'], 80)}: "
                               f"{inline(t['observed_text'], 40)}" for t in other))
    chart = _chart(metrics, details.get("baseline") or {})
    if chart:
        parts.append(chart)
    if details.get("errors"):
        parts.append(_errors(details["errors"]))
    changes = (details.get("baseline") or {}).get("changes") or []
    note = (details.get("baseline") or {}).get("note")
    if changes:
        parts.append(_changes(changes, note))
    elif note:
        parts.append(f"<sub>{inline(note, 300)}</sub>")
    problems = [f for f in result.findings if f.severity is not Severity.NOTICE]
    if problems:
        parts.append("\n".join(f"- **{f.severity.value}**: {inline(f.message, 400)}" for f in problems[:20]))
    parts.append(_log(details.get("target") or {}))
    return "\n\n".join(p for p in parts if p)


def _log(target: Mapping[str, Any]) -> str:
    """The end of the service's log; in the pull request comment only when gate.yaml asks for it, since a
    service may log what the runner masks in the job summary and the log, but no one masks in a comment."""
    tail = target.get("log_tail")
    if not tail:
        return ""
    if in_comment() and not target.get("log_in_comment"):
        return ("_The end of the service's log is in the job summary and the gate's log; "
                "`load.target.log_in_comment: true` shows it here._")
    return "The service's log ends with:\n\n" + code_block("\n".join(tail[-MAX_LOG_LINES:]), 4000)


def _run_line(metrics: Mapping[str, Any], run: Mapping[str, Any]) -> str:
    rps = metrics.get("throughput_rps")
    text = (f"{metrics.get('requests', 0)} requests in {run.get('duration_s', 0):g} s "
            f"(after {run.get('warmup_s', 0):g} s warm-up), {run.get('users', '?')} users, "
            f"{run.get('processes', 1)} generator process(es); {rps if rps is not None else 0:.2f} rps completed, "
            f"error rate {100 * (metrics.get('error_rate') or 0):.2f}%.")
    if run.get("mode") == "open":
        text += (f" Open loop: intended {metrics.get('intended_rps', 0):g} rps, achieved "
                 f"{metrics.get('achieved_rps') or 0:.2f} rps, {counted(int(metrics.get('late_requests', 0)), 'request')} sent late.")
    if run.get("traffic"):
        text += f" Traffic: {inline(str(run['traffic']), 200)}."
    return text


def _cell(metric: str, value: Any) -> str:
    if not isinstance(value, (int, float)):
        return "–"
    return f"{value:.2f}" if metric == "output_tokens_per_s" else format_value(metric, float(value))


def _table(metrics: Mapping[str, Any], thresholds: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| metric | p50 | p90 | p95 | p99 | mean | count | threshold | result |",
             "|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for metric, key, label in _ROWS:
        trend = metrics.get(key)
        own = [t for t in thresholds if t["metric"] == metric]
        if not isinstance(trend, Mapping) or (not trend.get("count") and not own):
            continue
        cells = " | ".join(_cell(metric, trend.get(s)) for s in _STATS)
        limit = "<br>".join(code_span(t["threshold"], 60, in_table=True) for t in own) or "–"
        verdict = "<br>".join(_ICON[bool(t["passed"])] + " " + inline(t["observed_text"], 40) for t in own) or "–"
        lines.append(f"| {label} | {cells} | {trend.get('count', 0)} | {limit} | {verdict} |")
    return "\n".join(lines)


def chart(values: Sequence[float], baseline: Sequence[float] | None, title: str) -> str:
    top = max([*values, *(baseline or [])] or [1.0]) * 1.15
    body = [
        "```mermaid", "xychart-beta", f'    title "{title}"', '    x-axis ["p50", "p90", "p95", "p99"]',
        f'    y-axis "ms" 0 --> {top:.0f}', f"    bar [{', '.join(f'{v:.1f}' for v in values)}]",
    ]
    if baseline:
        body.append(f"    line [{', '.join(f'{v:.1f}' for v in baseline)}]")
    return "\n".join([*body, "```"])


def _chart(metrics: Mapping[str, Any], baseline: Mapping[str, Any]) -> str:
    trend = metrics.get("latency_ms")
    if not isinstance(trend, Mapping) or not trend.get("count"):
        return ""
    values = [float(trend[f"p{p}"]) for p in (50, 90, 95, 99)]
    base = baseline.get("percentiles") if isinstance(baseline.get("percentiles"), list) else None
    title = "Latency percentiles (ms): bars this run" + (", line the baseline" if base else "")
    return chart(values, base, title)


def _errors(errors: Sequence[Mapping[str, Any]]) -> str:
    lines = ["| category | status | error | count |", "|---|---:|---|---:|"]
    for e in errors:
        status = str(e.get("status") or "–")
        lines.append(f"| {code_span(str(e['category']), 60, in_table=True)} | {status} | {inline(str(e['message']), 200)} | "
                     f"{e['count']} |")
    return "\n".join(lines)


def _changes(changes: Sequence[Mapping[str, Any]], note: str | None) -> str:
    lines = ["| against the baseline | base | this run | change |", "|---|---:|---:|---:|"]
    for c in changes:
        metric = str(c["metric"])
        change = "–" if c.get("change") is None else f"{100 * c['change']:+.1f}%"
        lines.append(f"| {metric} {c['stat']} | {_fmt(metric, float(c['base']))} | {_fmt(metric, float(c['head']))} "
                     f"| {change} |")
    if note:
        lines.append(f"\n<sub>{inline(note, 300)}</sub>")
    return "\n".join(lines)


def _fmt(metric: str, value: float) -> str:
    if metric in ("latency", "ttft", "tpot"):
        return format_value(metric, value)
    return f"{100 * value:.2f}%" if metric == "error_rate" else f"{value:.2f}"
