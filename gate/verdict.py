"""The verdict of one comparison: when a drop fails the gate (the decision rule), what else it can be, the reviewer's
words for it, and how a p-value is printed beside alpha."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum


def is_regression(delta: float, p_value: float, *, alpha: float = 0.05, tolerance: float = 0.0) -> bool:
    """The `significant_drop` rule: a drop fails when it is both significant and larger than the tolerance."""
    return delta < -tolerance and p_value < alpha


class Decision(str, Enum):
    """When a drop fails the gate."""

    NON_INFERIORITY = "non_inferiority"  # the interval of the change lies below -tolerance
    SIGNIFICANT_DROP = "significant_drop"  # a significant drop whose observed size exceeds the tolerance


class Verdict(str, Enum):
    REGRESSION = "regression"
    TOO_FEW = "too_few"  # a drop this suite is too small to confirm or rule out
    SIGNIFICANT_WITHIN_TOLERANCE = "significant_within_tolerance"  # the drop's estimate is within the tolerance
    # Non-inferiority: a significant drop whose estimate exceeds the tolerance, its interval reaching inside it.
    SIGNIFICANT_NOT_BEYOND = "significant_not_beyond_tolerance"
    IMPROVED = "improved"
    NO_SIGNIFICANT_CHANGE = "no_significant_change"


@dataclass(frozen=True)
class Evidence:
    """One comparison as the rule reads it; p-values already corrected for multiple comparisons."""

    delta: float
    high: float  # upper end of the interval of the change
    p_value: float  # two-sided, "no change", corrected for multiple comparisons
    p_beyond: float  # "the drop is no larger than the tolerance", on the scale of the interval shown
    mde: float  # NaN: no drop could be significant at this n


def decide(e: Evidence, *, alpha: float, tolerance: float, decision: Decision) -> Verdict:
    """Non-inferiority fails a drop when the interval the reviewer reads lies below -tolerance AND the drop is
    significant at all (the exact test, corrected for every comparison of the run): the second keeps a few cases
    that all moved one way (whose bootstrap interval is a single point) from proving anything."""
    if decision is Decision.NON_INFERIORITY:
        failing = e.delta < 0 and e.p_beyond < alpha and e.p_value < alpha
    else:
        failing = is_regression(e.delta, e.p_value, alpha=alpha, tolerance=tolerance)
    if failing:
        return Verdict.REGRESSION
    significant = e.p_value < alpha
    if e.delta < 0 and significant:
        # Under significant_drop a significant drop that does not fail is within the tolerance; under
        # non-inferiority it may be larger, and only not shown beyond it.
        return Verdict.SIGNIFICANT_NOT_BEYOND if -e.delta > tolerance else Verdict.SIGNIFICANT_WITHIN_TOLERANCE
    if e.delta > 0 and significant:
        return Verdict.IMPROVED
    # A drop the suite could not have detected: either no drop can be significant at this n, or the data point
    # below zero (the interval clears it) while the test cannot say so. "No significant drop" would mislead.
    if e.delta < 0 and (math.isnan(e.mde) or (e.mde > -e.delta and e.high < 0)):
        return Verdict.TOO_FEW
    return Verdict.NO_SIGNIFICANT_CHANGE


def pts(fraction: float) -> str:
    """A change in points, without a sign: 0.04 -> '4.0 pts'."""
    return f"{abs(fraction) * 100:.1f} pts"


@dataclass(frozen=True)
class Context:
    """What the words of a verdict need beside its Evidence: `noun` for what was compared ("cases", "queries"),
    `p_alone` the p-value before the correction, `correction` how the sentence "drop of X is significant alone
    (p)" ends when the correction is what made it not significant, `units` the clusters (when fewer than n), and
    `needed` how many would detect this drop."""

    alpha: float
    tolerance: float
    n: int
    noun: str
    p_alone: float
    correction: str
    units: int = 0
    needed: int | None = None


def words(v: Verdict, e: Evidence, c: Context) -> str:
    """What the verdict means for this comparison, in the reviewer's words: each true of its figures."""
    drop, tolerance = pts(e.delta), f"{c.tolerance * 100:g}-pt tolerance"
    p = format_p(e.p_value, c.alpha)
    if v is Verdict.REGRESSION:
        return f"regression: drop of {drop}" + (f" (beyond the {tolerance})" if c.tolerance else "")
    if v is Verdict.SIGNIFICANT_WITHIN_TOLERANCE:
        return f"drop of {drop} is significant but within the {tolerance}"
    if v is Verdict.SIGNIFICANT_NOT_BEYOND:
        beyond = format_p(e.p_beyond, c.alpha)
        if not c.tolerance:  # the exact test says significant; the interval still reaches 0
            return f"drop of {drop} is significant ({p}), but its interval reaches 0 ({beyond})"
        return (f"drop of {drop} is significant ({p}) and larger than the {tolerance}, but not significantly "
                f"beyond it ({beyond})")
    if v is Verdict.IMPROVED:
        return f"improved by {pts(e.delta)}"
    lost = None
    if e.delta < 0 and c.p_alone < c.alpha <= e.p_value:
        lost = f"drop of {drop} is significant alone ({format_p(c.p_alone, c.alpha)}), {c.correction}"
    if v is Verdict.TOO_FEW:
        if lost:
            return lost
        more = f"; about {c.needed} {c.noun} would detect a drop of {drop}" if c.needed else ""
        clusters = f", in {c.units} clusters" if 0 < c.units < c.n else ""
        return f"too few {c.noun} to tell (n={c.n}{clusters}){more}"
    if math.isnan(e.mde):
        return f"no drop, but too few {c.noun} (n={c.n}) for any drop to be significant"
    if e.delta < 0 and e.high < 0:  # the interval says drop; the test did not confirm it
        return lost or f"drop of {drop}: its interval lies below 0, but its test does not confirm it " \
                       f"({format_p(c.p_alone)})"
    return "no significant change"


def _ambiguous(shown: float, p: float, alpha: float) -> bool:
    """Whether a rounded p reads as on the other side of alpha, or as alpha itself, when it is not."""
    return (shown < alpha) != (p < alpha) or (shown == alpha and p != alpha)


def stored_p(p: float) -> float:
    """A p-value as the report keeps it: six significant digits, so that it prints as the verdict's words print
    it (0.0009999 rounded to six decimals would read "p=0.001" beside a text that says "p<0.001")."""
    return float(f"{p:.6g}")


def format_p(p: float, alpha: float | None = None) -> str:
    """'p<0.001', 'p=0.004', 'p=0.047', 'p=0.31'; near alpha with as many digits as it takes to stay on its side
    of alpha (0.0496 is 'p=0.0496' beside alpha 0.05, never 'p=0.050')."""
    if p < 0.001:
        return "p<0.001"
    digits = 3 if p < 0.1 else 2
    if alpha is not None:
        while digits < 6 and _ambiguous(round(p, digits), p, alpha):
            digits += 1
    return f"p={p:.{digits}f}"
