"""The cost check's summary line, notices and `details` (the JSON every renderer reads)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gate.report import Finding, Severity

from .diff import Diff
from .inputs import Basis, Route, Scenario
from .model import ProfileCost, RouteCost
from .money import money, pct, signed_money

if TYPE_CHECKING:
    from .config import CostSettings


def _r(value: float) -> float:
    return round(value, 4)


def model_mix(route: Route) -> list[str]:
    """Which models serve the route's calls, with their shares when there is more than one."""
    shares: dict[str, float] = {}
    for g in route.groups:
        shares[g.model] = shares.get(g.model, 0.0) + g.share
    if len(shares) == 1:
        return list(shares)
    return [f"{name} {share * 100:.3g}%" for name, share in shares.items()]


def _route(route: Route, cost: RouteCost) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": cost.name, "models": model_mix(route), "requests_month": _r(cost.requests_month),
        "monthly_usd": _r(cost.monthly_usd), "per_1k_usd": _r(cost.per_1k_usd),
        "by_model": {k: _r(v) for k, v in cost.by_model.items()},
        "input_tokens": {"value": _r(cost.input_tokens), "source": route.input_tokens.source,
                         "estimated": route.input_tokens.estimated},
        "output_tokens": {"value": _r(cost.output_tokens), "source": route.output_tokens.source,
                          "estimated": route.output_tokens.estimated},
    }
    if cost.spread is not None:
        out["p50_usd"], out["p95_usd"] = _r(cost.spread.p50), _r(cost.spread.p95)
    return out


def _profile(scenario: Scenario, cost: ProfileCost) -> dict[str, Any]:
    spec = scenario.profile(cost.name)
    routes = {r.name: r for r in spec.routes} if spec else {}
    out: dict[str, Any] = {
        "name": cost.name, "days_per_month": cost.days_per_month, "requests_month": _r(cost.requests_month),
        "monthly_usd": _r(cost.monthly_usd), "by_model": {k: _r(v) for k, v in cost.by_model.items()},
        "routes": [_route(routes[r.name], r) for r in cost.routes],
    }
    if cost.spread is not None:
        out["p50_usd"], out["p95_usd"] = _r(cost.spread.p50), _r(cost.spread.p95)
    return out


def _diff(d: Diff) -> dict[str, Any]:
    return {
        "profile": d.profile, "base_usd": _r(d.base_usd), "head_usd": _r(d.head_usd), "delta_usd": _r(d.delta_usd),
        "delta_pct": None if d.delta_pct is None else round(d.delta_pct, 2), "sentence": d.sentence(),
        # The routes whose tokens were counted differently on each side (measured, estimated, given).
        "unlike": [r.name for r in d.routes if r.bases],
        "routes": [{"name": r.name, "base_usd": None if r.base_usd is None else _r(r.base_usd),
                    "head_usd": None if r.head_usd is None else _r(r.head_usd), "delta_usd": _r(r.delta_usd),
                    "moved": {k: list(v) for k, v in r.moved.items()},
                    "bases": {k: [b.value, h.value] for k, (b, h) in r.bases.items()},
                    "alike_usd": None if r.alike_usd is None else _r(r.alike_usd),
                    "note": r.note, "counting_only": r.counting_only}
                   for r in d.routes],
    }


def _estimated(scenario: Scenario, profile: str) -> list[str]:
    spec = scenario.profile(profile)
    out = []
    for r in spec.routes if spec else ():
        for key, tokens in (("input", r.input_tokens), ("output", r.output_tokens)):
            if tokens.estimated:
                out.append(f"{r.name} {key}")
    return out


def details_of(scenario: Scenario, heads: tuple[ProfileCost, ...], chosen: str, settings: CostSettings,
               diffs: Mapping[str, Diff], compared: bool, reason: str | None, base_ref: str | None,
               price_data: str) -> dict[str, Any]:
    head = next(h for h in heads if h.name == chosen)
    chosen_diff = diffs.get(chosen)
    sources = sorted({f"{r.name} {key}: {t.source}" for p in scenario.profiles for r in p.routes
                      for key, t in (("input", r.input_tokens), ("output", r.output_tokens)) if t.basis is not Basis.GIVEN})
    prices = {name: {"source": s.source, "input_per_mtok": s.standard.input.base,
                     "cached_input_per_mtok": s.standard.cached_input.base, "output_per_mtok": s.standard.output.base,
                     "tiered": bool(s.standard.input.tiers or s.standard.output.tiers), "batch_rates": s.batch is not None}
              for name, s in sorted(scenario.sheets.items())}
    return {
        "headline": {"value": f"{money(head.monthly_usd)}/mo", "change": chosen_diff.change() if chosen_diff else None},
        "profile": chosen,
        "statistic": settings.budget.statistic.value,
        "horizon_months": settings.horizon_months,
        "draws": settings.draws,
        "seed": settings.seed,
        "price_data": price_data,
        "prices": prices,
        "estimated": bool(_estimated(scenario, chosen)),
        "token_sources": sources,
        "profiles": [_profile(scenario, h) for h in heads],
        "base": {"compared": compared, "ref": base_ref, "reason": reason},
        "diff": _diff(chosen_diff) if chosen_diff else None,
        "diffs": {name: {k: v for k, v in _diff(d).items() if k != "routes"} for name, d in diffs.items()},
    }


def notices(scenario: Scenario, profile: str) -> list[Finding]:
    out: list[Finding] = []
    estimated = _estimated(scenario, profile)
    if estimated:
        out.append(Finding(Severity.NOTICE, f"tokens estimated from the prompt file, not measured: "
                           f"{', '.join(estimated)} (measure them with {{measured: SUITE}} and the suite's answers recorded "
                           "by gate check --record; or give numbers in traffic.yaml)"))
    spec = scenario.profile(profile)
    for r in spec.routes if spec else ():
        plain = sorted({g.model for g in r.groups if g.batch_share > 0 and g.sheet.batch is None})
        if plain:
            out.append(Finding(Severity.NOTICE, f"route {r.name}: the price data has no batch rate for "
                               f"{', '.join(plain)}: its batch share is priced at the standard rate",
                               r.where[0], r.where[1]))
    return out


def summary_of(heads: tuple[ProfileCost, ...], chosen: str, d: Diff | None, base_ref: str | None,
               scenario: Scenario, base_reason: str | None) -> str:
    head = next(h for h in heads if h.name == chosen)
    text = f"{chosen} {money(head.monthly_usd)}/mo"
    if head.spread is not None:
        text += f" (p95 {money(head.spread.p95)})"
    if d is not None:
        change = f"{signed_money(d.delta_usd)}, {pct(d.delta_pct)}" if d.delta_pct is not None and d.changed else (
            signed_money(d.delta_usd) if d.changed else "no change")
        text += f", {change} vs {base_ref or 'base'}"
        unlike = [r.name for r in d.routes if r.bases]
        if unlike:
            text += f" (tokens counted differently on each side: {', '.join(unlike)})"
    elif base_reason:
        text += ", base not compared"
    others = [f"{h.name} {money(h.monthly_usd)}/mo" for h in heads if h.name != chosen]
    if others:
        text += "; " + ", ".join(others)
    if _estimated(scenario, chosen):
        text += "; tokens estimated"
    from gate.pricing import price_data_label

    label = price_data_label()
    return f"{text}; prices: {label.replace(' bundled snapshot', '').replace('newest dated price ', '')}"
