"""The `load` check: start the service, drive it with locust, and gate on its latency, TTFT, throughput and error SLOs."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from gate.config import GateConfig
from gate.context import CheckContext
from gate.extras import Extra, require_extra
from gate.report import CheckResult

from . import load_baseline
from .load_config import LoadConfig, ScenarioKind, parse_load
from .load_render import markdown_details as render_details
from .load_result import RunFacts, evaluate
from .load_runner import run_locust
from .load_scenario import Traffic, chat_traffic, http_traffic
from .load_stats import compute
from .load_target import running_target


class LoadCheck:
    name = "load"
    section = "load"
    description = "Load-tests the service with locust and gates on latency, time to first token, throughput and errors."
    order = 40

    def prepare(self, config: GateConfig) -> None:
        require_extra(config, Extra.LOAD, [(self.section,)])
        parse_load(config)

    def run(self, ctx: CheckContext) -> CheckResult:
        cfg = parse_load(ctx.config)
        traffic = self._traffic(ctx, cfg)
        spec = build_spec(cfg, traffic)
        with tempfile.TemporaryDirectory(prefix="prodgate-load-") as tmp:
            workdir = Path(tmp)
            with running_target(cfg.target, ctx.root, workdir / "target.log") as target:
                total = int(cfg.warmup_s + cfg.duration_s) + 1
                ctx.progress.start(f"load: {target.url}", total)
                try:
                    run = run_locust(cfg, target.url, spec, workdir, on_tick=lambda: ctx.progress.advance())
                finally:
                    ctx.progress.finish()
                exit_code = target.exit_code()
                log_tail = target.log_tail()
                url = target.url
        stats = compute(run.samples.samples, cfg.warmup_s, cfg.duration_s, cfg.arrival_rate, cfg.max_lag_ms)
        baseline, note = load_baseline.read(ctx, cfg.baseline)
        facts = RunFacts(processes=run.samples.processes, cpu_warning=run.cpu_warning, traffic_source=traffic.source,
                         url=url, target_exit=exit_code, target_log=log_tail, baseline=baseline, baseline_note=note,
                         findings=traffic.findings)
        return evaluate(cfg, stats, facts, ctx.config.display)

    @staticmethod
    def _traffic(ctx: CheckContext, cfg: LoadConfig) -> Traffic:
        if cfg.scenario is ScenarioKind.CHAT:
            return chat_traffic(ctx, cfg)
        if cfg.scenario is ScenarioKind.HTTP:
            return http_traffic(ctx, cfg)
        return Traffic((), f"the locustfile {ctx.display(cfg.locustfile or ctx.root)}")

    def baseline(self, ctx: CheckContext, result: CheckResult) -> list[Path]:
        cfg = parse_load(ctx.config)
        content = load_baseline.record(result.metrics, {
            k: v for k, v in (result.details.get("run") or {}).items()
            if k in ("scenario", "mode", "users", "duration_s", "warmup_s", "arrival_rate", "processes")})
        return [load_baseline.write(cfg.baseline, content)]

    def markdown_details(self, result: CheckResult) -> str:
        return render_details(result)


def build_spec(cfg: LoadConfig, traffic: Traffic) -> dict[str, Any]:
    """What the locustfile needs, as JSON: header *names* of secrets only, never their values."""
    spec: dict[str, Any] = {
        "scenario": cfg.scenario.value, "requests": [dict(r) for r in traffic.requests],
        "run_s": cfg.warmup_s + cfg.duration_s, "timeout_s": cfg.timeout_s, "arrival_rate": cfg.arrival_rate,
        "processes": cfg.processes, "headers": dict(cfg.target.headers), "headers_env": dict(cfg.target.headers_env),
        "api_key_env": cfg.target.api_key_env,
    }
    if cfg.scenario is ScenarioKind.CHAT:
        spec.update(path=cfg.chat.path, stream=cfg.chat.stream)
    elif cfg.http is not None:
        spec.update(method=cfg.http.method, name=cfg.http.path)
    return spec
