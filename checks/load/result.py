"""Turns a load run's statistics into the check's verdict: thresholds, baseline, generator health."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity, Status, status_from_findings

from .baseline import Baseline, Change, compare, shape_changes
from .config import LoadConfig
from .stats import LoadStats
from .thresholds import format_value

# Open loop: below this share of the intended rate, the run says nothing about the service.
MIN_ACHIEVED_SHARE = 0.9
# One generator process above this CPU share delays its own requests (measured drift starts near 50-60%).
BUSY_CPU_SHARE = 0.85


@dataclass(frozen=True)
class RunFacts:
    """What happened around the statistics: the processes, the target, the traffic."""

    processes: Sequence[Mapping[str, Any]]
    cpu_warning: bool
    traffic_source: str
    url: str
    target_exit: int | None = None
    target_log: Sequence[str] = ()
    baseline: Baseline | None = None
    baseline_note: str = ""
    findings: Sequence[Finding] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)
    log_in_comment: bool = False


def metrics_of(stats: LoadStats) -> dict[str, Any]:
    out: dict[str, Any] = {
        "requests": stats.sent, "completed": stats.ok, "failed": stats.failed,
        "error_rate": _round(stats.error_rate, 5), "throughput_rps": _round(stats.throughput_rps, 3),
        "achieved_rps": _round(stats.achieved_rps, 3), "output_tokens_per_s_total": _round(stats.tokens_per_s, 2),
        "latency_ms": stats.latency.summary(), "failure_categories": dict(stats.failure_categories),
    }
    if stats.intended_rps is not None:
        out["intended_rps"] = stats.intended_rps
        out["late_requests"] = stats.late
        out["lag_ms"] = stats.lag.summary()
    for name, trend in (("ttft_ms", stats.ttft), ("tpot_ms", stats.tpot), ("output_tokens_per_s", stats.output_tokens_per_s)):
        if trend.count:
            out[name] = trend.summary(2 if name == "output_tokens_per_s" else 1)
    return out


def _round(x: float, digits: int) -> float | None:
    return None if math.isnan(x) else round(x, digits)


def evaluate(cfg: LoadConfig, stats: LoadStats, facts: RunFacts, config_display: str) -> CheckResult:
    findings: list[Finding] = list(facts.findings)
    rows = []
    for th in cfg.thresholds:
        observed = stats.observe(th.metric, th.aggregate)
        line = cfg.threshold_lines.get((th.metric, th.index))
        passed = not math.isnan(observed) and th.holds(observed)
        shown = "nothing measured" if math.isnan(observed) else format_value(th.metric, observed)
        rows.append({"metric": th.metric, "threshold": th.text, "observed": _round(observed, 4),
                     "observed_text": shown, "passed": passed, "line": line})
        if not passed:
            message = (f"{th.metric} {th.aggregate} = {shown} breaches `{th.text}`" if not math.isnan(observed)
                       else f"{th.metric}: nothing was measured to check `{th.text}` against")
            findings.append(Finding(Severity.ERROR, message, config_display, line, category=_budget(th.metric)))
    metrics = metrics_of(stats)
    run = _run(cfg, stats, facts)
    changes, about_baseline, note = _against_baseline(cfg, facts, run, metrics, config_display)
    findings += about_baseline
    if not cfg.thresholds and not cfg.max_p95_increase:
        findings.append(Finding(Severity.WARNING, "load: nothing was judged: no `thresholds` and no `max_p95_increase` "
                                                  "are set, so no figure of this run could fail it; add the service's "
                                                  "SLOs under `thresholds`", config_display, cfg.lines.get("")))
    findings += _generator_findings(facts)
    if facts.target_exit is not None:
        findings.append(Finding(Severity.ERROR, f"the service exited with code {facts.target_exit} during the load "
                                                "run", config_display, category="transport.connection"))
    # Failed requests are a measurement (the error-rate SLO judges them): notices, with their category.
    findings += [Finding(Severity.NOTICE, f"{counted(kind.count, 'request')} failed: {kind.message}", category=kind.category)
                 for kind in stats.errors]
    if stats.sent and not stats.ok:  # whatever the thresholds say, a service that answered nothing is not fine
        findings.append(Finding(Severity.ERROR, f"none of the {counted(stats.sent, 'request')} completed", config_display,
                                category=stats.errors[0].category if stats.errors else None))
    elif stats.failed and not any(t.metric == "error_rate" for t in cfg.thresholds):
        findings.append(Finding(Severity.WARNING, f"{stats.failed} of {counted(stats.sent, 'request')} failed and no "
                                                  "`error_rate` threshold judges it", config_display))
    inconclusive = _inconclusive(cfg, stats, facts)
    status = Status.ERROR if inconclusive else status_from_findings(findings)
    details: dict[str, Any] = {
        "headline": _headline(stats, changes),
        "thresholds": rows,
        "errors": [{"category": e.category, "status": e.status, "message": e.message, "count": e.count}
                   for e in stats.errors],
        "run": run,
        "generator": {"processes": [dict(p) for p in facts.processes], "cpu_warning": facts.cpu_warning},
        "target": {"url": facts.url, "log_in_comment": facts.log_in_comment},
        "baseline": {"note": note, "changes": [c.to_dict() for c in changes]},
    }
    base_latency = facts.baseline.trend("latency") if facts.baseline is not None and changes else {}
    if all(isinstance(base_latency.get(f"p{p}"), (int, float)) for p in (50, 90, 95, 99)):
        details["baseline"]["percentiles"] = [base_latency[f"p{p}"] for p in (50, 90, 95, 99)]
    if inconclusive:
        details["inconclusive"] = inconclusive
    if status in (Status.FAIL, Status.ERROR) and facts.target_log:
        details["target"]["log_tail"] = list(facts.target_log)
    summary = _summary(stats, rows, inconclusive, status)
    return CheckResult("load", status, summary, metrics=metrics, findings=tuple(findings), details=details)


def _budget(metric: str) -> str:
    return {"latency": "budget.latency", "ttft": "budget.latency", "tpot": "budget.latency", "lag": "budget.latency",
            "output_tokens_per_s": "budget.tokens"}.get(metric, "budget.latency")


def _against_baseline(cfg: LoadConfig, facts: RunFacts, run: Mapping[str, Any], metrics: Mapping[str, Any],
                      display: str) -> tuple[list[Change], list[Finding], str]:
    """The changes against the baseline, the findings they make, and the note on what was compared. A baseline
    measured under another load shape is not compared at all: a p95 under another load says nothing about this change,
    whichever way it moved."""
    if facts.baseline is None:
        return [], [], facts.baseline_note
    shape = shape_changes(run, facts.baseline)
    if not shape:
        changes = compare(metrics, facts.baseline)
        return changes, _increase_findings(cfg, changes, facts.baseline, display), facts.baseline_note
    differs = ", ".join(map(str, shape))
    note = f"{facts.baseline_note}; not compared: it was measured under another load shape ({differs})"
    if not cfg.max_p95_increase:  # the comparison only informs: nothing is left unjudged
        return [], [], note
    return [], [Finding(Severity.WARNING, f"max_p95_increase not judged: the baseline was measured under another load "
                                          f"shape ({differs}); `gate baseline update` on the base branch records this "
                                          "one", display, cfg.lines.get(shape[0].setting, cfg.lines.get("")))], note


def _increase_findings(cfg: LoadConfig, changes: list[Change], base: Baseline, display: str) -> list[Finding]:
    out = []
    p95 = {c.metric: c for c in changes if c.stat == "p95"}
    for metric, limit in cfg.max_p95_increase.items():
        line = cfg.lines.get(f"max_p95_increase.{metric}")
        change = p95.get(metric)
        if change is None:
            why = (f"this run measured no {metric}" if isinstance(base.trend(metric).get("p95"), (int, float))
                   else f"the baseline has no {metric} p95")
            out.append(Finding(Severity.WARNING, f"max_p95_increase {metric} {limit:.0%} not judged: {why}", display,
                               line))
        elif change.relative > limit:
            out.append(Finding(Severity.ERROR, f"{metric} p95 rose {change.relative:+.0%} against the baseline "
                                               f"({format_value(metric, change.base)} -> "
                                               f"{format_value(metric, change.head)}), more than "
                                               f"max_p95_increase {limit:.0%}", display, line,
                               category="budget.latency"))
    return out


def _generator_findings(facts: RunFacts) -> list[Finding]:
    busy = [p for p in facts.processes if p.get("wall_s") and p.get("cpu_s", 0) / p["wall_s"] >= BUSY_CPU_SHARE]
    if not (busy or facts.cpu_warning):
        return []
    shares = ", ".join(f"process {p.get('proc')}: {p['cpu_s'] / p['wall_s']:.0%}" for p in busy)
    return [Finding(Severity.WARNING, "the load generator was CPU-bound" + (f" ({shares})" if shares else "")
                    + ": latencies include its own delay; add `workers` or run on a larger machine")]


def _inconclusive(cfg: LoadConfig, stats: LoadStats, facts: RunFacts) -> str | None:
    if stats.sent == 0:
        return "no request went out in the measured window"
    if len(facts.processes) < cfg.processes:
        return f"samples of only {len(facts.processes)} of {cfg.processes} generator processes arrived"
    if stats.intended_rps is None:
        return None
    share = stats.achieved_rps / stats.intended_rps
    lag95 = stats.lag.percentile(95) if stats.lag.count else 0.0
    if share < MIN_ACHIEVED_SHARE or lag95 > cfg.max_lag_ms:
        return (f"the generator could not keep up: {stats.achieved_rps:.1f} of the intended "
                f"{stats.intended_rps:g} rps went out, {counted(stats.late, 'request')} more than {cfg.max_lag_ms:g} ms late "
                f"(p95 lag {lag95:.0f} ms); raise `users` (all {cfg.users} busy?) or `workers`")
    return None


def _headline(stats: LoadStats, changes: list[Change]) -> dict[str, Any]:
    p95 = stats.latency.percentile(95) if stats.latency.count else math.nan
    value = (f"p95 {format_value('latency', p95)}" if not math.isnan(p95) else "no answer") + \
        f" · {stats.throughput_rps:.1f} rps"
    latency = next((c for c in changes if c.metric == "latency"), None)
    change = None
    if latency is not None and not math.isinf(latency.relative):
        change = f"{latency.relative * 100:+.1f}% p95"
    return {"value": value, "change": change}


def _run(cfg: LoadConfig, stats: LoadStats, facts: RunFacts) -> dict[str, Any]:
    return {
        "scenario": cfg.scenario.value if cfg.locustfile is None else str(cfg.locustfile.name),
        "mode": "open" if cfg.arrival_rate else "closed", "users": cfg.users, "spawn_rate": cfg.spawn_rate,
        "duration_s": cfg.duration_s, "warmup_s": cfg.warmup_s, "arrival_rate": cfg.arrival_rate,
        "processes": cfg.processes, "distributed": cfg.distributed is not None, "traffic": facts.traffic_source,
        "dropped_warmup": stats.dropped_warmup, "after_window": stats.after_window,
        "tokens_from": dict(stats.tokens_from), **facts.extra,
    }


def _summary(stats: LoadStats, rows: list[dict[str, Any]], inconclusive: str | None, status: Status) -> str:
    parts = []
    if stats.latency.count:
        parts.append(f"p95 {format_value('latency', stats.latency.percentile(95))}")
    if stats.ttft.count:
        parts.append(f"TTFT p95 {format_value('ttft', stats.ttft.percentile(95))}")
    parts.append(f"{stats.throughput_rps:.1f} rps")
    if stats.sent:
        parts.append(f"{stats.error_rate:.1%} errors")
    figures = ", ".join(parts) + f" ({stats.sent} requests)"
    if inconclusive:
        return f"inconclusive: {inconclusive}; {figures}"
    failed = [r for r in rows if not r["passed"]]
    if failed:
        names = "; ".join(f"{r['metric']} {r['observed_text']} vs `{r['threshold']}`" for r in failed[:3])
        return f"{figures}: {len(failed)} of {counted(len(rows), 'threshold')} breached: {names}"
    if status is Status.FAIL:
        return f"{figures}: see findings"
    return f"{figures}: " + (f"all {counted(len(rows), 'threshold')} met" if rows else "no thresholds configured")
