"""The change against the base branch, in the words of a pull request: which routes moved the bill."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from gate.yamlfile import YamlError

from .files import Files
from .inputs import Basis, Inputs, Scenario, build_scenario
from .model import NonFinite, ProfileCost, RouteCost, project
from .money import EPSILON_USD, money, pct, signed_money

TOKEN_KEYS = ("input_tokens", "output_tokens")
# route -> token key -> basis
Bases = Mapping[str, Mapping[str, Basis]]


def bases_of(scenario: Scenario, profile: str) -> dict[str, dict[str, Basis]]:
    spec = scenario.profile(profile)
    return {r.name: {key: getattr(r, key).basis for key in TOKEN_KEYS} for r in (spec.routes if spec else ())}


@dataclass(frozen=True)
class RouteDelta:
    name: str
    base_usd: float | None  # None: the route is new
    head_usd: float | None  # None: the route was removed
    delta_usd: float
    # The inputs that moved, as (base, head): what a reviewer checks the change against.
    moved: dict[str, tuple[Any, Any]] = field(default_factory=dict)
    # The token counts measured on one side and estimated (or given) on the other, as (base, head).
    bases: dict[str, tuple[Basis, Basis]] = field(default_factory=dict)
    # When one side measured and the other estimated: the change with both sides' tokens estimated from
    # their own prompt files, the like-for-like figure (None: not computed, or not computable).
    alike_usd: float | None = None

    @property
    def unlike(self) -> str | None:
        """"head tokens estimated, base measured" when the two sides count tokens differently."""
        if not self.bases:
            return None
        pairs = sorted(set(self.bases.values()))
        if len(pairs) == 1:
            what = "tokens" if len(self.bases) == len(TOKEN_KEYS) else f"{_word(next(iter(self.bases)))} tokens"
            return _unlike(what, *pairs[0])
        return "; ".join(_unlike(f"{_word(k)} tokens", *pair) for k, pair in self.bases.items())

    @property
    def counting_only(self) -> bool:
        """The route's cost moved, but not with both sides estimated alike: the whole change comes from
        counting tokens differently (a recording gone stale or newly made), not from the change itself."""
        return self.alike_usd is not None and abs(self.alike_usd) < EPSILON_USD <= abs(self.delta_usd)

    @property
    def note(self) -> str | None:
        unlike = self.unlike
        if unlike is None:
            return None
        if self.counting_only:
            return f"{unlike}; all of it from the counting (both estimated: no change)"
        if self.alike_usd is not None:
            alike = signed_money(self.alike_usd) if abs(self.alike_usd) >= EPSILON_USD else "no change"
            return f"{unlike}; both estimated: {alike}"
        return unlike

    @property
    def label(self) -> str:
        note = f"; {self.note}" if self.note else ""
        if self.base_usd is None:
            return f"{self.name} (new, {signed_money(self.delta_usd)})"
        if self.head_usd is None:
            return f"{self.name} (removed, {signed_money(self.delta_usd)})"
        return f"{self.name} ({signed_money(self.delta_usd)}{note})"


def _word(key: str) -> str:
    return key.split("_")[0]


def _unlike(what: str, base: Basis, head: Basis) -> str:
    return f"head {what} {head.value}, base {base.value}"


@dataclass(frozen=True)
class Diff:
    profile: str
    base_usd: float
    head_usd: float
    routes: tuple[RouteDelta, ...]  # largest move first

    @property
    def delta_usd(self) -> float:
        return self.head_usd - self.base_usd

    @property
    def delta_pct(self) -> float | None:
        return self.delta_usd / self.base_usd * 100 if self.base_usd > 0 else None

    @property
    def changed(self) -> bool:
        return abs(self.delta_usd) >= EPSILON_USD

    @property
    def counting_usd(self) -> float:
        """The part of the change that comes from counting tokens differently on each side (a route measured on one
        side, estimated on the other), where the like-for-like figure is known: what a budget leaves out."""
        return sum(r.delta_usd - r.alike_usd for r in self.routes if r.unlike and r.alike_usd is not None)

    def movers(self, limit: int = 3) -> list[str]:
        moved = [r for r in self.routes if abs(r.delta_usd) >= EPSILON_USD]
        out = [r.label for r in moved[:limit]]
        return out + [f"{len(moved) - limit} more"] if len(moved) > limit else out

    def change(self) -> str | None:
        """Short, for the headline: "+$412 (+18.3%)"; None when nothing moved."""
        if not self.changed:
            return None
        rel = self.delta_pct
        return signed_money(self.delta_usd) + (f" ({pct(rel)})" if rel is not None else " (new)")

    def sentence(self) -> str:
        """Infracost's sentence: "Monthly cost will increase by $412 (+18.3%), $2,250 -> $2,662"."""
        if not self.changed:
            return f"Monthly cost will not change: {money(self.head_usd)}"
        verb = "increase" if self.delta_usd > 0 else "decrease"
        rel = self.delta_pct
        share = f" ({pct(rel)})" if rel is not None else ""
        text = f"Monthly cost will {verb} by {money(abs(self.delta_usd))}{share}, " \
               f"{money(self.base_usd)} -> {money(self.head_usd)}"
        movers = self.movers()
        return text + (f"; moved by {', '.join(movers)}" if movers else "")


