"""The resilience check's judgement of a scenario from the proxy's record of calls and the service's answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from prodgate_checks.resilience.config import ResilienceConfig, parse_resilience
from prodgate_checks.resilience.outcome import judge, summarise
from prodgate_checks.resilience.proxy import Call
from prodgate_checks.resilience.traffic import Answer

from gate.config import load_config
from gate.registry import discover, plugin_sections
from gate.schemas import load_schema

MODELS = """version: 1
default: primary
models:
  primary: {provider: openai, model: gpt-primary, fallback: [backup]}
  backup: {provider: openai, model: gpt-backup}
"""
GATE = """version: 1
models: models.yaml
resilience:
  target: {url: "http://127.0.0.1:9"}
  upstreams: [{env: OPENAI_BASE_URL, to: "http://127.0.0.1:9/v1"}]
  chat: {path: /chat}
  scenarios:
    - name: s
      faults: [{type: outage, model: primary, share: 50%}]
      expect: {fallback: backup, latency: "p(95) < 3s"}
"""


@pytest.fixture
def cfg(tmp_path: Path) -> ResilienceConfig:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "gate.yaml").write_text(GATE)
    checks, _ = discover()
    return parse_resilience(load_config(tmp_path / "gate.yaml", plugin_sections(checks, load_schema("gate")["properties"])))


def calls_of(requests: dict[int, list[tuple[str, int | None, str | None, bool]]]) -> list[Call]:
    """Each request's calls in order: (model id, status, fault, completed)."""
    out = []
    for i, calls in requests.items():
        for k, (model, status, fault, completed) in enumerate(calls):
            out.append(Call(i + k / 10, "OPENAI_BASE_URL", model, status, fault, completed, 0.1, f"prodgate-s-{i}"))
    return out


def answered(n: int, failing: tuple[int, ...] = ()) -> list[Answer]:
    return [Answer(i, f"prodgate-s-{i}", i not in failing, 200 if i not in failing else 503, 100.0) for i in range(n)]


DOWN = ("gpt-primary", 503, "outage", False)
UP = ("gpt-primary", 200, None, True)
BACKUP = ("gpt-backup", 200, None, True)


def verdict(cfg: ResilienceConfig, answers: list[Answer], calls: list[Call]) -> tuple[dict[str, Any], Any]:
    [scenario] = cfg.scenarios
    summary = summarise(cfg, scenario, answers, calls)
    return summary, next(j for j in judge(scenario, summary, answers, calls, cfg) if j.name == "fallback")


def test_resilience_outcome_fallback_primary_failing_some_calls_retry_answered_passes(cfg: ResilienceConfig) -> None:
    """A service that retries a failed call once, then falls back (the example's policy), on a primary failing half
    its calls: a request whose retry of the primary answered never needed the backup."""
    calls = calls_of({0: [DOWN, UP], 1: [DOWN, DOWN, BACKUP], 2: [UP], 3: [DOWN, UP]})
    summary, fallback = verdict(cfg, answered(4), calls)
    assert fallback.passed, fallback.observed
    assert fallback.observed == ("after primary failed, 1 of 1 requests went on to backup (2 more answered by a "
                                 "retry of the model that failed)")
    assert summary["model_share"] == {"backup": 0.25, "primary": 0.75}
    assert summary["observation"]["answered_by_retry_after_failure"] == 2


def test_resilience_outcome_fallback_only_retries_of_the_failed_model_fails(cfg: ResilienceConfig) -> None:
    calls = calls_of({0: [DOWN, UP], 1: [DOWN, DOWN, UP], 2: [DOWN, DOWN]})
    _, fallback = verdict(cfg, answered(3, failing=(2,)), calls)
    assert not fallback.passed
    assert fallback.observed == "after primary failed, the service called no other model"


def test_resilience_outcome_failure_of_the_fallback_model_itself_is_no_trigger(cfg: ResilienceConfig) -> None:
    """With the primary skipped (its breaker open), a request that retried the backup after the backup failed did
    not fail to fall back from the primary."""
    calls = calls_of({0: [DOWN, BACKUP], 1: [("gpt-backup", 502, None, False), BACKUP]})
    summary, fallback = verdict(cfg, answered(2), calls)
    assert fallback.passed and fallback.observed == "after primary failed, 1 of 1 requests went on to backup"
    assert summary["observation"]["faulted"] == ["primary"]


def test_resilience_outcome_fallback_model_down_too_counts_only_after_the_primary(cfg: ResilienceConfig) -> None:
    """Both models faulted, the primary skipped (its breaker open): a request that went straight to the backup and
    failed there did not fail to fall back; success_rate is the expectation it fails."""
    backup_down = ("gpt-backup", 503, "outage", False)
    calls = calls_of({0: [DOWN, DOWN, BACKUP], 1: [backup_down, backup_down], 2: [backup_down, BACKUP]})
    summary, fallback = verdict(cfg, answered(3, failing=(1,)), calls)
    assert summary["observation"]["faulted"] == ["backup", "primary"]
    assert fallback.passed and fallback.observed == "after primary failed, 1 of 1 requests went on to backup"


