"""gate.yaml's `cost:` section (settings and budgets) and the findings budgets give."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.config import GateConfig
from gate.prompts import PromptFile
from gate.report import Finding, Severity

from .files import Files, WorkTree, read_prompt
from .model import DEFAULT_DRAWS, ProfileCost
from .money import EPSILON_USD, money, signed_money

if TYPE_CHECKING:
    from .diff import Diff

Location = tuple[str, int]  # (file as findings name it, line)


class Statistic(str, Enum):
    MEAN = "mean"
    P50 = "p50"
    P95 = "p95"

    def of(self, cost: ProfileCost) -> float:
        if self is Statistic.MEAN or cost.spread is None:
            return cost.monthly_usd
        return cost.spread.p50 if self is Statistic.P50 else cost.spread.p95


@dataclass(frozen=True)
class Level:
    warn: float | None
    fail: float | None
    at: tuple[str | int, ...]

    def breach(self, value: float) -> tuple[Severity, float] | None:
        if self.fail is not None and value > self.fail:
            return Severity.ERROR, self.fail
        if self.warn is not None and value > self.warn:
            return Severity.WARNING, self.warn
        return None


@dataclass(frozen=True)
class Budget:
    statistic: Statistic = Statistic.MEAN
    monthly_usd: Level | None = None
    max_increase_pct: Level | None = None
    max_increase_usd: Level | None = None
    max_cost_per_1k: Mapping[str, Level] = field(default_factory=dict)


@dataclass(frozen=True)
class CostSettings:
    traffic: Path
    profile: str | None
    horizon_months: int = 1
    draws: int = DEFAULT_DRAWS
    seed: int = 0
    budget: Budget = Budget()


def load_settings(config: GateConfig) -> CostSettings:
    """Raises ConfigError (exit 2) at gate.yaml:line:col; the schema has checked the types already."""
    section = config.section("cost") or {}
    traffic = config.resolve(str(section.get("traffic", "traffic.yaml")), "cost", "traffic")
    if traffic.is_dir():
        raise config.error(["cost", "traffic"], f"{section.get('traffic')}: is a directory, not a file")
    raw: Mapping[str, Any] = section.get("budget") or {}

    def level(value: Any, *at: str | int) -> Level | None:
        if value is None:
            return None
        path = ("cost", "budget", *at)
        if not isinstance(value, Mapping):
            return Level(None, float(value), path)
        warn, fail = value.get("warn"), value.get("fail")
        if warn is not None and fail is not None and warn > fail:
            raise config.error(list(path), f"warn ({warn:g}) is above fail ({fail:g}): warn must come first")
        return Level(None if warn is None else float(warn), None if fail is None else float(fail), path)

    per_1k = {route: lv for route, v in (raw.get("max_cost_per_1k") or {}).items()
              if (lv := level(v, "max_cost_per_1k", route)) is not None}
    budget = Budget(Statistic(raw.get("statistic", "mean")), level(raw.get("monthly_usd"), "monthly_usd"),
                    level(raw.get("max_increase_pct"), "max_increase_pct"),
                    level(raw.get("max_increase_usd"), "max_increase_usd"), per_1k)
    return CostSettings(traffic, section.get("profile"), int(section.get("horizon_months", 1)),
                        int(section.get("draws", DEFAULT_DRAWS)), int(section.get("seed", 0)), budget)


def suites_of(config: GateConfig, files: Files | None = None) -> dict[str, Path | None]:
    """The suites the regression check runs, by the names it gives them, with each one's prompt file:
    a suite's `name`, else its prompt's `name` (or file stem), else its dataset's stem; without
    `suites:`, every prompt file with testData is a suite. Read tolerantly: regression validates it. files: the tree
    the prompts are read from (the work tree's by default, the base commit's for the base's gate.yaml)."""
    tree = files or WorkTree()

    def prompt_at(path: Path) -> PromptFile | None:
        return read_prompt(tree, path, path.name)

    section = config.section("regression")
    if section is None:
        return {}
    suites = section.get("suites")
    out: dict[str, Path | None] = {}
    if suites is None:
        for path in config.prompt_files:
            prompt = prompt_at(path)
            if prompt is not None and prompt.test_data:
                out[prompt.name] = path
        return out
    for i, s in enumerate(suites if isinstance(suites, list) else []):
        if not isinstance(s, Mapping):
            continue
        suite_prompt = config.resolve(s["prompt"], "regression", "suites", i, "prompt", must_exist=False) \
            if isinstance(s.get("prompt"), str) else None
        prompt = prompt_at(suite_prompt) if suite_prompt is not None else None
        name = s.get("name") if isinstance(s.get("name"), str) else None
        if name is None and prompt is not None:
            name = prompt.name
        if name is None and isinstance(s.get("dataset"), str):
            name = Path(s["dataset"]).stem
        if name is not None:
            out.setdefault(name, suite_prompt)
    return out


def budget_findings(budget: Budget, head: ProfileCost, base: ProfileCost | None, gate_file: str,
                    config: GateConfig, route_lines: Mapping[str, Location], diff: Diff | None = None,
                    base_reason: str | None = None) -> list[Finding]:
    """diff: the change against the base, for its movers and the share that is only counting; base_reason: why the base
    that runs the cost check could not be compared, for the increase budgets that then were not evaluated (None where
    there is nothing to compare with: no base commit, or the cost check is new on this change)."""
    stat = budget.statistic
    movers = diff.movers() if diff is not None else []
    label = f"profile {head.name}: monthly cost" + ("" if stat is Statistic.MEAN else f" ({stat.value})")
    findings: list[Finding] = []

    def add(level: Level | None, value: float, text: str, limit_fmt: Any) -> None:
        hit = level.breach(value) if level else None
        if hit and level:
            kind = "fail" if hit[0] is Severity.ERROR else "warn"
            line = config.doc.locate(level.at).line
            findings.append(Finding(hit[0], f"{text}, over the {kind} budget of {limit_fmt(hit[1])}",
                                    gate_file, line, category="budget.cost"))

    now = stat.of(head)
    add(budget.monthly_usd, now, f"{label} {money(now)}", money)
    if base is None and base_reason is not None:
        for name, level in (("max_increase_usd", budget.max_increase_usd), ("max_increase_pct", budget.max_increase_pct)):
            if level is not None:  # a budget the gate could not evaluate must not read as one it passed
                findings.append(Finding(Severity.WARNING, f"{label}: the {name} budget was not evaluated: the base "
                                        f"was not compared ({base_reason})", gate_file,
                                        config.doc.locate(level.at).line, category="budget.cost"))
    elif base is not None:
        before = stat.of(base)
        delta = now - before
        why = f" ({money(before)} -> {money(now)}; moved by {', '.join(movers)})" if movers else \
            f" ({money(before)} -> {money(now)})"
        counting = diff.counting_usd if diff is not None else 0.0
        fired = len(findings)
        if abs(counting) >= EPSILON_USD:
            # One side's tokens measured, the other's estimated: the budget judges the change like for like (both
            # estimated), not the switch of counting, which would fire on a change that moves nothing.
            delta -= counting
            label = f"{label}, like for like,"
            why = (f"{why[:-1]}; {signed_money(counting)} of the change as counted is from tokens counted "
                   "differently on each side)")
        add(budget.max_increase_usd, delta, f"{label} rises by {money(delta)}{why}", money)
        if before > 0:
            add(budget.max_increase_pct, delta / before * 100, f"{label} rises by {delta / before * 100:.1f}%{why}",
                lambda v: f"{v:g}%")
        elif delta >= EPSILON_USD:  # from nothing: no percentage bounds the increase, so it breaches any
            add(budget.max_increase_pct, math.inf, f"{label} rises from nothing, an unbounded increase{why}",
                lambda v: f"{v:g}%")
        if abs(counting) >= EPSILON_USD and len(findings) == fired and (budget.max_increase_usd or budget.max_increase_pct):
            # Within budget like for like: the reviewer who reads the counted change in the summary learns why.
            alike = f"changes by {signed_money(delta)}" if abs(delta) >= EPSILON_USD else "does not change"
            findings.append(Finding(Severity.NOTICE, f"{label} {alike}, within the increase budgets; as counted "
                                    f"{signed_money(delta + counting)}, of which {signed_money(counting)} is from tokens "
                                    "counted differently on each side"))
    for name, level in budget.max_cost_per_1k.items():
        route = head.route(name)
        if route is None:
            continue
        hit = level.breach(route.per_1k_usd)
        if hit:
            kind = "fail" if hit[0] is Severity.ERROR else "warn"
            file, line = route_lines.get(name, (gate_file, config.doc.locate(level.at).line))
            findings.append(Finding(hit[0], f"route {name} costs {money(route.per_1k_usd)} per 1,000 requests in "
                                    f"profile {head.name}, over the {kind} budget of {money(hit[1])}", file, line,
                                    category="budget.cost"))
    return findings
