"""Monthly cost of a scenario: the deterministic mean, and seeded Monte Carlo percentiles."""

from __future__ import annotations

import math
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gate.pricing import PriceSheet, Rate, Rates

from .inputs import Group, Profile, Route, Scenario

DEFAULT_DRAWS = 10_000
# No standard-normal draw goes further (the odds of one beyond 10 are below 1e-23).
Z_CEILING = 10.0


class NonFinite(ValueError):
    """A projected figure overflowed (1e308 requests a day grown by 4% a month is infinite): no figure
    is better than inf or nan in a report, so the projection stops and says which route."""


@dataclass(frozen=True)
class Spread:
    p50: float
    p95: float


@dataclass(frozen=True)
class RouteCost:
    name: str
    requests_month: float
    monthly_usd: float
    per_1k_usd: float  # per 1,000 requests, response-cache hits included
    by_model: Mapping[str, float]
    input_tokens: float
    output_tokens: float
    spread: Spread | None = None


@dataclass(frozen=True)
class ProfileCost:
    name: str
    days_per_month: float
    requests_month: float
    monthly_usd: float
    routes: tuple[RouteCost, ...]
    by_model: Mapping[str, float]
    spread: Spread | None = None  # None: every input is a fixed number

    def route(self, name: str) -> RouteCost | None:
        return next((r for r in self.routes if r.name == name), None)


def _rates_cost(rates: Rates, tin: Any, tout: Any, cached: float) -> Any:
    """USD of one call; a tier is chosen by the call's whole input, cached tokens included."""
    return (tin * (1.0 - cached) * rates.input.at(tin) + tin * cached * rates.cached_input.at(tin)
            + tout * rates.output.at(tin)) / 1e6


def _group_cost(g: Group, tin: Any, tout: Any) -> Any:
    cost = _rates_cost(g.sheet.standard, tin, tout, g.cached_input_ratio) * (1.0 - g.batch_share)
    if g.batch_share:
        cost = cost + _rates_cost(g.sheet.batch or g.sheet.standard, tin, tout, g.cached_input_ratio) * g.batch_share
    return g.share * cost


def route_cost(route: Route, requests_per_day: Any, tin: Any, tout: Any) -> dict[str, Any]:
    """Monthly USD by model for arrays of draws (or one-element arrays of the means)."""
    calls = requests_per_day * route.month_factor * route.calls_per_request
    out: dict[str, Any] = {}
    for g in route.groups:
        cost = calls * _group_cost(g, tin, tout)
        out[g.model] = out[g.model] + cost if g.model in out else cost
    return out


def may_overflow(scenario: Scenario) -> bool:
    """Whether some figure of project(scenario) could be inf or nan: every route priced with each input at the
    most a draw reaches and every token at its dearest tier. Plain floats, no numpy: checking gate.yaml's inputs
    (`gate validate`) projects only the traffic.yaml whose figures come near a float's range."""
    for profile in scenario.profiles:
        total = 0.0
        for route in profile.routes:
            requests = route.requests_per_day.ceiling(Z_CEILING)
            dearest = replace(route, groups=tuple(replace(g, sheet=_dearest(g.sheet)) for g in route.groups))
            costs = route_cost(dearest, requests, route.input_tokens.dist.ceiling(Z_CEILING),
                               route.output_tokens.dist.ceiling(Z_CEILING))
            total += requests * route.month_factor + sum(costs.values())
        if not math.isfinite(total):
            return True
    return False


def _dearest(sheet: PriceSheet) -> PriceSheet:
    def top(rate: Rate) -> Rate:
        return Rate(max([rate.base, *(price for _, price in rate.tiers)]))

    def tops(rates: Rates) -> Rates:
        return Rates(top(rates.input), top(rates.cached_input), top(rates.output))

    return replace(sheet, standard=tops(sheet.standard), batch=tops(sheet.batch) if sheet.batch else None)


