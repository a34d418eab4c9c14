"""One comparison of head with base: its figures, how sure it is, its verdict, and the reviewer's words for it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gate import stats
from gate.verdict import Context, Decision, Evidence, Verdict, format_p, stored_p, words

PASS_RATE = "pass_rate"


@dataclass(frozen=True)
class Comparison:
    suite: str
    metric: str  # PASS_RATE or a scored metric's name
    base: float
    head: float
    delta: float
    low: float
    high: float
    p_value: float
    mde: float
    n: int
    test: str
    tolerance: float
    alpha: float = 0.05  # the significance level p_adjusted is held to (gates.alpha)
    p_adjusted: float = 1.0
    regression: bool = False
    pass_to_fail: tuple[str, ...] = ()
    fail_to_pass: tuple[str, ...] = ()
    p_beyond: float = 1.0  # "the drop is no larger than the tolerance" (stats.PairedResult)
    discordance: float = 0.0
    verdict: Verdict = Verdict.NO_SIGNIFICANT_CHANGE
    decision: Decision = Decision.NON_INFERIORITY
    base_ids: Mapping[str, str] = field(default_factory=dict)  # head id -> baseline id, where they differ
    base_outputs: Mapping[str, str] = field(default_factory=dict)  # head id -> the base's answer, for flips
    base_suite: str = ""  # the baseline suite compared with, when the suite was renamed
    min_p: float = 1.0  # the smallest p-value its test could give on these data
    units: int = 0  # the clusters (or cases) it resamples, and how their differences spread (stats.unit_spread)
    unit_sd: float = 0.0
    family: int = 0  # how many comparisons its p-value was corrected with; 0: left out (it cannot reach alpha)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "suite": self.suite, "metric": self.metric, "base": round(self.base, 6), "head": round(self.head, 6),
            "delta": round(self.delta, 6), "ci95": [round(self.low, 6), round(self.high, 6)],
            "p_value": stored_p(self.p_value), "p_adjusted": stored_p(self.p_adjusted),
            "p_beyond_tolerance": stored_p(self.p_beyond),
            "mde": None if self.mde != self.mde else round(self.mde, 6), "n": self.n, "test": self.test,
            "tolerance": self.tolerance, "alpha": self.alpha, "decision": self.decision.value, "family": self.family,
            "regression": self.regression, "verdict": self.verdict.value, "verdict_text": self.verdict_text(),
        }
        if self.base_suite:
            out["base_suite"] = self.base_suite
        if self.verdict is Verdict.TOO_FEW:
            out["cases_to_detect"] = self.cases_to_detect()
        if self.metric == PASS_RATE:
            out["pass_to_fail"] = list(self.pass_to_fail)
            out["fail_to_pass"] = list(self.fail_to_pass)
            if self.base_ids:
                out["base_ids"] = dict(sorted(self.base_ids.items()))
            if self.base_outputs:
                out["base_outputs"] = dict(sorted(self.base_outputs.items()))
        return out

    def sentence(self) -> str:
        """e.g. '92.0% vs 96.5% (-4.5 pts, 95% CI -8.1 to -0.9, p=0.010)'."""
        unit = "%" if self.metric == PASS_RATE else ""
        head = f"{self.head:.1%}" if unit else f"{self.head:.3f}"
        base = f"{self.base:.1%}" if unit else f"{self.base:.3f}"
        return (f"{head} vs {base} ({self.delta * 100:+.1f} pts, 95% CI {self.low * 100:+.1f} to "
                f"{self.high * 100:+.1f}, {format_p(self.p_adjusted, self.alpha)})")

    def cases_to_detect(self) -> int | None:
        """Computed as the MDE is (the same clusters, the same spread), so "too few" and "about N cases" never
        disagree."""
        if self.metric == PASS_RATE:
            return stats.cases_to_detect(-self.delta, self.discordance, self.alpha, n=self.n, units=self.units,
                                         unit_sd=self.unit_sd)
        return stats.graded_cases_to_detect(-self.delta, self.n, self.alpha, units=self.units, unit_sd=self.unit_sd)

    def _correction(self) -> str:
        """How a drop its own test finds significant ends its sentence when the correction made it not."""
        if self.family:
            return f"not once the run's {self.family} comparisons that could reach significance are counted (Holm)"
        return "but not at the level the run's comparisons are held to (it is left out of them: Tarone)"

    def verdict_text(self) -> str:
        """What the verdict means for this comparison, in the reviewer's words."""
        evidence = Evidence(self.delta, self.high, self.p_adjusted, self.p_beyond, self.mde)
        needed = self.cases_to_detect() if self.verdict is Verdict.TOO_FEW else None
        return words(self.verdict, evidence, Context(self.alpha, self.tolerance, self.n, "cases", self.p_value,
                                                     self._correction(), self.units, needed))
