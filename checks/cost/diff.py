"""The change against the base branch, in the words of a pull request: which routes moved the bill."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .model import ProfileCost, RouteCost

# A change smaller than this (USD a month) is "no change": float noise, not a decision.
EPSILON_USD = 0.005


def money(value: float) -> str:
    sign = "-" if value < 0 else ""
    v = abs(value)
    if v >= 100:
        return f"{sign}${v:,.0f}"
    if v >= 0.01 or v == 0:
        return f"{sign}${v:,.2f}"
    return f"{sign}${v:.2g}"


def signed_money(value: float) -> str:
    return ("+" if value >= 0 else "") + money(value)


def pct(value: float) -> str:
    return f"{value:+.1f}%"


@dataclass(frozen=True)
class RouteDelta:
    name: str
    base_usd: float | None  # None: the route is new
    head_usd: float | None  # None: the route was removed
    delta_usd: float
    # The inputs that moved, as (base, head): what a reviewer checks the change against.
    moved: dict[str, tuple[Any, Any]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        if self.base_usd is None:
            return f"{self.name} (new, {signed_money(self.delta_usd)})"
        if self.head_usd is None:
            return f"{self.name} (removed, {signed_money(self.delta_usd)})"
        return f"{self.name} ({signed_money(self.delta_usd)})"


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


def diff(base: ProfileCost, head: ProfileCost) -> Diff:
    names = [r.name for r in head.routes] + [r.name for r in base.routes if head.route(r.name) is None]
    rows = []
    for name in names:
        b, h = base.route(name), head.route(name)
        b_usd = b.monthly_usd if b else None
        h_usd = h.monthly_usd if h else None
        rows.append(RouteDelta(name, b_usd, h_usd, (h_usd or 0.0) - (b_usd or 0.0), moved_inputs(b, h)))
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