def project(scenario: Scenario, *, draws: int = DEFAULT_DRAWS, seed: int = 0) -> tuple[ProfileCost, ...]:
    return tuple(project_profile(p, draws=draws, seed=seed) for p in scenario.profiles)


def project_profile(profile: Profile, *, draws: int = DEFAULT_DRAWS, seed: int = 0) -> ProfileCost:
    import numpy as np

    # An overflow is caught below, per route, as a non-finite figure: numpy's warning would only be noise.
    with np.errstate(all="ignore"):
        cost = _project_profile(profile, draws, seed)
    for r in cost.routes:
        figures = [r.requests_month, r.monthly_usd, r.per_1k_usd, r.input_tokens, r.output_tokens, *r.by_model.values(),
                   *((r.spread.p50, r.spread.p95) if r.spread else ())]
        if not all(math.isfinite(f) for f in figures):
            file, line = next(x.where for x in profile.routes if x.name == r.name)
            raise NonFinite(f"{file}:{line}: route {r.name!r} in profile {profile.name!r}: its projected monthly cost is "
                            "not a finite number: requests_per_day, growth or a token count is too large")
    totals = [cost.requests_month, cost.monthly_usd, *cost.by_model.values(),
              *((cost.spread.p50, cost.spread.p95) if cost.spread else ())]
    if not all(math.isfinite(f) for f in totals):
        file, line = profile.routes[0].where
        raise NonFinite(f"{file}:{line}: profile {profile.name!r}: its projected monthly total is not a finite number: "
                        "its routes' volumes or token counts are too large")
    return cost


def _project_profile(profile: Profile, draws: int, seed: int) -> ProfileCost:
    import numpy as np

    stochastic = any(r.requests_per_day.random or r.input_tokens.dist.random or r.output_tokens.dist.random
                     for r in profile.routes)
    # Volumes move together (a busy month is busy on every route): one draw per month, shared.
    # Token counts vary independently per route. Every stream is seeded by name, so adding a
    # route changes no other route's draws, and the base and head sides draw alike.
    z_volume = _rng(seed, profile.name).standard_normal(draws) if stochastic else None
    routes: list[RouteCost] = []
    total_draws = np.zeros(draws) if stochastic else None
    by_model: dict[str, float] = {}
    for route in profile.routes:
        mean = route_cost(route, np.array([route.requests_per_day.mean]), np.array([route.input_tokens.dist.mean]),
                          np.array([route.output_tokens.dist.mean]))
        models = {name: float(v[0]) for name, v in mean.items()}
        monthly = sum(models.values())
        requests = route.requests_per_day.mean * route.month_factor
        spread = None
        if z_volume is not None and total_draws is not None:
            rng = _rng(seed, profile.name, route.name)
            tin = route.input_tokens.dist.sample(rng.standard_normal(draws))
            tout = route.output_tokens.dist.sample(rng.standard_normal(draws))
            sampled = sum(route_cost(route, route.requests_per_day.sample(z_volume), tin, tout).values())
            sampled = sampled if isinstance(sampled, np.ndarray) else np.zeros(draws)
            total_draws += sampled
            spread = _spread(sampled)
        for name, value in models.items():
            by_model[name] = by_model.get(name, 0.0) + value
        routes.append(RouteCost(route.name, requests, monthly, monthly / requests * 1000 if requests else 0.0,
                                models, route.input_tokens.dist.mean, route.output_tokens.dist.mean, spread))
    return ProfileCost(profile.name, profile.days_per_month, sum(r.requests_month for r in routes),
                       sum(r.monthly_usd for r in routes), tuple(routes), by_model,
                       _spread(total_draws) if total_draws is not None else None)


def _rng(seed: int, *names: str) -> Any:
    import numpy as np

    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def _spread(values: Any) -> Spread:
    import numpy as np

    p50, p95 = np.percentile(values, [50, 95])
    return Spread(float(p50), float(p95))