def test_resilience_outcome_truncate_past_the_answers_end_is_no_failure(cfg: ResilienceConfig) -> None:
    """A truncate fault whose cut lies beyond the answer's end gave the service the whole answer."""
    calls = calls_of({0: [("gpt-primary", 200, "truncate", True)], 1: [("gpt-primary", 200, "truncate", False),
                                                                       BACKUP]})
    summary, fallback = verdict(cfg, answered(2), calls)
    assert summary["model_share"] == {"backup": 0.5, "primary": 0.5}
    assert fallback.passed and fallback.observed == "after primary failed, 1 of 1 requests went on to backup"


def test_resilience_outcome_malformed_answer_is_a_failure_though_complete(cfg: ResilienceConfig) -> None:
    calls = calls_of({0: [("gpt-primary", 200, "malformed", True), BACKUP]})
    summary, fallback = verdict(cfg, answered(1), calls)
    assert summary["model_share"] == {"backup": 1.0} and fallback.passed


def test_resilience_outcome_no_request_id_judged_over_the_scenario_and_says_so(cfg: ResilienceConfig) -> None:
    """A service that does not pass the request id on: calls are counted on average, the fallback seen at least once
    after the first failure of the broken model, and the verdicts say they are not per request."""
    calls = [Call(0.1 * k, "OPENAI_BASE_URL", model, status, fault, done, 0.1, None)
             for k, (model, status, fault, done) in enumerate([UP, DOWN, DOWN, BACKUP, UP, DOWN, DOWN, BACKUP])]
    [scenario] = cfg.scenarios
    answers = answered(4)
    summary = summarise(cfg, scenario, answers, calls)
    assert not summary["correlated"] and summary["calls_per_request"] == {"mean": 2.0, "max": None}
    assert summary["model_share"] == {"backup": 0.5, "primary": 0.5}
    fallback = next(j for j in judge(scenario, summary, answers, calls, cfg) if j.name == "fallback")
    assert fallback.passed and fallback.observed == ("after primary failed, the service called backup (not per "
                                                     "request: the service does not pass the request id on)")
    # Before any failure of the primary, a call to the backup is no fallback.
    early = [Call(0.0, "OPENAI_BASE_URL", "gpt-backup", 200, None, True, 0.1, None), *calls[:3]]
    fallback = next(j for j in judge(scenario, summarise(cfg, scenario, answers, early), answers, early, cfg)
                    if j.name == "fallback")
    assert not fallback.passed and fallback.observed == "after primary failed, the service called no other model"


@pytest.mark.parametrize(("slow", "n", "passed"), [
    ([4000.0], 10, False),  # one answer in ten above 3 s: not 95% under it (interpolated, p(95) was 2.65 s)
    ([3300.0, 3300.0], 24, False),  # two in 24 (interpolated, 2.96 s)
    ([100000.0], 20, True),  # one in 20 far above: 95% under 3 s (interpolated, 5.95 s)
    ([], 5, True),
])
def test_resilience_outcome_percentile_over_few_answers_is_the_share_it_names(cfg: ResilienceConfig, slow: list[float],
                                                                              n: int, passed: bool) -> None:
    [scenario] = cfg.scenarios
    times = [1000.0] * (n - len(slow)) + slow
    answers = [Answer(i, f"prodgate-s-{i}", True, 200, t) for i, t in enumerate(times)]
    summary = summarise(cfg, scenario, answers, [])
    latency = next(j for j in judge(scenario, summary, answers, [], cfg) if j.name == "latency")
    assert latency.passed is passed, latency.observed
    # The p95 the report shows is the one judged.
    p95 = max(times) if not passed else 1000.0
    assert latency.observed == f"p95 {p95:.1f} ms" and summary["latency_ms"]["p95"] == p95


def test_resilience_outcome_time_to_error_counts_errors_answered_200_and_requests_never_answered(
        tmp_path: Path) -> None:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "gate.yaml").write_text(GATE.replace('expect: {fallback: backup, latency: "p(95) < 3s"}',
                                                     "expect: {time_to_error: 1s}"))
    checks, _ = discover()
    cfg = parse_resilience(load_config(tmp_path / "gate.yaml", plugin_sections(checks, load_schema("gate")["properties"])))
    [scenario] = cfg.scenarios
    quick = [Answer(0, "prodgate-s-0", False, 200, 300.0, category="transport.server_error", message="no model"),
             Answer(1, "prodgate-s-1", True, 200, 2500.0)]
    hung = Answer(2, "prodgate-s-2", False, None, 900.0, category="transport.timeout", message="no answer")
    for answers, passed, observed in ((quick, True, "max 300.0 ms"), ([*quick, hung], False,
                                                                        "max 900.0 ms; 1 never answered")):
        summary = summarise(cfg, scenario, answers, [])
        [tte] = judge(scenario, summary, answers, [], cfg)
        assert (tte.name, tte.passed, tte.observed) == ("time_to_error", passed, observed)
