"""The `regression` check: run the suites, score every case, and compare with the base branch's baseline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gate.config import GateConfig
from gate.context import CheckContext
from gate.extras import Extra, require_extra
from gate.report import CheckResult, Finding, Severity, Status

from .regression_config import config_digest, parse_config


class RegressionCheck:
    name = "regression"
    section = "regression"
    description = "Did answer quality get worse than on the base branch, beyond noise?"
    order = 30

    def prepare(self, config: GateConfig) -> None:
        cfg = parse_config(config)
        require_extra(config, Extra.DEEPEVAL, [(self.section, "suites", s.index, "metrics", i, "deepeval")
                                               for s in cfg.suites or () for i, m in enumerate(s.metrics)
                                               if m.kind == "deepeval"])

    def run(self, ctx: CheckContext) -> CheckResult:
        from .regression_baseline import load_baseline
        from .regression_execute import run_suites
        from .regression_report import build_result
        from .regression_suites import SuiteLoader

        cfg = parse_config(ctx.config)
        loader = SuiteLoader(ctx, cfg)
        suites = loader.load()
        if loader.findings:
            n = len(loader.findings)
            return CheckResult(self.name, Status.FAIL, f"{n} defect(s) in the suites' files: nothing was run",
                               findings=tuple(loader.findings), metrics={"failure_categories": {}})
        if not suites:
            return CheckResult(self.name, Status.SKIP, "skipped: no suite (no prompt file has testData, and "
                               "gate.yaml lists no `suites:`)")
        shard = ctx.options.get("shard")
        shard_ix = (int(shard[0]) - 1, int(shard[1])) if shard else None
        results, info = run_suites(ctx, cfg, suites, shard_ix)
        extra: list[Finding] = []
        if ctx.options.get("baseline"):
            baseline, note = None, "writing a new baseline (gate baseline update)"
        else:
            baseline, note, defect = load_baseline(ctx, cfg)
            if defect:
                extra.append(Finding(Severity.ERROR, defect, cfg.baseline_rel))
        run: dict[str, Any] = {"requests": info.requests, "judge_requests": info.judge_requests,
                               "cache_hits": info.cache_hits, "config": config_digest(ctx.config)}
        if shard:
            run["shard"] = f"{shard[0]}/{shard[1]}"
        if info.recorded:
            run["recorded"] = info.recorded
        return build_result(results, baseline, note, cfg.gates, seed=cfg.seed, run=run, extra_findings=extra)

    def baseline(self, ctx: CheckContext, result: CheckResult) -> list[Path]:
        from .regression_baseline import baseline_data, write_baseline

        cfg = parse_config(ctx.config)
        if result.details.get("run", {}).get("shard"):
            return []  # a shard holds part of the cases: merge first, then update the baseline
        return [write_baseline(cfg.baseline, baseline_data(result))]

    def markdown_details(self, result: CheckResult) -> str:
        from .regression_markdown import render_details

        if not result.details.get("suites"):
            return ""
        return render_details(result.details)
