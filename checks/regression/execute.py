"""Runs suites: requests through the provider layer (cache, cassette), then every metric on every answer."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gate.context import CheckContext
from gate.errors import CheckIncomplete, ConfigError
from gate.providers.base import Provider, ProviderError, Request, Response
from gate.providers.limits import Limits, RateLimiter, using
from gate.report import Finding

from .config import RegressionConfig
from .evidence import Evidence, Replay
from .judge import DEFAULT_JUDGE_MODEL, JudgeSpec, judge_request, judged, spec_for
from .metrics import Outcome, Score, evaluate
from .pricing import case_cost
from .results import CaseResult, RepeatResult, SuiteResult, aggregate, input_text, repeat_result
from .suites import Suite, shard_of
from .targets import Targets

Key = tuple[int, int, int]  # (suite, case, repeat) indexes


@dataclass
class RunInfo:
    requests: int = 0
    cache_hits: int = 0
    judge_requests: int = 0
    recorded: list[str] = field(default_factory=list)
    left_out: list[tuple[str, Finding]] = field(default_factory=list)  # (suite, why its cases were not compared)
    unmeasured: list[str] = field(default_factory=list)  # suites left with no case at all
    tracked_cache: int = 0  # cache files tracked by git, never read


def _kind(spec: Mapping[str, Any]) -> str:
    return next((k for k in ("model", "http", "command", "python", "replay") if k in spec), "?")


def _run(ctx: CheckContext, cfg: RegressionConfig, provider: Provider, requests: list[Request],
         label: str) -> list[Response | ProviderError]:
    from gate.providers.executor import run_all

    return run_all(provider, requests, concurrency=cfg.concurrency, rpm=cfg.rpm, retries=cfg.retries,
                   timeout=cfg.timeout, progress=ctx.progress, label=label, seed=cfg.seed)


def _some_answer(categories: Sequence[str | None], first_message: Sequence[str], what: str) -> None:
    """Not one answer, for a transport reason (unreachable, no key, nothing recorded): the run says nothing
    about quality, so the check could not complete (exit 3) rather than fail every case."""
    if categories and all(c is not None for c in categories) and str(categories[0]).startswith("transport."):
        detail = f": {first_message[0]}" if first_message else ""
        raise CheckIncomplete(f"regression: no {what} succeeded ({categories[0]}{detail})")


def _outcome(result: Response | ProviderError, cost: float | None) -> Outcome:
    if isinstance(result, ProviderError):
        return Outcome("", error=result.category.value, error_message=result.message)
    u = result.usage
    return Outcome(result.content, u.input_tokens, u.output_tokens, result.latency_s, cost, result.finish_reason)


def _judge_target(cfg: RegressionConfig, model_id: str) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """(the judge's target, its live source under --record)."""
    live = {"model": model_id or DEFAULT_JUDGE_MODEL}
    return (cfg.judge or live), live


def run_suites(ctx: CheckContext, cfg: RegressionConfig, suites: Sequence[Suite],
               shard: tuple[int, int] | None) -> tuple[list[SuiteResult], RunInfo]:
    targets = Targets(ctx, cfg)
    info = RunInfo()
    # 1. Every answer, one executor run per distinct target so concurrency spans suites.
    groups: dict[str, tuple[Provider, list[Key], list[Request]]] = {}
    chosen: list[list[int]] = []
    requests_of: dict[Key, Request] = {}
    replays: dict[int, Replay | None] = {}
    evidence = Evidence()
    for si, suite in enumerate(suites):
        idx = [ci for ci, c in enumerate(suite.cases) if shard is None or shard_of(suite.name, c.id, shard[1]) == shard[0]]
        chosen.append(idx)
        if not idx:
            continue
        if suite.target is None:
            raise ConfigError(f"{ctx.config.where('regression')}: suite {suite.name!r} has no target: set `target:` "
                              "(model, http, command, python or replay) or give the prompt file a `model:`")
        live = {"model": suite.prompt.model} if suite.prompt is not None and suite.prompt.model else None
        provider = targets.get(suite.target, ["regression", "target"], live)
        replays[si] = targets.replay(provider, live, suite.name)
        key = json.dumps(suite.target, sort_keys=True)
        group = groups.setdefault(key, (provider, [], []))
        for ci in idx:
            for r, req in enumerate(suite.requests_for(suite.cases[ci])):
                group[1].append((si, ci, r))
                group[2].append(req)
                requests_of[(si, ci, r)] = req
    results: dict[Key, Response | ProviderError] = {}
    for provider, keys, reqs in groups.values():
        info.requests += len(reqs)
        results.update(zip(keys, _run(ctx, cfg, provider, reqs, "regression"), strict=True))
    for (si, ci, _r), res in results.items():
        evidence.note(si, ci, res, replays.get(si))
    # A case with a repeat that is not evidence is left out whole: its other repeats would skew it.
    results = {k: v for k, v in results.items() if (k[0], k[1]) not in evidence.gaps}
    _some_answer([r.category.value if isinstance(r, ProviderError) else None for r in results.values()],
                 [r.message for r in results.values() if isinstance(r, ProviderError)][:1], "request")
    outcomes = {k: _outcome(r, case_cost(r, (*suites[k[0]].metrics, *suites[k[0]].cases[k[1]].asserts),
                                         targets.models()))
                for k, r in results.items()}
    # 2. Deterministic metrics, then the judged ones.
    scores: dict[Key, list[Score]] = {k: [] for k in outcomes}
    for (si, ci, r), outcome in outcomes.items():
        suite, case = suites[si], suites[si].cases[ci]
        for m in (*suite.metrics, *case.asserts):
            if not m.scored:
                scores[(si, ci, r)].append(evaluate(m, outcome, case.variables))
    _judge_all(ctx, cfg, targets, suites, outcomes, scores, info, evidence)
    _deepeval_all(ctx, cfg, targets, suites, outcomes, scores)
    info.recorded = targets.save()
    info.cache_hits = targets.cache_hits
    info.tracked_cache = targets.tracked_count
    # 3. Cases: those whose answers are evidence for this target; the others are one finding per suite.
    out: list[SuiteResult] = []
    for si, suite in enumerate(suites):
        left = evidence.left_out(si)
        gap = evidence.finding(si, suite.name, len(chosen[si]))
        if gap is not None:
            info.left_out.append((suite.name, gap))
        if chosen[si] and len(left) == len(chosen[si]):
            info.unmeasured.append(suite.name)
            continue
        cases: list[CaseResult] = []
        for ci in chosen[si]:
            if ci in left:
                continue
            case = suite.cases[ci]
            keys = [(si, ci, r) for r in range(suite.repeats)]
            reps: list[RepeatResult] = [repeat_result(outcomes[k], scores[k]) for k in keys]
            req = requests_of[keys[0]]
            cases.append(aggregate(case.id, case.line, reps, suite.pass_at, cluster=case.cluster,
                                   input_text=input_text(req.messages, req.variables)))
        scored = tuple(sorted({m.name for m in suite.metrics if m.scored}))
        kind = _kind(suite.target) if suite.target else "?"
        out.append(SuiteResult(suite.name, suite.file, kind, scored, tuple(cases)))
    return out, info


def _threshold(cfg: RegressionConfig, suite: Suite, name: str, own: float | None) -> float:
    if own is not None:
        return own
    return suite.thresholds.get(name, cfg.threshold)


def _judge_all(ctx: CheckContext, cfg: RegressionConfig, targets: Targets, suites: Sequence[Suite],
               outcomes: Mapping[Key, Outcome], scores: dict[Key, list[Score]], info: RunInfo,
               evidence: Evidence) -> None:
    groups: dict[str, tuple[Provider, list[tuple[Key, str, JudgeSpec, float]], list[Request]]] = {}
    replays: dict[tuple[str, str], Replay | None] = {}  # (target, judge model): evaluators may name other models

    def replay_of(key: str, provider: Provider, spec: JudgeSpec) -> Replay | None:
        if (key, spec.model_id) not in replays:
            replays[(key, spec.model_id)] = targets.replay(provider, _judge_target(cfg, spec.model_id)[1], "")
        return replays[(key, spec.model_id)]

    for (si, ci, r), outcome in outcomes.items():
        suite, case = suites[si], suites[si].cases[ci]
        for m in (*suite.metrics, *case.asserts):
            if m.kind not in ("llm", "uses"):
                continue
            spec = spec_for(m.kind, m.value)
            threshold = _threshold(cfg, suite, m.name, m.threshold)
            if outcome.error:
                scores[(si, ci, r)].append(Score(m.name, 0.0, False, outcome.error, "no answer to judge"))
                continue
            target, live = _judge_target(cfg, spec.model_id)
            key = json.dumps(target, sort_keys=True)
            if key not in groups:
                groups[key] = (targets.get(target, ["regression", "judge"], live), [], [])
            groups[key][1].append(((si, ci, r), m.name, spec, threshold))
            groups[key][2].append(judge_request(spec, case.variables, outcome.content, params={},
                                                case_id=f"{suite.name}/{case.id}"))
    for key, (provider, items, reqs) in groups.items():
        info.judge_requests += len(reqs)
        answers = _run(ctx, cfg, provider, reqs, "regression judge")
        judged_ok = [not evidence.note(k[0], k[1], res, replay_of(key, provider, spec), judge=True)
                     for (k, _, spec, _), res in zip(items, answers, strict=True)]
        items = [i for i, ok in zip(items, judged_ok, strict=True) if ok]
        answers = [a for a, ok in zip(answers, judged_ok, strict=True) if ok]
        _some_answer([r.category.value if isinstance(r, ProviderError) else None for r in answers],
                     [r.message for r in answers if isinstance(r, ProviderError)][:1], "judge request")
        for (k, name, spec, threshold), res in zip(items, answers, strict=True):
            if isinstance(res, ProviderError):
                scores[k].append(Score(name, 0.0, False, res.category.value, f"judge call failed: {res.message}"[:200]))
            else:
                scores[k].append(judged(name, res.content, spec, threshold))


def _deepeval_all(ctx: CheckContext, cfg: RegressionConfig, targets: Targets, suites: Sequence[Suite],
                  outcomes: Mapping[Key, Outcome], scores: dict[Key, list[Score]]) -> None:
    jobs = []
    for (si, ci, r), outcome in outcomes.items():
        suite, case = suites[si], suites[si].cases[ci]
        for m in (*suite.metrics, *case.asserts):
            if m.kind == "deepeval":
                jobs.append(((si, ci, r), m, suite, case, outcome))
    if not jobs:
        return
    from . import deepeval_metrics as de

    target, live = _judge_target(cfg, DEFAULT_JUDGE_MODEL)
    provider = targets.get(target, ["regression", "judge"], live)
    judge = de.make_judge(provider, str(target.get("model") or _kind(target)), {"temperature": 0},
                          timeout=cfg.timeout)
    # The section's retries and rpm bound deepeval's judge calls as they bound every other request.
    shared = Limits(retries=cfg.retries, limiter=RateLimiter(cfg.rpm), rng=random.Random(cfg.seed))
    classes: dict[str, Any] = {}
    for _, m, *_rest in jobs:
        if m.value not in classes:
            try:
                classes[m.value] = de.metric_class(m.value)
            except ValueError as exc:
                raise ConfigError(f"{ctx.config.where('regression')}: {exc}") from None

    def one(job: tuple[Key, Any, Suite, Any, Outcome]) -> tuple[Key, Score]:
        k, m, suite, case, outcome = job
        if outcome.error:
            return k, Score(m.name, 0.0, False, outcome.error, "no answer to judge")
        user = next((msg.content for msg in reversed(suite.prompt.render(case.variables)) if msg.role == "user"),
                    "") if suite.prompt is not None else ""
        fields = de.test_case_fields(case.variables, user, outcome.content)
        with using(shared):
            return k, de.measure(classes[m.value], m.name, m.params, judge,
                                 _threshold(cfg, suite, m.name, m.threshold), fields)

    ctx.progress.start("regression deepeval", len(jobs))
    asked: list[Score] = []
    with ThreadPoolExecutor(max_workers=cfg.concurrency) as pool:
        for job, (k, score) in zip(jobs, pool.map(one, jobs), strict=True):
            scores[k].append(score)
            if not job[4].error:
                asked.append(score)
            ctx.progress.advance()
    ctx.progress.finish()
    _some_answer([s.category if (s.category or "").startswith("transport.") else None for s in asked],
                 [s.detail for s in asked][:1], "deepeval judge request")
