"""The `resilience` check: break the model provider on purpose, through a proxy, and prove the service survives."""

from __future__ import annotations

import os
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gate.config import GateConfig
from gate.context import CheckContext
from gate.report import CheckResult, Finding, Severity, Status

from .config import ResilienceConfig, Scenario, parse_resilience

if TYPE_CHECKING:  # what a run needs (aiohttp, the target's process) is imported by the run: `gate validate` never pays
    from ..load.target import OutOfTime
    from .proxy import Proxy


SETTLE_S = 5.0  # the longest a scenario's record waits for calls still in flight when its service stopped


class ResilienceCheck:
    name = "resilience"
    section = "resilience"
    description = "Breaks the model provider on purpose through a proxy and checks that the service survives and falls back."
    order = 45

    def prepare(self, config: GateConfig) -> None:
        parse_resilience(config)

    def run(self, ctx: CheckContext) -> CheckResult:
        from ..load.scenario import chat_requests
        from ..load.target import OutOfTime, TargetFailed

        cfg = parse_resilience(ctx.config)
        if not cfg.scenarios:
            return CheckResult(self.name, Status.SKIP, "skipped: resilience has no scenarios")
        deadline = time.monotonic() + cfg.max_duration_s
        requests = chat_requests(ctx, cfg.chat, "resilience")
        scenarios: list[dict[str, Any]] = []
        out_of_time: OutOfTime | None = None
        with tempfile.TemporaryDirectory(prefix="prodgate-resilience-") as tmp:
            try:
                self._scenarios(ctx, cfg, requests.requests, Path(tmp), deadline, scenarios)
            except OutOfTime as exc:  # a service still starting when max_duration was up: the rest are not run
                _print_log(ctx, exc.log_tail)
                out_of_time = exc
            except TargetFailed as exc:
                _print_log(ctx, exc.log_tail)
                return CheckResult(self.name, Status.ERROR, f"could not complete: {exc.message}",
                                   details={"target": {"url": exc.url}})
        return _result(ctx, cfg, scenarios, requests.source, requests.findings, out_of_time)

    def markdown_details(self, result: CheckResult) -> str:
        return markdown_details_of(result)

    def _scenarios(self, ctx: CheckContext, cfg: ResilienceConfig, bodies: Any, workdir: Path,
                   deadline: float, out: list[dict[str, Any]]) -> None:
        """Runs the scenarios into `out`, which keeps those that ran when a start-up runs out of time."""
        from .proxy import Proxy, upstream_of

        with ExitStack() as stack:
            urls = {u.name: _started(stack, u.to, u.target, ctx.root, workdir / f"upstream-{i}.log", deadline)
                    for i, u in enumerate(cfg.upstreams)}
            proxy = stack.enter_context(Proxy([upstream_of(n, url) for n, url in urls.items()],
                                              read_timeout_s=cfg.timeout_s + 5, hang_s=cfg.timeout_s + 1,
                                              request_id_header=cfg.request_id_header))
            env = {**cfg.target.env, **{u.env: proxy.url(u.name) for u in cfg.upstreams}}
            target_cfg = replace(cfg.target, env=env)
            ctx.progress.start("resilience", len(cfg.scenarios))
            try:
                for i, scenario in enumerate(cfg.scenarios):
                    if time.monotonic() >= deadline:
                        break  # max_duration is up: the rest are not run
                    out.append(self._one(ctx, cfg, scenario, i, proxy, target_cfg, bodies, workdir, deadline))
                    ctx.progress.advance()
                    if out[-1].get("cut"):
                        break
            finally:
                ctx.progress.finish()

    @staticmethod
    def _one(ctx: CheckContext, cfg: ResilienceConfig, scenario: Scenario, index: int, proxy: Proxy,
             target_cfg: Any, bodies: Any, workdir: Path, deadline: float) -> dict[str, Any]:
        from ..load.target import running_target
        from .faults import Plan
        from .outcome import judge, summarise
        from .traffic import UNANSWERED, Traffic, run

        # A fresh service per scenario: breakers, caches and backoffs of one scenario must not carry into the next.
        # Its start-up too ends when max_duration does, not ready_timeout later.
        with running_target(target_cfg, ctx.root, workdir / f"target-{index}.log", deadline) as target:
            proxy.begin(Plan(scenario.faults, cfg.seed + index, time.monotonic()))
            traffic = Traffic(target.url, cfg.chat.path, bodies, cfg.chat.stream, cfg.timeout_s,
                              cfg.request_id_header, _headers(target_cfg))
            # The scenario's own budget, or what is left of max_duration when that is less.
            left = max(0.0, deadline - time.monotonic())
            budget = cfg.scenario_budget_s(scenario)
            answers = run(traffic, scenario.name, scenario.requests, scenario.concurrency, min(budget, left))
            exit_code = target.exit_code()
        # The service is stopped: the calls it left in flight end now; a relay its upstream stalls is not waited out.
        calls = proxy.calls(settle_s=max(0.0, min(SETTLE_S, deadline - time.monotonic())))
        summary = summarise(cfg, scenario, answers, calls)
        if left < budget and any(a.message == UNANSWERED for a in answers):
            # Cut short by max_duration: its figures are kept, but half a scenario is no verdict on it.
            summary.update(expectations=[], passed=False, cut=True)
            return summary
        judged = judge(scenario, summary, answers, calls, cfg)
        summary["expectations"] = [{"name": j.name, "expected": j.expected, "observed": j.observed,
                                    "passed": j.passed, "line": j.line} for j in judged]
        summary["passed"] = all(j.passed for j in judged) and exit_code is None
        if exit_code is not None:
            summary["target_exit"] = exit_code
        return summary