Alike = tuple[ProfileCost, ProfileCost]  # (base, head) of one profile, every token count estimated


def diff(base: ProfileCost, head: ProfileCost, base_bases: Bases | None = None, head_bases: Bases | None = None,
         alike: Alike | None = None) -> Diff:
    """base_bases, head_bases: how each side's tokens were counted, by route (bases_of); alike: both sides
    priced with estimated tokens (estimated_alike), for the routes measured on one side only."""
    names = [r.name for r in head.routes] + [r.name for r in base.routes if head.route(r.name) is None]
    rows = []
    for name in names:
        b, h = base.route(name), head.route(name)
        b_usd = b.monthly_usd if b else None
        h_usd = h.monthly_usd if h else None
        switched = _switched((base_bases or {}).get(name, {}), (head_bases or {}).get(name, {})) if b and h else {}
        alike_usd = None
        if alike is not None and any(Basis.MEASURED in pair for pair in switched.values()):
            b_est, h_est = alike[0].route(name), alike[1].route(name)
            alike_usd = h_est.monthly_usd - b_est.monthly_usd if b_est and h_est else None
        rows.append(RouteDelta(name, b_usd, h_usd, (h_usd or 0.0) - (b_usd or 0.0), moved_inputs(b, h),
                               switched, alike_usd))
    rows.sort(key=lambda r: (-abs(r.delta_usd), r.name))
    return Diff(head.name, base.monthly_usd, head.monthly_usd, tuple(rows))


def moved_inputs(base: RouteCost | None, head: RouteCost | None) -> dict[str, tuple[Any, Any]]:
    """Volume, tokens and models of a route that differ between base and head, as they are shown
    (a move below the displayed precision is no move)."""
    if base is None or head is None:
        return {}
    out: dict[str, tuple[Any, Any]] = {}
    for key in ("requests_month", "input_tokens", "output_tokens"):
        b, h = getattr(base, key), getattr(head, key)
        if f"{b:,.0f}" != f"{h:,.0f}":
            out[key] = (round(b, 4), round(h, 4))
    if sorted(base.by_model) != sorted(head.by_model):
        out["models"] = (sorted(base.by_model), sorted(head.by_model))
    return out


def _switched(base: Mapping[str, Basis], head: Mapping[str, Basis]) -> dict[str, tuple[Basis, Basis]]:
    return {k: (base[k], head[k]) for k in TOKEN_KEYS if k in base and k in head and base[k] != head[k]}


def diffs_of(heads: tuple[ProfileCost, ...], bases: tuple[ProfileCost, ...] | None, head: Scenario,
             base: Scenario | None, alike: Callable[[], tuple[tuple[ProfileCost, ...], tuple[ProfileCost, ...]] | None]
             ) -> dict[str, Diff]:
    """The diff of every profile both sides have. Where one side measured a route's tokens and the other
    estimated them, both sides are priced again with estimated tokens (alike(), called only then), so the
    change the pull request made is told apart from the change in how tokens were counted."""
    pairs = {h.name: (b, h) for h in heads if (b := _named(bases, h.name)) is not None}
    of_base = {name: bases_of(base, name) for name in pairs} if base is not None else {}
    of_head = {name: bases_of(head, name) for name in pairs}
    plain = {name: diff(b, h, of_base.get(name), of_head[name]) for name, (b, h) in pairs.items()}
    if not any(Basis.MEASURED in pair for d in plain.values() for r in d.routes for pair in r.bases.values()):
        return plain
    estimated = alike()
    if estimated is None:
        return plain
    out = {}
    for name, (b, h) in pairs.items():
        b_est, h_est = _named(estimated[0], name), _named(estimated[1], name)
        out[name] = diff(b, h, of_base.get(name), of_head[name], (b_est, h_est) if b_est and h_est else None)
    return out


def _named(costs: tuple[ProfileCost, ...] | None, name: str) -> ProfileCost | None:
    return next((c for c in costs or () if c.name == name), None)


def estimated_alike(head_files: Files, head: Inputs, base_files: Files, base: Inputs
                    ) -> tuple[tuple[ProfileCost, ...], tuple[ProfileCost, ...]] | None:
    """(base, head) priced with no measurement at all: every token count a route measures is estimated from
    its prompt file on each side (each side's own inputs), as either side could. None when a side cannot be priced so."""
    out = []
    for files, inputs, anchors in ((base_files, base, {}), (head_files, head, None)):
        try:
            built = build_scenario(files, replace(inputs, measured={}, anchors=anchors))
            if built.scenario is None:
                return None
            out.append(project(built.scenario, draws=1))  # the means are what is compared
        except (YamlError, NonFinite):
            return None
    return out[0], out[1]
