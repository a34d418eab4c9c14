"""Runs suites: requests through the provider layer (cache, cassette), then every metric on every answer."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
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
from .suites import Suite, request_params, shard_of
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


class _Answered:
    """Whether any of a kind of request got an answer, over every chunk of a run. Not one, for a transport reason
    (unreachable, no key, nothing recorded): the run says nothing about quality, so the check could not complete
    (exit 3) rather than fail every case."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.seen = 0
        self.answered = False
        self.first: tuple[str, str] | None = None  # the first failure's category and message

    def add(self, results: Sequence[Response | ProviderError | Score]) -> None:
        for r in results:
            self.seen += 1
            category, message = (r.category.value, r.message) if isinstance(r, ProviderError) else \
                (r.category, r.detail) if isinstance(r, Score) and (r.category or "").startswith("transport.") else \
                (None, "")
            if category is None:
                self.answered = True
            elif self.first is None:
                self.first = (category, message)

    def check(self) -> None:
        if self.seen and not self.answered and self.first is not None and self.first[0].startswith("transport."):
            detail = f": {self.first[1]}" if self.first[1] else ""
            raise CheckIncomplete(f"regression: no {self.what} succeeded ({self.first[0]}{detail})")


def _outcome(result: Response | ProviderError, cost: float | None) -> Outcome:
    if isinstance(result, ProviderError):
        return Outcome("", error=result.category.value, error_message=result.message)
    u = result.usage
    return Outcome(result.content, u.input_tokens, u.output_tokens, result.latency_s, cost, result.finish_reason)


def _judge_target(cfg: RegressionConfig, model_id: str) -> tuple[Mapping[str, Any], Mapping[str, Any] | None]:
    """(the judge's target, its live source under --record)."""
    live = {"model": model_id or DEFAULT_JUDGE_MODEL}
    return (cfg.judge or live), live


# Cases answered, scored and summed up at a time: a run of 200,000 cases never holds every request, answer
# and score at once, only every case's result. Large enough that the executor's concurrency is rarely idle
# at a chunk's end.
CHUNK_CASES = 2_000


class _Advance:
    """The executor's progress, folded into the run's one bar: the chunks' own starts and ends are not shown."""

    def __init__(self, bar: Any) -> None:
        self.bar = bar

    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        self.bar.advance(n)

    def finish(self) -> None:
        pass


def run_suites(ctx: CheckContext, cfg: RegressionConfig, suites: Sequence[Suite],
               shard: tuple[int, int] | None) -> tuple[list[SuiteResult], RunInfo]:
    targets = Targets(ctx, cfg)
    info = RunInfo()
    chosen: list[list[int]] = []
    providers: dict[int, tuple[str, Provider]] = {}
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
        replays[si] = targets.replay(provider, live, suite.name, request_params(suite.prompt))
        provider = targets.seen_by(provider, replays[si])
        providers[si] = (str(id(provider)), provider)  # one group per provider: under --record, one per source
    work = [(si, ci) for si, idx in enumerate(chosen) for ci in idx]
    # One bar over every call: the answers and the judges' grades (those never asked are counted as done).
    ctx.progress.start("regression", sum(suites[si].repeats * (1 + _judged(suites[si], ci)) for si, ci in work))
    run = _Chunk(ctx, cfg, targets, suites, providers, replays, evidence, info, _Advance(ctx.progress))
    cases: dict[int, list[CaseResult]] = {si: [] for si in range(len(suites))}
    try:
        for start in range(0, len(work), CHUNK_CASES):
            for si, result in run.run(work[start:start + CHUNK_CASES]):
                cases[si].append(result)
    finally:
        ctx.progress.finish()
    for tally in (run.answers, *run.judges.values(), run.deepeval):
        tally.check()
    info.recorded = targets.save()
    info.cache_hits = targets.cache_hits
    info.tracked_cache = targets.tracked_count
    # Cases: those whose answers are evidence for this target; the others are one finding per suite.
    out: list[SuiteResult] = []
    for si, suite in enumerate(suites):
        left = evidence.left_out(si)
        gap = evidence.finding(si, suite.name, len(chosen[si]), held=partial(targets.held, providers[si][1], suite,
                                                                             chosen[si]) if si in providers else None)
        if gap is not None:
            info.left_out.append((suite.name, gap))
        if chosen[si] and len(left) == len(chosen[si]):
            info.unmeasured.append(suite.name)
            continue
        scored = tuple(sorted({m.name for m in suite.metrics if m.scored}))
        kind = _kind(suite.target) if suite.target else "?"
        out.append(SuiteResult(suite.name, suite.file, kind, scored, tuple(cases[si])))
    return out, info