def _started(stack: ExitStack, to: str, target: Any, root: Path, log: Path, deadline: float) -> str:
    """The upstream's real URL: as configured, or the stub the gate started for it (on the port it chose)."""
    from ..load.target import running_target

    if target is None:
        return to
    running = stack.enter_context(running_target(target, root, log, deadline))
    return running.url + urlsplit(to.replace("{port}", "1")).path


def _headers(target: Any) -> dict[str, str]:
    headers = dict(target.headers)
    for header, var in target.headers_env.items():
        if os.environ.get(var):
            headers[header] = os.environ[var]
    if target.api_key_env and os.environ.get(target.api_key_env):
        headers["Authorization"] = f"Bearer {os.environ[target.api_key_env]}"
    return headers


def _result(ctx: CheckContext, cfg: ResilienceConfig, scenarios: list[dict[str, Any]], source: str,
            traffic_findings: tuple[Finding, ...], out_of_time: OutOfTime | None = None) -> CheckResult:
    gate_file = ctx.display(ctx.config.path)
    findings = list(traffic_findings)
    for s in scenarios:
        for e in s["expectations"]:
            if not e["passed"]:
                findings.append(Finding(Severity.ERROR, f"scenario '{s['name']}': {e['name']} {e['expected']}: "
                                        f"{e['observed']}", gate_file, e["line"]))
        if "target_exit" in s:
            findings.append(Finding(Severity.ERROR, f"scenario '{s['name']}': the service exited with code "
                                    f"{s['target_exit']} during the scenario", gate_file, s["line"]))
    ran = [s for s in scenarios if not s.get("cut")]
    not_run = [s.name for s in cfg.scenarios[len(ran):]]
    if not_run:
        cut = {s["name"] for s in scenarios if s.get("cut")}
        names = [f"{n} (cut short)" if n in cut else n for n in not_run]
        why = f"; {out_of_time.message}" if out_of_time is not None else ""
        findings.append(Finding(Severity.ERROR, f"{len(not_run)} of {len(cfg.scenarios)} scenarios not run within "
                                f"max_duration ({cfg.max_duration_s:g}s): {', '.join(names)}{why}", gate_file,
                                cfg.max_duration_line))
    passed = sum(bool(s["passed"]) for s in scenarios)
    requests = sum(s["requests"] for s in scenarios)
    succeeded = sum(s["succeeded"] for s in scenarios)
    categories: Counter[str] = Counter()
    for s in scenarios:
        categories.update(s["failure_categories"])
    metrics = {"scenarios": len(scenarios), "scenarios_passed": passed, "requests": requests,
               "success_rate": round(succeeded / requests, 4) if requests else 0.0,
               "upstream_calls": sum(s["upstream_calls"] for s in scenarios),
               "faults_injected": sum(s["faults_injected"] for s in scenarios),
               "failure_categories": dict(sorted(categories.items()))}
    status = Status.PASS if passed == len(scenarios) and not any(
        f.severity is Severity.ERROR for f in findings) else Status.FAIL
    summary = f"{passed}/{len(scenarios)} scenarios survived ({requests} requests, {metrics['faults_injected']} faults injected)"
    if not_run:
        status = Status.ERROR
        summary = (f"could not complete: {len(not_run)} of {len(cfg.scenarios)} scenarios not run within max_duration "
                   f"({cfg.max_duration_s:g}s) ({len(ran)} ran, {passed} survived)")
    details: dict[str, Any] = {"headline": {"value": f"{passed}/{len(cfg.scenarios)} scenarios pass"},
                               "traffic": source, "scenarios": scenarios,
                               "observations": [s["observation"] for s in ran]}
    if not_run:
        details["not_run"] = not_run
    if out_of_time is not None:
        # How long the last start-up was waited for: what max_duration left of its ready_timeout.
        details["start_up"] = {"url": out_of_time.url, "waited_s": round(out_of_time.waited_s, 3),
                               "ready_timeout_s": out_of_time.ready_timeout_s}
    return CheckResult("resilience", status, summary, metrics=metrics, findings=tuple(findings), details=details)


def markdown_details_of(result: CheckResult) -> str:
    from .render import markdown_details

    return markdown_details(result)


def _print_log(ctx: CheckContext, tail: list[str]) -> None:
    from ..load.target import print_log_tail

    print_log_tail(ctx, "resilience", tail)


def observations(result: CheckResult | None) -> list[Mapping[str, Any]]:
    """What the resilience check saw of each scenario's fallbacks, for the docs check."""
    if result is None:
        return []
    found = result.details.get("observations")
    return [o for o in found if isinstance(o, Mapping)] if isinstance(found, list) else []
