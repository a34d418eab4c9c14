"""The `load` check: start the service, drive it with locust, and gate on its latency, TTFT, throughput and error SLOs."""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.config import GateConfig
from gate.context import CheckContext
from gate.extras import Extra, require_extra
from gate.redact import SECRETS
from gate.report import CheckResult, Status
from gate.runner import config_secret_names

from .config import LoadConfig, ScenarioKind, parse_load

if TYPE_CHECKING:  # what a run needs is imported by the run: validating gate.yaml reads the section alone
    from .scenario import Traffic


class LoadCheck:
    name = "load"
    section = "load"
    description = "Load-tests the service with locust and gates on latency, time to first token, throughput and errors."
    order = 40

    def prepare(self, config: GateConfig) -> None:
        require_extra(config, Extra.LOAD, [(self.section,)])
        parse_load(config)

    def run(self, ctx: CheckContext) -> CheckResult:
        from .target import TargetFailed

        cfg = parse_load(ctx.config)
        traffic = self._traffic(ctx, cfg)
        spec = build_spec(cfg, traffic, config_secret_names(ctx.config))
        with tempfile.TemporaryDirectory(prefix="prodgate-load-") as tmp:
            workdir = Path(tmp)
            try:
                result = self._measure(ctx, cfg, traffic, spec, workdir)
            except TargetFailed as exc:
                details = {"target": {"url": exc.url, "log_tail": exc.log_tail,
                                      "log_in_comment": cfg.target.log_in_comment}}
                result = CheckResult(self.name, Status.ERROR, f"could not complete: {exc.message}", details=details)
        _print_log(ctx, result)
        return result

    @staticmethod
    def _measure(ctx: CheckContext, cfg: LoadConfig, traffic: Traffic, spec: dict[str, Any],
                 workdir: Path) -> CheckResult:
        from . import baseline as load_baseline
        from .result import RunFacts, evaluate
        from .runner import run_locust
        from .stats import compute
        from .target import running_target

        with running_target(cfg.target, ctx.root, workdir / "target.log") as target:
            ctx.progress.start(f"load: {target.url}", int(cfg.warmup_s + cfg.duration_s) + 1)
            try:
                run = run_locust(cfg, target.url, spec, workdir, on_tick=lambda: ctx.progress.advance())
            finally:
                ctx.progress.finish()
            exit_code, log_tail, url = target.exit_code(), target.log_tail(), target.url
        stats = compute(run.samples.samples, cfg.warmup_s, cfg.duration_s, cfg.arrival_rate, cfg.max_lag_ms)
        baseline, note, defect = load_baseline.read(ctx, cfg)
        facts = RunFacts(processes=run.samples.processes, cpu_warning=run.cpu_warning, traffic_source=traffic.source,
                         url=url, target_exit=exit_code, target_log=log_tail, baseline=baseline, baseline_note=note,
                         findings=(*traffic.findings, *([defect] if defect else [])),
                         log_in_comment=cfg.target.log_in_comment)
        return evaluate(cfg, stats, facts, ctx.display(ctx.config.path))

    @staticmethod
    def _traffic(ctx: CheckContext, cfg: LoadConfig) -> Traffic:
        from .scenario import Traffic, chat_traffic, http_traffic

        if cfg.scenario is ScenarioKind.CHAT:
            return chat_traffic(ctx, cfg)
        if cfg.scenario is ScenarioKind.HTTP:
            return http_traffic(ctx, cfg)
        return Traffic((), f"the locustfile {ctx.display(cfg.locustfile or ctx.root)}")

    def baseline(self, ctx: CheckContext, result: CheckResult) -> list[Path]:
        from . import baseline as load_baseline

        cfg = parse_load(ctx.config)
        content = load_baseline.record(result.metrics, {
            k: v for k, v in (result.details.get("run") or {}).items() if k in load_baseline.RECORDED})
        return [load_baseline.write(cfg.baseline, content)]

    def markdown_details(self, result: CheckResult) -> str:
        from .render import markdown_details

        return markdown_details(result)


def _print_log(ctx: CheckContext, result: CheckResult) -> None:
    """The service's log to the gate's own log (stderr), redacted here since the report's scrub does not see it."""
    from .target import print_log_tail

    print_log_tail(ctx, "load", (result.details.get("target") or {}).get("log_tail") or [])


def build_spec(cfg: LoadConfig, traffic: Traffic, secret_names: Sequence[str] = ()) -> dict[str, Any]:
    """What the locustfile needs, as JSON: the *names* of secret variables only, never their values.

    With them, the pattern of credential shapes: the generator redacts an error message before it caps
    it (a capped key matches nothing afterwards), with no import of the gate (a remote worker has none)."""
    spec: dict[str, Any] = {
        "scenario": cfg.scenario.value, "requests": [dict(r) for r in traffic.requests],
        "run_s": cfg.warmup_s + cfg.duration_s, "timeout_s": cfg.timeout_s, "arrival_rate": cfg.arrival_rate,
        "processes": cfg.processes, "headers": dict(cfg.target.headers), "headers_env": dict(cfg.target.headers_env),
        "api_key_env": cfg.target.api_key_env,
        "redact": {"pattern": SECRETS.pattern, "names": list(secret_names)},
    }
    if cfg.scenario is ScenarioKind.CHAT:
        spec.update(path=cfg.chat.path, stream=cfg.chat.stream)
    elif cfg.http is not None:
        spec.update(method=cfg.http.method, name=cfg.http.path)
    return spec