def _judged(suite: Suite, ci: int) -> int:
    """Grades a case's answer gets per repeat: its judged and deepeval metrics."""
    return sum(m.kind in ("llm", "uses", "deepeval") for m in (*suite.metrics, *suite.cases[ci].asserts))


class _Chunk:
    """Answers, scores and sums up one chunk of cases at a time; what must span chunks (evidence, the run's
    counts, whether anything was answered at all) lives here."""

    def __init__(self, ctx: CheckContext, cfg: RegressionConfig, targets: Targets, suites: Sequence[Suite],
                 providers: Mapping[int, tuple[str, Provider]], replays: Mapping[int, Replay | None],
                 evidence: Evidence, info: RunInfo, progress: _Advance) -> None:
        self.ctx, self.cfg, self.targets, self.suites = ctx, cfg, targets, suites
        self.providers, self.replays, self.evidence, self.info = providers, replays, evidence, info
        self.progress = progress
        self.answers = _Answered("request")
        self.judges: dict[str, _Answered] = {}
        self.deepeval = _Answered("deepeval judge request")
        self.judge_replays: dict[tuple[str, str], Replay | None] = {}

    def _run(self, provider: Provider, requests: list[Request]) -> list[Response | ProviderError]:
        from gate.providers.executor import run_all

        cfg = self.cfg
        return run_all(provider, requests, concurrency=cfg.concurrency, rpm=cfg.rpm, retries=cfg.retries,
                       timeout=cfg.timeout, progress=self.progress, label="regression", seed=cfg.seed)

    def run(self, chunk: Sequence[tuple[int, int]]) -> list[tuple[int, CaseResult]]:
        suites, evidence = self.suites, self.evidence
        groups: dict[str, tuple[Provider, list[Key], list[Request]]] = {}
        inputs: dict[tuple[int, int], str] = {}
        for si, ci in chunk:
            key, provider = self.providers[si]
            group = groups.setdefault(key, (provider, [], []))
            requests = suites[si].requests_for(suites[si].cases[ci])
            inputs[(si, ci)] = input_text(requests[0].messages, requests[0].variables)
            for r, req in enumerate(requests):
                group[1].append((si, ci, r))
                group[2].append(req)
        results: dict[Key, Response | ProviderError] = {}
        for provider, keys, reqs in groups.values():
            self.info.requests += len(reqs)
            results.update(zip(keys, self._run(provider, reqs), strict=True))
        del groups
        for (si, ci, _r), res in results.items():
            evidence.note(si, ci, res, self.replays.get(si))
        # A case with a repeat that is not evidence is left out whole: its other repeats would skew it.
        results = {k: v for k, v in results.items() if (k[0], k[1]) not in evidence.gaps}
        self.answers.add(list(results.values()))
        outcomes = {k: _outcome(r, case_cost(r, (*suites[k[0]].metrics, *suites[k[0]].cases[k[1]].asserts),
                                             self.targets.models()))
                    for k, r in results.items()}
        del results
        # Deterministic metrics, then the judged ones.
        scores: dict[Key, list[Score]] = {k: [] for k in outcomes}
        for (si, ci, r), outcome in outcomes.items():
            suite, case = suites[si], suites[si].cases[ci]
            for m in (*suite.metrics, *case.asserts):
                if not m.scored:
                    scores[(si, ci, r)].append(evaluate(m, outcome, case.variables))
        asked = self._judge_all(outcomes, scores) + self._deepeval_all(outcomes, scores)
        # The grades the bar counted that were never asked for (no answer to judge, a case left out).
        self.progress.advance(max(0, sum(suites[si].repeats * _judged(suites[si], ci) for si, ci in chunk) - asked))
        out: list[tuple[int, CaseResult]] = []
        for si, ci in chunk:
            if (si, ci) in evidence.gaps:
                continue
            suite, case = suites[si], suites[si].cases[ci]
            reps: list[RepeatResult] = [repeat_result(outcomes[(si, ci, r)], scores[(si, ci, r)])
                                        for r in range(suite.repeats)]
            out.append((si, aggregate(case.id, case.line, reps, suite.pass_at, cluster=case.cluster,
                                      input_text=inputs[(si, ci)])))
        return out

    def _judge_all(self, outcomes: Mapping[Key, Outcome], scores: dict[Key, list[Score]]) -> int:
        """Grade every answer a judged metric asks about; the number of judge calls made."""
        cfg, targets, suites, evidence = self.cfg, self.targets, self.suites, self.evidence
        groups: dict[str, tuple[Provider, list[tuple[Key, str, JudgeSpec, float]], list[Request]]] = {}

        def replay_of(key: str, provider: Provider, spec: JudgeSpec) -> Replay | None:
            # Per (target, judge model): evaluators may name other models.
            if (key, spec.model_id) not in self.judge_replays:
                self.judge_replays[(key, spec.model_id)] = targets.replay(provider, _judge_target(cfg, spec.model_id)[1], "")
            return self.judge_replays[(key, spec.model_id)]

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
                key = json.dumps([target, live], sort_keys=True)  # a judge model's own source under --record
                if key not in groups:
                    provider = targets.get(target, ["regression", "judge"], live)
                    groups[key] = (targets.seen_by(provider, replay_of(key, provider, spec)), [], [])
                groups[key][1].append(((si, ci, r), m.name, spec, threshold))
                groups[key][2].append(judge_request(spec, case.variables, outcome.content, params={},
                                                    case_id=f"{suite.name}/{case.id}"))
        asked = 0
        for key, (provider, items, reqs) in groups.items():
            self.info.judge_requests += len(reqs)
            asked += len(reqs)
            answers = self._run(provider, reqs)
            judged_ok = [not evidence.note(k[0], k[1], res, replay_of(key, provider, spec), judge=True)
                         for (k, _, spec, _), res in zip(items, answers, strict=True)]
            items = [i for i, ok in zip(items, judged_ok, strict=True) if ok]
            answers = [a for a, ok in zip(answers, judged_ok, strict=True) if ok]
            self.judges.setdefault(key, _Answered("judge request")).add(answers)
            for (k, name, spec, threshold), res in zip(items, answers, strict=True):
                if isinstance(res, ProviderError):
                    scores[k].append(Score(name, 0.0, False, res.category.value,
                                           f"judge call failed: {res.message}"[:200]))
                else:
                    scores[k].append(judged(name, res.content, spec, threshold))
        return asked

    def _deepeval_all(self, outcomes: Mapping[Key, Outcome], scores: dict[Key, list[Score]]) -> int:
        """Measure every answer a deepeval metric asks about; the number of measurements."""
        ctx, cfg, targets, suites = self.ctx, self.cfg, self.targets, self.suites
        jobs = []
        for (si, ci, r), outcome in outcomes.items():
            suite, case = suites[si], suites[si].cases[ci]
            for m in (*suite.metrics, *case.asserts):
                if m.kind == "deepeval":
                    jobs.append(((si, ci, r), m, suite, case, outcome))
        if not jobs:
            return 0
        from . import deepeval_metrics as de

        target, live = _judge_target(cfg, DEFAULT_JUDGE_MODEL)
        provider = targets.get(target, ["regression", "judge"], live)
        params = {"temperature": 0}
        replay = targets.replay(provider, live, "", params)
        provider = targets.seen_by(provider, replay)
        judge = de.make_judge(provider, str(target.get("model") or _kind(target)), params, timeout=cfg.timeout,
                              replay=replay)
        # The section's retries and rpm bound deepeval's judge calls as they bound every other request.
        shared = Limits(retries=cfg.retries, limiter=RateLimiter(cfg.rpm), rng=random.Random(cfg.seed))
        classes: dict[str, Any] = {}
        for _, m, *_rest in jobs:
            if m.value not in classes:
                try:
                    classes[m.value] = de.metric_class(m.value)
                except ValueError as exc:
                    raise ConfigError(f"{ctx.config.where('regression')}: {exc}") from None

        def one(job: tuple[Key, Any, Suite, Any, Outcome]) -> tuple[Key, tuple[Score, Response | ProviderError | None]]:
            k, m, suite, case, outcome = job
            if outcome.error:
                return k, (Score(m.name, 0.0, False, outcome.error, "no answer to judge"), None)
            user = next((msg.content for msg in reversed(suite.prompt.render(case.variables)) if msg.role == "user"),
                        "") if suite.prompt is not None else ""
            fields = de.test_case_fields(case.variables, user, outcome.content)
            with using(shared):
                return k, de.measure(classes[m.value], m.name, m.params, judge,
                                     _threshold(cfg, suite, m.name, m.threshold), fields)

        asked: list[Score] = []
        with ThreadPoolExecutor(max_workers=cfg.concurrency) as pool:
            for job, (k, (score, unproven)) in zip(jobs, pool.map(one, jobs), strict=True):
                self.progress.advance()
                # A grade that is not evidence leaves its case out, as the in-house judge's grades do.
                if unproven is not None:
                    self.evidence.note(k[0], k[1], unproven, replay, judge=True)
                    continue
                scores[k].append(score)
                if not job[4].error:
                    asked.append(score)
        self.deepeval.add(asked)
        return len(jobs)


def _threshold(cfg: RegressionConfig, suite: Suite, name: str, own: float | None) -> float:
    if own is not None:
        return own
    return suite.thresholds.get(name, cfg.threshold)


