"""What a scenario showed: the service's answers and the proxy's calls, summed up and held to its expectations."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..load.thresholds import Threshold, format_value
from .config import ResilienceConfig, Scenario
from .faults import MODE_OF, Kind

if TYPE_CHECKING:
    from .proxy import Call
    from .traffic import Answer


@dataclass(frozen=True)
class Judged:
    name: str  # the expectation's key in gate.yaml
    expected: str
    observed: str
    passed: bool
    line: int


def percentile(values: Sequence[float], p: float) -> float:
    """The nearest rank: the least of the values that at least p% of them do not exceed. A scenario has a few dozen
    answers, and `p(95) < 3s` then means what it says, at least 95% of them under 3 s; interpolating between ranks
    (k6, numpy) passes 10 answers with one at 4 s, weighing how slow the slow one was rather than how many were."""
    xs = sorted(values)
    return xs[max(0, math.ceil(len(xs) * p / 100 - 1e-9) - 1)]


def aggregate(values: Sequence[float], threshold: Threshold) -> float:
    pct = threshold.percentile
    if pct is not None:
        return percentile(values, pct)
    return {"avg": sum(values) / len(values), "min": min(values), "max": max(values),
            "med": percentile(values, 50)}[threshold.aggregate]


def failed(call: Call) -> bool:
    """A call that did not give the service a usable answer. A fault decides only through what it did to the
    answer: a `slow` answer or a `truncate` cut past its end still reached the service whole; a `malformed` one is
    whole but unusable; the others never complete."""
    if call.fault == Kind.MALFORMED.value:
        return True
    return call.status is None or call.status >= 400 or not call.completed


def summarise(cfg: ResilienceConfig, scenario: Scenario, answers: Sequence[Answer], calls: Sequence[Call]) -> dict[str, Any]:
    def name(model: str | None) -> str:
        return cfg.model_names.get(model or "", model or "(no model)")

    ids = {a.request_id for a in answers}
    correlated = bool(calls) and all(c.request_id in ids for c in calls)
    by_request: dict[str, list[Call]] = {}
    for c in calls:
        by_request.setdefault(c.request_id or "", []).append(c)
    ok = [a for a in answers if a.ok]
    served: Counter[str] = Counter()
    went: Counter[str] = Counter()
    after_failure = 0
    answered_locally = 0
    retried = 0
    # The models the scenario broke: those whose calls a fault made fail (else those whose calls failed at all).
    faulted = sorted({name(c.model) for c in calls if c.fault is not None and failed(c)}
                     or {name(c.model) for c in calls if failed(c)})

    def broke(c: Call) -> bool:
        # A failure of the model the scenario expects the service to fall back to is no reason to fall back to it.
        return failed(c) and name(c.model) in faulted and name(c.model) != scenario.expect.fallback

    per_request: list[int] = []
    if correlated:
        for a in answers:
            own = sorted(by_request.get(a.request_id, []), key=lambda c: c.t_s)
            per_request.append(len(own))
            good = [c for c in own if not failed(c)]
            if a.ok and good:
                served[name(good[-1].model)] += 1
            first_bad = next((k for k, c in enumerate(own) if broke(c)), None)
            if first_bad is None:
                continue
            later = {name(c.model) for c in own[first_bad + 1:]}
            if a.ok and not later:
                # Answered after the failure with no further call upstream: by the service itself (its
                # cache), or by the very call the proxy saw end early. It fell back to no model, right or wrong.
                answered_locally += 1
            elif a.ok and later == {name(own[first_bad].model)}:
                # A retry of the model that failed answered: the request never needed its fallback (a provider
                # failing some calls, a rate limit waited out). Neither for nor against the fallback.
                retried += 1
            else:
                after_failure += 1
                went.update(later - {name(own[first_bad].model)})
    else:
        t_fail = min((c.t_s for c in calls if broke(c)), default=None)
        served.update(name(c.model) for c in calls if not failed(c))
        if t_fail is not None:
            after_failure = sum(broke(c) for c in calls)
            went.update({name(c.model) for c in calls if c.t_s > t_fail and not failed(c)} - set(faulted))
    latencies = [a.latency_ms for a in ok]
    ttfts = [a.ttft_ms for a in ok if a.ttft_ms is not None]
    errors = Counter((a.category or "unknown", a.message or "") for a in answers if not a.ok)
    total_served = sum(served.values())
    out: dict[str, Any] = {
        "name": scenario.name, "line": scenario.line,
        "faults": [{k: v for k, v in (("type", f.kind.value), ("model", f.model_name), ("upstream", f.upstream),
                                      ("share", f.share)) if v is not None} for f in scenario.faults],
        "requests": len(answers), "succeeded": len(ok),
        "success_rate": round(len(ok) / len(answers), 4) if answers else 0.0,
        "latency_ms": _trend(latencies), "ttft_ms": _trend(ttfts),
        "errors": [{"category": cat, "message": msg, "count": n} for (cat, msg), n in errors.most_common(10)],
        "failure_categories": dict(sorted(Counter(a.category or "unknown" for a in answers if not a.ok).items())),
        "upstream_calls": len(calls), "faults_injected": sum(c.fault is not None for c in calls),
        "correlated": correlated,
        "calls_per_request": {"mean": round(len(calls) / len(answers), 3) if answers else 0.0,
                              "max": max(per_request) if per_request else None},
        "model_share": {m: round(n / total_served, 4) for m, n in sorted(served.items())} if total_served else {},
        "time_to_error_ms": max((a.latency_ms for a in answers if not a.ok), default=None),
        "observation": {"scenario": scenario.name, "line": scenario.line,
                        "modes": sorted({MODE_OF[f.kind] for f in scenario.faults}),
                        "faulted": faulted, "requests_after_failure": after_failure,
                        "answered_without_upstream_after_failure": answered_locally,
                        "answered_by_retry_after_failure": retried,
                        "called_after_failure": sorted(went), "went_to": dict(sorted(went.items())),
                        "called": sorted({name(c.model) for c in calls})},
    }
    return out


def _trend(values: Sequence[float]) -> dict[str, float | int | None]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    return {"count": len(values), "p50": round(percentile(values, 50), 2), "p95": round(percentile(values, 95), 2),
            "max": round(max(values), 2)}


def judge(scenario: Scenario, summary: Mapping[str, Any], answers: Sequence[Answer],
          calls: Sequence[Call], cfg: ResilienceConfig) -> list[Judged]:
    e, lines = scenario.expect, scenario.expect.lines
    out: list[Judged] = []
    if e.success_rate is not None:
        rate = summary["success_rate"]
        out.append(Judged("success_rate", e.success_rate.text, f"{100 * rate:.1f}%", e.success_rate.holds(rate),
                          lines.get("success_rate", scenario.line)))
    for metric, thresholds in (("latency", e.latency), ("ttft", e.ttft)):
        values = [a.latency_ms if metric == "latency" else a.ttft_ms for a in answers if a.ok]
        present = [float(v) for v in values if v is not None]
        for t in thresholds:
            if not present:
                out.append(Judged(metric, t.text, "no answer to measure", False, lines.get(metric, scenario.line)))
                continue
            value = aggregate(present, t)
            out.append(Judged(metric, t.text, f"{t.aggregate} {format_value(metric, value)}", t.holds(value),
                              lines.get(metric, scenario.line)))
    if e.fallback is not None:
        out.append(_fallback(e.fallback, summary, calls, cfg, lines.get("fallback", scenario.line)))
    if e.max_upstream_calls_per_request is not None:
        cpr = summary["calls_per_request"]
        worst = cpr["max"] if summary["correlated"] else cpr["mean"]
        how = "at most" if summary["correlated"] else "on average (the service does not pass the request id on)"
        out.append(Judged("max_upstream_calls_per_request", f"<= {e.max_upstream_calls_per_request}",
                          f"{worst:g} {how}", worst <= e.max_upstream_calls_per_request,
                          lines.get("max_upstream_calls_per_request", scenario.line)))
    if e.time_to_error is not None:
        tte = summary["time_to_error_ms"]
        if tte is None:
            out.append(Judged("time_to_error", e.time_to_error.text, "no request failed", True,
                              lines.get("time_to_error", scenario.line)))
        else:
            times = [a.latency_ms for a in answers if not a.ok]
            hung = sum(a.status is None and a.category == "transport.timeout" for a in answers)
            value = aggregate(times, e.time_to_error)
            text = f"{e.time_to_error.aggregate} {format_value('latency', value)}"
            if hung:
                text += f"; {hung} never answered"
            out.append(Judged("time_to_error", e.time_to_error.text, text, e.time_to_error.holds(value) and not hung,
                              lines.get("time_to_error", scenario.line)))
    return out


def _fallback(model: str, summary: Mapping[str, Any], calls: Sequence[Call], cfg: ResilienceConfig,
              line: int) -> Judged:
    obs = summary["observation"]
    others = [m for m in obs["faulted"] if m != model]
    if not others:
        return Judged("fallback", model, "no call to another model failed: nothing to fall back from", False, line)
    went: Mapping[str, int] = obs["went_to"]
    n = obs["requests_after_failure"]
    if model not in went:
        seen = ", ".join(went) if went else "no other model"
        return Judged("fallback", model, f"after {', '.join(others)} failed, the service called {seen}", False, line)
    if summary["correlated"]:
        text = f"after {', '.join(others)} failed, {went[model]} of {n} requests went on to {model}"
        more = [f"{n} more answered by {how}" for n, how in (
            (obs.get("answered_by_retry_after_failure") or 0, "a retry of the model that failed"),
            (obs.get("answered_without_upstream_after_failure") or 0,
             "the service without another call upstream, e.g. from its cache")) if n]
        if more:
            text += f" ({'; '.join(more)})"
        return Judged("fallback", model, text, went[model] >= n, line)
    return Judged("fallback", model, f"after {', '.join(others)} failed, the service called {', '.join(went)} "
                  "(not per request: the service does not pass the request id on)", True, line)
