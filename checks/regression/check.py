"""The `regression` check: run the suites, score every case, and compare with the base branch's baseline."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from gate import warm
from gate.config import GateConfig
from gate.context import CheckContext
from gate.extras import Extra, require_extra
from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity, Status

from .config import config_digest, parse_config


class RegressionCheck:
    name = "regression"
    section = "regression"
    description = "Did answer quality get worse than on the base branch, beyond noise?"
    order = 30

    def prepare(self, config: GateConfig) -> None:
        cfg = parse_config(config)
        from .measured import check_gate_names

        check_gate_names(config, cfg)
        require_extra(config, Extra.DEEPEVAL, [(self.section, "suites", s.index, "metrics", i, "deepeval")
                                               for s in cfg.suites or () for i, m in enumerate(s.metrics)
                                               if m.kind == "deepeval"])

    def run(self, ctx: CheckContext) -> CheckResult:
        if ctx.options.get("validate"):
            from .dataset import validation_result

            return validation_result(ctx)
        from .execute import run_suites
        from .metrics import regex_timeouts
        from .suites import SuiteLoader
        from .targets import CassetteDefects

        cfg = parse_config(ctx.config)
        if _calls_live(cfg, ctx):
            from gate.keyguard import new_destinations

            refused = new_destinations(ctx.config, ctx.base, ctx.display)
            if refused:
                return CheckResult(self.name, Status.FAIL, f"nothing was run: {refused[0].message}",
                                   findings=tuple(refused), metrics={"failure_categories": {}})
        loader = SuiteLoader(ctx, cfg)
        suites = loader.load()
        if loader.findings:
            n = len(loader.findings)
            return CheckResult(self.name, Status.FAIL, f"{counted(n, 'defect')} in the suites' files: nothing was run",
                               findings=(*loader.findings, *loader.notices), metrics={"failure_categories": {}})
        if not suites:
            return CheckResult(self.name, Status.SKIP, "skipped: no suite (no prompt file has testData, and "
                               "gate.yaml lists no `suites:`)", findings=tuple(loader.notices))
        skipped = [{"message": f.message, "file": f.file, "line": f.line} for f in loader.notices]
        shard = ctx.options.get("shard")
        shard_ix = (int(shard[0]) - 1, int(shard[1])) if shard else None
        # What reads the answers once they are in, loaded while they arrive.
        warm.later(f"{__package__}.baseline", f"{__package__}.report", f"{__package__}.rerecorded")
        try:
            with regex_timeouts() as timeouts:
                results, info = run_suites(ctx, cfg, suites, shard_ix)
        except CassetteDefects as exc:
            found = tuple(Finding(Severity.ERROR, d.message, exc.display, d.line) for d in exc.defects)
            return CheckResult(self.name, Status.FAIL, f"{counted(len(found), 'defect')} in cassette {exc.display}: nothing "
                               "was compared", findings=found, metrics={"failure_categories": {}})
        # The loaded datasets are done with: freed before the baseline is read, not held to the end of the run.
        del suites, loader
        from .baseline import load_baseline
        from .report import build_result
        from .rerecorded import rerecorded

        extra: list[Finding] = []
        if ctx.options.get("baseline"):
            baseline, note = None, "writing a new baseline (gate baseline update)"
        else:
            baseline, note, defect = load_baseline(ctx, cfg)
            if defect:
                extra.append(defect)
        run: dict[str, Any] = {"requests": info.requests, "judge_requests": info.judge_requests,
                               "cache_hits": info.cache_hits, "config": config_digest(ctx.config)}
        if shard:
            run["shard"] = f"{shard[0]}/{shard[1]}"
        if info.recorded:
            run["recorded"] = info.recorded
        if skipped:
            run["skipped"] = skipped
        if timeouts.timeouts:
            run["regex_timeouts"] = timeouts.report()
        if info.left_out:
            run["left_out"] = [{"suite": suite, "message": f.message, "file": f.file} for suite, f in info.left_out]
            run["unmeasured"] = info.unmeasured
        changed = rerecorded(ctx, cfg)
        if changed:
            run["rerecorded"] = [{"message": f.message, "file": f.file} for f in changed]
        if info.tracked_cache:
            run["tracked_cache"] = info.tracked_cache
            run["cache"] = ctx.display(cfg.cache) if cfg.cache is not None else ".gate/cache"
        # Every case's detail where something reads it back: a shard's (gate merge), the baseline's (it keeps every
        # case) and --full-report's; otherwise the failing ones only.
        full = bool(shard or ctx.options.get("baseline") or ctx.options.get("full_report"))
        result = build_result(results, baseline, note, cfg.gates, seed=cfg.seed, run=run, extra_findings=extra,
                              locate=ctx.config_line, full=full)
        return provenance(result)

    def baseline(self, ctx: CheckContext, result: CheckResult) -> list[Path]:
        from .baseline import baseline_data, write_baseline

        cfg = parse_config(ctx.config)
        if result.details.get("run", {}).get("shard"):
            return []  # a shard holds part of the cases: merge first, then update the baseline
        return [write_baseline(cfg.baseline, baseline_data(result, keep_outputs=cfg.keep_outputs))]

    def markdown_details(self, result: CheckResult) -> str:
        from .render import render_details

        if not result.details.get("suites"):
            return ""
        return render_details(result.details)


def provenance(result: CheckResult) -> CheckResult:
    """Says where the answers came from, from `details.run` (also after `gate merge`): cases left out because
    their recordings are not evidence for this target (the check fails: re-record), answers from the response
    cache (counted in the summary), cache files git tracks (never read: a warning), and rows skipped (notices)."""
    run = result.details.get("run") or {}
    left_out = [f for f in run.get("left_out") or [] if isinstance(f, dict)]
    findings = [Finding(Severity.ERROR, str(f["message"]), f.get("file")) for f in left_out]
    findings += [Finding(Severity.NOTICE, str(f["message"]), f.get("file"))
                 for f in run.get("rerecorded") or [] if isinstance(f, dict)]
    findings += [Finding(Severity.NOTICE, str(f["message"]), f.get("file"), f.get("line"))
                 for f in run.get("skipped") or [] if isinstance(f, dict)]
    slow = _regex_timeouts(run.get("regex_timeouts"))
    findings += [Finding(Severity.WARNING, f"regex {pattern!r} did not finish within its deadline on {n} answers"
                         + (f"; {capped} more cases failed without running it" if capped else ""))
                 for pattern, (n, capped) in slow.items()]
    tracked, cache = int(run.get("tracked_cache") or 0), str(run.get("cache") or ".gate/cache")
    if tracked:
        are, were = ("is", "was") if tracked == 1 else ("are", "were")
        findings.append(Finding(Severity.WARNING, f"{counted(tracked, 'file')} under {cache} {are} tracked by git and "
                                f"{were} not read: a committed cache could plant answers (remove them with "
                                f"`git rm -r --cached {cache}`)", cache))
    hits = int(run.get("cache_hits") or 0)
    answers = int(run.get("requests") or 0) + int(run.get("judge_requests") or 0)
    summary, status = result.summary, result.status
    if hits:
        summary = f"{summary}; {hits} of {max(answers, hits)} answers from the cache"
    if findings and left_out:
        lead = findings[0].message + (f" (+{len(left_out) - 1} more)" if len(left_out) > 1 else "")
        summary = lead if not result.metrics.get("cases") else f"{lead}; {summary}"
        status = Status.FAIL
    elif (tracked or slow) and status is Status.PASS:
        status = Status.WARN
    details = dict(result.details)
    empty = run.get("unmeasured") or []
    unmeasured = {str(f.get("suite")): str(f["message"]) for f in left_out if f.get("suite") in empty}
    if unmeasured:
        # Why a suite has no measured tokens, for the cost check's `measured: SUITE` inputs.
        details["unmeasured"] = unmeasured
    metrics = {**result.metrics, "cached_answers": hits}
    if slow:
        metrics["regex_timeouts"] = sum(n for n, _ in slow.values())
        metrics["regex_capped"] = sum(c for _, c in slow.values())
    return replace(result, status=status, summary=summary, findings=(*findings, *result.findings),
                   metrics=metrics, details=details)


def _regex_timeouts(raw: Any) -> dict[str, tuple[int, int]]:
    """pattern -> (timeouts, cases failed at once), summed over the shards of a merged run."""
    out: dict[str, tuple[int, int]] = {}
    for item in raw if isinstance(raw, list) else []:
        if isinstance(item, dict) and isinstance(item.get("pattern"), str):
            n, capped = out.get(item["pattern"], (0, 0))
            out[item["pattern"]] = (n + int(item.get("timeouts") or 0), capped + int(item.get("failed_at_once") or 0))
    return out


def _calls_live(cfg: Any, ctx: CheckContext) -> bool:
    """Whether the run may call a model: under --record, or with a target that is not a cassette, or a judge that is
    not one (a judged metric with no `judge:` calls its model). Conservative: a judge is assumed to be called."""
    if ctx.options.get("record"):
        return True

    def replays(target: Any) -> bool:
        return isinstance(target, dict) and "replay" in target

    targets = [s.target or cfg.target for s in cfg.suites] if cfg.suites is not None else [cfg.target]
    return not all(replays(t) for t in targets) or not replays(cfg.judge)
