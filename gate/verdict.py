"""The verdict of one comparison: when a drop fails the gate (the decision rule), what else it can be, and how a
p-value is printed beside alpha."""

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
    SIGNIFICANT_WITHIN_TOLERANCE = "significant_within_tolerance"
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
        return Verdict.SIGNIFICANT_WITHIN_TOLERANCE
    if e.delta > 0 and significant:
        return Verdict.IMPROVED
    # A drop the suite could not have detected: either no drop can be significant at this n, or the data point
    # below zero (the interval clears it) while the test cannot say so. "No significant drop" would mislead.
    if e.delta < 0 and (math.isnan(e.mde) or (e.mde > -e.delta and e.high < 0)):
        return Verdict.TOO_FEW
    return Verdict.NO_SIGNIFICANT_CHANGE


def _ambiguous(shown: float, p: float, alpha: float) -> bool:
    """Whether a rounded p reads as on the other side of alpha, or as alpha itself, when it is not."""
    return (shown < alpha) != (p < alpha) or (shown == alpha and p != alpha)


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
