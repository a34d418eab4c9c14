"""The `cost` check: monthly cost from traffic profiles, the change against the base branch, budgets."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.baseconfig import base_config
from gate.config import GateConfig, display_path
from gate.context import CheckContext
from gate.errors import ConfigError
from gate.pricing import price_data_label
from gate.report import CheckResult, Finding, Severity, Status, status_from_findings
from gate.yamlfile import YamlError

from .config import CostSettings, budget_findings, load_settings, suites_of
from .files import BaseTree, Files, WorkTree
from .inputs import Inputs, MeasureKey, Scenario, build_scenario
from .model import NonFinite, ProfileCost, may_overflow, project
from .money import money
from .recorded import recorded_usage
from .tokens import Measured, measured_usage, unmeasured

if TYPE_CHECKING:
    from .diff import Diff

MAX_LINES = 20


class CostCheck:
    name = "cost"
    section = "cost"
    description = "Projects the monthly cost from traffic.yaml, compares it with the base branch, and gates on budgets."
    order = 60

    def prepare(self, config: GateConfig) -> None:
        """traffic.yaml is the cost check's own input, named by gate.yaml: a broken profile is a
        configuration error (exit 2, file:line) before any check spends time or money."""
        settings = load_settings(config)
        inputs = _inputs(config, settings, display_path)
        # A suite's recorded usage stands in for the numbers a route would otherwise need (e.g. no maxTokens).
        inputs = replace(inputs, measured=recorded_usage(WorkTree(), config, display_path, inputs.root))
        built = build_scenario(WorkTree(), inputs)
        if built.problems:
            raise ConfigError(built.problems[0], lines=tuple(built.problems[1:MAX_LINES]))
        if built.scenario is not None:  # else models.yaml or a prompt is broken: run() reports it
            _check_names(config, settings, built.scenario)
            # The numbers may be valid one by one and still overflow together: projected here only when a
            # bound says they might, which names the route; the projection itself is run()'s.
            if may_overflow(built.scenario):
                try:
                    project(built.scenario, draws=settings.draws, seed=settings.seed)
                except NonFinite as exc:
                    raise ConfigError(str(exc)) from None

    def run(self, ctx: CheckContext) -> CheckResult:
        # The comparison and its report: a run's, not `gate validate`'s, which imports neither.
        from .diff import diffs_of, estimated_alike
        from .report import details_of, notices, summary_of

        settings = load_settings(ctx.config)
        chosen = ctx.options.get("cost_profile") or settings.profile
        settings = replace(settings, profile=chosen)
        inputs = _inputs(ctx.config, settings, ctx.display)
        # The recording the regression replays comes first: `gate cost`, which runs no regression, reads it too.
        inputs = replace(inputs, measured=recorded_usage(WorkTree(), ctx.config, ctx.display, inputs.root,
                                                         beneath=_measured(ctx, suites_of(ctx.config))))
        built = build_scenario(WorkTree(), inputs)
        head_scenario = built.scenario
        if built.defects and not built.problems:
            return CheckResult(self.name, Status.FAIL, f"cannot project the cost: {built.first()}",
                               findings=tuple(built.defects))
        if head_scenario is None:
            return CheckResult(self.name, Status.ERROR, f"could not complete: {built.first()}")
        if chosen is not None and head_scenario.profile(chosen) is None:
            return CheckResult(self.name, Status.ERROR, f"could not complete: no profile {chosen!r} in "
                               f"{inputs.traffic_display} (profiles: {', '.join(p.name for p in head_scenario.profiles)})")
        chosen = chosen or head_scenario.profiles[0].name
        try:
            heads = project(head_scenario, draws=settings.draws, seed=settings.seed)
        except NonFinite as exc:
            return CheckResult(self.name, Status.ERROR, f"could not complete: {exc}")
        findings: list[Finding] = []
        side = self._base(ctx, head_scenario, findings)
        bases, base_reason, base_scenario = side.costs, side.reason, side.scenario
        # Each side says how it counted its tokens, so a diff of measured against estimated says so too.
        diffs = diffs_of(heads, bases, head_scenario, base_scenario,
                         lambda: estimated_alike(WorkTree(), inputs, BaseTree(ctx.base), side.inputs or inputs))
        head = next(h for h in heads if h.name == chosen)
        base = _named(bases, chosen)
        if bases is not None and base is None:
            base_reason = f"profile {chosen} is new: the base's {(side.inputs or inputs).traffic_display} has no such profile"
        chosen_diff = diffs.get(chosen)
        route_lines = {r.name: r.where for p in head_scenario.profiles if p.name == chosen for r in p.routes}
        findings += budget_findings(settings.budget, head, base, ctx.display(ctx.config.path), ctx.config,
                                    route_lines, chosen_diff, base_reason if side.expected else None)
        findings += notices(head_scenario, chosen)
        regression = ctx.results.get("regression")
        measured = {s for p in head_scenario.profiles if p.name == chosen for r in p.routes for s in r.suites}
        findings += unmeasured(regression.details if regression else None, sorted(measured))
        metrics = _metrics(head, base, chosen_diff)
        details = details_of(head_scenario, heads, chosen, settings, diffs, bases is not None, base_reason,
                             ctx.base.ref, price_data_label())
        return CheckResult(self.name, status_from_findings(findings),
                           summary_of(heads, chosen, chosen_diff, ctx.base.ref, head_scenario, base_reason),
                           metrics=metrics, findings=tuple(findings), details=details)

    def markdown_details(self, result: CheckResult) -> str:
        from .render import markdown_details

        return markdown_details(result.details, result.findings)

    def _base(self, ctx: CheckContext, head: Scenario, findings: list[Finding]) -> _BaseSide:
        """The cost `gate check` reports on the base commit: its own gate.yaml (cost section, traffic.yaml, models.yaml,
        suites and their recordings) read there with git; the change's gate.yaml stands in only where the base has
        none, or one that cannot be read, and a notice says so."""
        if not ctx.base.available:
            return _BaseSide(None, ctx.base.reason or "no base ref")
        found = base_config(ctx.config, ctx.base)
        if found.note:
            findings.append(Finding(Severity.NOTICE, f"the base's cost is computed through this change's gate.yaml: "
                                    f"{found.note}"))
        tree = BaseTree(ctx.base)
        inputs: Inputs | None = None
        expected = found.runs("cost")
        try:
            if found.own and not expected:
                return _BaseSide(None, f"the base's gate.yaml has no cost section ({ctx.base.ref})")
            settings = load_settings(found.config)
            inputs = _inputs(found.config, settings, ctx.display, tree)
            if ctx.base.relpath(inputs.traffic_path) is None:
                return _BaseSide(None, f"{inputs.traffic_display} is outside the git repository", inputs=inputs,
                                 expected=expected)
            if tree.read(inputs.traffic_path, inputs.traffic_display) is None:
                return _BaseSide(None, f"{inputs.traffic_display} does not exist on the base ({ctx.base.ref})",
                                 inputs=inputs, expected=expected)
            # The base by its own rule: its own recorded usage; a measurement of this run alone is carried over.
            recorded = recorded_usage(tree, found.config, ctx.display, inputs.root)
            inputs = replace(inputs, anchors=head.anchors, measured=recorded)
            built = build_scenario(tree, inputs)
            why = built.first() if built.scenario is None else None
            if built.scenario is not None:
                costs = project(built.scenario, draws=settings.draws, seed=settings.seed)
                return _BaseSide(costs, None, built.scenario, inputs, expected)
        except (YamlError, NonFinite, ConfigError) as exc:  # unreadable, overflowing, or a path not there: why
            why = str(exc)
        why = f"the base's cost could not be computed ({ctx.base.ref}): {why}"
        findings.append(Finding(Severity.NOTICE, why))
        return _BaseSide(None, why, inputs=inputs, expected=expected)


@dataclass(frozen=True)
class _BaseSide:
    """The base's costs, or why there are none; its scenario and the inputs it was built from."""

    costs: tuple[ProfileCost, ...] | None
    reason: str | None
    scenario: Scenario | None = None
    inputs: Inputs | None = None
    # The base runs the cost check (BaseConfig.runs): an increase budget it cannot be compared with is not evaluated.
    expected: bool = False


