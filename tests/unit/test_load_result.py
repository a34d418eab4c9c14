"""The verdict from statistics (thresholds, baseline, inconclusive runs) and its markdown, untrusted text inert."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prodgate_checks.load.baseline import Baseline
from prodgate_checks.load.config import (
    ChatConfig,
    LoadConfig,
    ScenarioKind,
    TargetConfig,
)
from prodgate_checks.load.render import markdown_details
from prodgate_checks.load.result import RunFacts, evaluate
from prodgate_checks.load.stats import compute
from prodgate_checks.load.thresholds import parse

from gate.report import Severity, Status

PROCESS = {"kind": "process", "proc": 0, "cpu_s": 0.2, "wall_s": 2.0}


def cfg(thresholds: list[tuple[str, str]] = (), **kw: Any) -> LoadConfig:  # type: ignore[assignment]
    ths = tuple(parse(m, t, i) for i, (m, t) in enumerate(thresholds))
    base: dict[str, Any] = dict(
        target=TargetConfig(url="http://x"), scenario=ScenarioKind.CHAT, locustfile=None, chat=ChatConfig(),
        http=None, users=4, spawn_rate=4.0, duration_s=2.0, warmup_s=0.0, arrival_rate=None, max_lag_ms=100.0,
        timeout_s=10.0, workers=1, distributed=None, thresholds=ths,
        threshold_lines={(t.metric, t.index): 10 + n for n, t in enumerate(ths)}, baseline=Path("b.json"),
        max_p95_increase={})
    base.update(kw)
    return LoadConfig(**base)


def samples(n: int = 20, ms: float = 100.0, ttft: float = 40.0, failed: int = 0,
            err: str = "HTTP 503") -> list[dict[str, Any]]:
    out = [{"kind": "sample", "t": i * 0.05, "ms": ms + i, "ok": True, "status": 200, "ttft_ms": ttft,
            "output_tokens": 11, "tokens_from": "usage"} for i in range(n)]
    out += [{"kind": "sample", "t": 0.01 * i, "ms": 2.0, "ok": False, "status": 503,
             "cat": "transport.server_error", "err": err} for i in range(failed)]
    return out


def facts(**kw: Any) -> RunFacts:
    base: dict[str, Any] = dict(processes=[PROCESS], cpu_warning=False, traffic_source="3 request(s)",
                                url="http://127.0.0.1:1")
    base.update(kw)
    return RunFacts(**base)


def test_evaluate_thresholds_met_pass_with_headline() -> None:
    c = cfg([("latency", "p(95) < 500ms"), ("ttft", "p(95) < 100ms"), ("error_rate", "rate < 1%")])
    result = evaluate(c, compute(samples(), 0.0, 2.0), facts(), "gate.yaml")
    assert result.status is Status.PASS and result.findings == ()
    assert result.details["headline"] == {"value": "p95 118.0 ms · 10.0 rps", "change": None}
    assert result.metrics["latency_ms"]["p50"] == 109.5 and result.metrics["ttft_ms"]["p95"] == 40.0
    assert result.summary.endswith("all 3 thresholds met")


def test_evaluate_breach_fails_naming_metric_and_line() -> None:
    c = cfg([("latency", "p(95) < 500ms"), ("ttft", "p(99) < 30ms")])
    result = evaluate(c, compute(samples(), 0.0, 2.0), facts(), "gate.yaml")
    assert result.status is Status.FAIL
    (finding,) = result.findings
    assert finding.message == "ttft p99 = 40.0 ms breaches `p(99) < 30ms`"
    assert (finding.file, finding.line, finding.category) == ("gate.yaml", 11, "budget.latency")
    assert "ttft 40.0 ms vs `p(99) < 30ms`" in result.summary


def test_evaluate_errors_notices_with_categories_and_rate() -> None:
    c = cfg([("error_rate", "rate <= 10%")])
    result = evaluate(c, compute(samples(n=18, failed=2), 0.0, 2.0), facts(), "gate.yaml")
    assert result.status is Status.PASS
    assert result.metrics["failure_categories"] == {"transport.server_error": 2}
    assert result.metrics["error_rate"] == 0.1
    notice = next(f for f in result.findings if f.category == "transport.server_error")
    assert notice.severity is Severity.NOTICE and notice.message == "2 requests failed: HTTP 503"


def test_evaluate_errors_without_error_rate_threshold_warn() -> None:
    result = evaluate(cfg(), compute(samples(failed=1), 0.0, 2.0), facts(), "gate.yaml")
    assert result.status is Status.WARN
    assert any("no `error_rate` threshold" in f.message for f in result.findings)


def test_evaluate_open_loop_behind_schedule_inconclusive() -> None:
    c = cfg(arrival_rate=50.0, users=1)
    result = evaluate(c, compute(samples(), 0.0, 2.0, intended_rps=50.0), facts(), "gate.yaml")
    assert result.status is Status.ERROR
    assert result.summary.startswith("inconclusive: the generator could not keep up: 10.0 of the intended 50 rps")
    assert result.metrics["intended_rps"] == 50.0


def test_evaluate_missing_process_samples_inconclusive() -> None:
    result = evaluate(cfg(workers=2), compute(samples(), 0.0, 2.0), facts(), "gate.yaml")
    assert result.status is Status.ERROR and "1 of 2 generator processes" in result.summary


def test_evaluate_busy_generator_and_dead_target_reported() -> None:
    busy = {"kind": "process", "proc": 0, "cpu_s": 1.9, "wall_s": 2.0}
    result = evaluate(cfg(), compute(samples(), 0.0, 2.0),
                      facts(processes=[busy], target_exit=1, target_log=["Traceback: boom"]), "gate.yaml")
    assert result.status is Status.FAIL
    messages = [f.message for f in result.findings]
    assert any("CPU-bound (process 0: 95%)" in m for m in messages)
    assert "the service exited with code 1 during the load run" in messages
    assert result.details["target"]["log_tail"] == ["Traceback: boom"]


def test_evaluate_baseline_increase_beyond_limit_fails() -> None:
    base = Baseline({"version": 1, "metrics": {"latency_ms": {"p50": 50.0, "p90": 60.0, "p95": 80.0, "p99": 90.0},
                                               "throughput_rps": 12.0}}, "main@abc1234")
    c = cfg(max_p95_increase={"latency": 0.25}, lines={"max_p95_increase.latency": 9})
    result = evaluate(c, compute(samples(), 0.0, 2.0), facts(baseline=base, baseline_note="baseline from main"),
                      "gate.yaml")
    assert result.status is Status.FAIL
    assert result.findings[0].message == ("latency p95 rose +48% against the baseline (80.0 ms -> 118.0 ms), "
                                          "more than max_p95_increase 25%")
    assert (result.findings[0].file, result.findings[0].line) == ("gate.yaml", 9)
    assert result.details["headline"]["change"] == "+47.5% p95"
    assert result.details["baseline"]["percentiles"] == [50.0, 60.0, 80.0, 90.0]


def test_markdown_details_table_chart_and_escaped_errors() -> None:
    c = cfg([("latency", "p(95) < 50ms"), ("error_rate", "rate < 50%")])
    hostile = "@admin <img src=x onerror=alert(1)> | [link](http://evil)"
    result = evaluate(c, compute(samples(n=10, failed=1, err=hostile), 0.0, 2.0), facts(), "gate.yaml")
    md = markdown_details(result)
    assert "| latency | 104.5 ms | 108.1 ms | 108.5 ms | 108.9 ms | 104.5 ms | 10 | `p(95) < 50ms` | ❌ 108\\.5 ms |" in md
    assert "| time to first token | 40.0 ms |" in md
    assert "```mermaid\nxychart-beta\n" in md and '    x-axis ["p50", "p90", "p95", "p99"]' in md
    assert "    bar [104.5, 108.1, 108.5, 108.9]" in md
    assert "- ✅ error_rate `rate < 50%`: 9\\.09%" in md
    assert "| `transport.server_error` | 503 |" in md
    assert "<img" not in md and "@admin" not in md and "](http" not in md
    assert "&lt;img src=x onerror=alert\\(1\\)&gt; \\| \\[link\\]" in md


def test_evaluate_no_request_completed_fails_without_error_rate_threshold() -> None:
    result = evaluate(cfg(), compute(samples(n=0, failed=12), 0.0, 2.0), facts(), "gate.yaml")
    assert result.status is Status.FAIL
    errors = [f for f in result.findings if f.severity is Severity.ERROR]
    assert [(f.message, f.category) for f in errors] == [("none of the 12 requests completed",
                                                          "transport.server_error")]
    assert result.metrics["completed"] == 0 and result.metrics["error_rate"] == 1.0


BASE = Baseline({"version": 1, "run": {"scenario": "openai-chat", "users": 4, "duration_s": 2.0, "warmup_s": 0.0,
                                       "arrival_rate": None},
                 "metrics": {"latency_ms": {"p50": 50.0, "p90": 60.0, "p95": 80.0, "p99": 90.0}}}, "main")


def test_evaluate_limit_without_figure_to_compare_warns_at_its_line() -> None:
    c = cfg([("latency", "p(95) < 1s")], max_p95_increase={"latency": 0.5, "ttft": 0.25},
            lines={"max_p95_increase.latency": 8, "max_p95_increase.ttft": 9})
    result = evaluate(c, compute(samples(), 0.0, 2.0), facts(baseline=BASE), "gate.yaml")
    assert result.status is Status.WARN
    assert [(f.message, f.line) for f in result.findings] == [
        ("max_p95_increase ttft 25% not judged: the baseline has no ttft p95", 9)]
    with_ttft = Baseline({**BASE.data, "metrics": {**BASE.data["metrics"], "ttft_ms": {"p95": 30.0}}}, "main")
    unstreamed = [{k: v for k, v in s.items() if k != "ttft_ms"} for s in samples()]
    result = evaluate(c, compute(unstreamed, 0.0, 2.0), facts(baseline=with_ttft), "gate.yaml")
    assert [f.message for f in result.findings] == ["max_p95_increase ttft 25% not judged: this run measured no ttft"]


def test_evaluate_baseline_of_another_shape_not_compared() -> None:
    lines = {"": 3, "users": 5, "max_p95_increase.latency": 9}
    slower = compute(samples(ms=500.0), 0.0, 2.0)
    limited = evaluate(cfg(users=8, max_p95_increase={"latency": 0.25}, lines=lines), slower,
                       facts(baseline=BASE, baseline_note="baseline from main"), "gate.yaml")
    assert limited.status is Status.WARN
    (finding,) = limited.findings
    assert finding.message.startswith("max_p95_increase not judged: the baseline was measured under another load "
                                      "shape (users 4 -> 8)") and finding.line == 5
    assert limited.details["baseline"] == {"note": "baseline from main; not compared: it was measured under another "
                                                   "load shape (users 4 -> 8)", "changes": []}
    # Without a limit the comparison only informs: a note, and the thresholds' verdict.
    informed = evaluate(cfg([("latency", "p(95) < 1s")], duration_s=3.0), slower, facts(baseline=BASE), "gate.yaml")
    assert informed.status is Status.PASS and informed.details["baseline"]["changes"] == []
    assert "(duration 2 s -> 3 s)" in informed.details["baseline"]["note"]


def test_evaluate_nothing_to_judge_warns_at_the_section() -> None:
    result = evaluate(cfg(lines={"": 3}), compute(samples(), 0.0, 2.0), facts(baseline=BASE), "gate.yaml")
    assert result.status is Status.WARN
    (finding,) = result.findings
    assert finding.message.startswith("load: nothing was judged: no `thresholds` and no `max_p95_increase`")
    assert (finding.file, finding.line) == ("gate.yaml", 3)
    assert result.details["baseline"]["changes"]  # the comparison is still shown
