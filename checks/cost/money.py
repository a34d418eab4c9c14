"""Dollars and changes as a pull request reads them."""

from __future__ import annotations

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