def _named(costs: tuple[ProfileCost, ...] | None, name: str) -> ProfileCost | None:
    return next((c for c in costs or () if c.name == name), None)


def _inputs(config: GateConfig, settings: CostSettings, display: Any, files: Files | None = None) -> Inputs:
    models = config.models_path
    return Inputs(settings.traffic, display(settings.traffic), models, display(models) if models else "models.yaml",
                  settings.horizon_months, suites_of(config, files), {}, None, datetime.now(timezone.utc),
                  display, config.repo)


def _measured(ctx: CheckContext, suites: Mapping[str, Path | None]) -> dict[MeasureKey, Measured]:
    result = ctx.results.get("regression")
    if result is None or result.status in (Status.SKIP, Status.ERROR):
        return {}
    out: dict[MeasureKey, Measured] = {}
    for suite in suites:
        for key in ("input_tokens", "output_tokens"):
            found = measured_usage(result.details, suite, key)
            if found is not None:
                out[(suite, key)] = found
    return out


def _check_names(config: GateConfig, settings: CostSettings, scenario: Scenario) -> None:
    names = [p.name for p in scenario.profiles]
    if settings.profile is not None and settings.profile not in names:
        raise config.error(["cost", "profile"], f"no profile {settings.profile!r} in traffic.yaml{_close(settings.profile, names)}")
    routes = sorted({r.name for p in scenario.profiles for r in p.routes})
    for route, level in settings.budget.max_cost_per_1k.items():
        if route not in routes:
            raise config.error(list(level.at), f"no route {route!r} in traffic.yaml{_close(route, routes)}")


def _close(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"
    return f" (known: {', '.join(known)})" if known else ""


def _metrics(head: ProfileCost, base: ProfileCost | None, d: Diff | None) -> dict[str, Any]:
    metrics: dict[str, Any] = {"monthly_usd": round(head.monthly_usd, 2), "requests_month": round(head.requests_month)}
    if head.spread is not None:
        metrics["monthly_usd_p50"] = round(head.spread.p50, 2)
        metrics["monthly_usd_p95"] = round(head.spread.p95, 2)
    if base is not None and d is not None:
        metrics["monthly_usd_base"] = round(base.monthly_usd, 2)
        metrics["delta_usd"] = round(d.delta_usd, 2)
        if d.delta_pct is not None:
            metrics["delta_pct"] = round(d.delta_pct, 2)
    metrics["per_1k_usd"] = round(head.monthly_usd / head.requests_month * 1000, 4) if head.requests_month else 0.0
    return metrics


__all__ = ["CostCheck", "money"]
