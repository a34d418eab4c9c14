"""Head against the baseline, paired on case id: what moved, how sure we are, and which gates it breaks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate import stats

from .regression_config import Gates
from .regression_results import SuiteResult

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

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "suite": self.suite, "metric": self.metric, "base": round(self.base, 6), "head": round(self.head, 6),
            "delta": round(self.delta, 6), "ci95": [round(self.low, 6), round(self.high, 6)],
            "p_value": round(self.p_value, 6), "p_adjusted": round(self.p_adjusted, 6),
            "mde": None if self.mde != self.mde else round(self.mde, 6), "n": self.n, "test": self.test,
            "tolerance": self.tolerance, "alpha": self.alpha, "regression": self.regression,
        }
        if self.metric == PASS_RATE:
            out["pass_to_fail"] = list(self.pass_to_fail)
            out["fail_to_pass"] = list(self.fail_to_pass)
        return out

    def sentence(self) -> str:
        """e.g. '92.0% vs 96.5% (-4.5 pts, 95% CI -8.1 to -0.9, p=0.01)'."""
        unit = "%" if self.metric == PASS_RATE else ""
        head = f"{self.head:.1%}" if unit else f"{self.head:.3f}"
        base = f"{self.base:.1%}" if unit else f"{self.base:.3f}"
        return (f"{head} vs {base} ({self.delta * 100:+.1f} pts, 95% CI {self.low * 100:+.1f} to "
                f"{self.high * 100:+.1f}, {stats.format_p(self.p_adjusted)})")


@dataclass(frozen=True)
class Baseline:
    """Per suite, per case: pass and mean scores, as `gate baseline update` wrote them."""

    suites: Mapping[str, Mapping[str, Mapping[str, Any]]]
    source: str

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str) -> Baseline:
        suites = {name: dict(s.get("cases") or {}) for name, s in (data.get("suites") or {}).items()}
        return cls(suites, source)


@dataclass(frozen=True)
class Analysis:
    comparisons: tuple[Comparison, ...] = ()
    violations: tuple[str, ...] = ()  # gate failures, one sentence each
    notes: tuple[str, ...] = ()
    suite_stats: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _suite_stats(s: SuiteResult, seed: int) -> dict[str, Any]:
    n = len(s.cases)
    passed = sum(c.passed for c in s.cases)
    wil = stats.wilson(passed, n)
    clustered = any(c.cluster is not None for c in s.cases)
    clusters = [stats.sampling_unit(c.id, c.cluster) for c in s.cases] if clustered else None
    scores: dict[str, Any] = {}
    for metric in s.scored:
        values = [c.scores.get(metric, 0.0) for c in s.cases]
        ci = stats.mean_interval(values, clusters=clusters, seed=seed)
        scores[metric] = {"mean": round(sum(values) / n, 6) if n else 0.0, "ci95": [round(ci.low, 6), round(ci.high, 6)]}
    return {"count": n, "passed": passed, "pass_rate": round(passed / n, 6) if n else 0.0,
            "pass_rate_ci95": [round(wil.low, 6), round(wil.high, 6)], "scores": scores}


def analyse(suites: Sequence[SuiteResult], baseline: Baseline | None, gates: Gates, seed: int = 0) -> Analysis:
    suite_stats = {s.name: _suite_stats(s, seed) for s in suites}
    violations: list[str] = []
    notes: list[str] = []
    for s in suites:
        st = suite_stats[s.name]
        if gates.min_pass_rate is not None and st["count"] and st["pass_rate"] < gates.min_pass_rate:
            violations.append(f"{s.name}: pass rate {st['pass_rate']:.1%} is below the minimum {gates.min_pass_rate:.1%}")
        for metric, v in st["scores"].items():
            g = gates.metrics.get(metric)
            if g is not None and g.min_score is not None and v["mean"] < g.min_score:
                violations.append(f"{s.name}: {metric} mean score {v['mean']:.3f} is below the minimum {g.min_score:g}")
    comparisons: list[Comparison] = []
    if baseline is not None:
        for s in suites:
            base_cases = baseline.suites.get(s.name)
            if base_cases is None:
                notes.append(f"{s.name}: not in the baseline (a new suite): absolute results only")
                continue
            comparisons += _compare_suite(s, base_cases, gates, seed, notes)
    adjusted = stats.holm({f"{c.suite}\0{c.metric}": c.p_value for c in comparisons}) if comparisons else {}
    final: list[Comparison] = []
    for c in comparisons:
        p = adjusted[f"{c.suite}\0{c.metric}"]
        regression = stats.is_regression(c.delta, p, alpha=gates.alpha, tolerance=c.tolerance)
        final.append(_replace(c, p_adjusted=p, alpha=gates.alpha, regression=regression))
        if regression:
            what = "pass rate" if c.metric == PASS_RATE else f"{c.metric} score"
            violations.append(f"{c.suite}: {what} regressed: {final[-1].sentence()}")
    return Analysis(tuple(final), tuple(violations), tuple(notes), suite_stats)


def _replace(c: Comparison, **changes: Any) -> Comparison:
    from dataclasses import replace

    return replace(c, **changes)


def _compare_suite(s: SuiteResult, base_cases: Mapping[str, Mapping[str, Any]], gates: Gates, seed: int,
                   notes: list[str]) -> list[Comparison]:
    head = {c.id: c for c in s.cases}
    paired = sorted(set(head) & set(base_cases))
    added, removed = len(set(head) - set(base_cases)), len(set(base_cases) - set(head))
    if added or removed:
        notes.append(f"{s.name}: {len(paired)} case(s) compared; {added} new, {removed} no longer in the suite")
    if not paired:
        return []
    clusters = {i: str(head[i].cluster) for i in paired if head[i].cluster is not None} or None
    pc = stats.compare_pass({i: bool(base_cases[i].get("pass")) for i in paired},
                            {i: head[i].passed for i in paired}, clusters=clusters, seed=seed, alpha=gates.alpha)
    out = [Comparison(s.name, PASS_RATE, pc.base_rate, pc.head_rate, pc.delta, pc.interval.low, pc.interval.high,
                      pc.p_value, pc.mde, pc.n, pc.test, gates.max_pass_rate_drop,
                      pass_to_fail=pc.pass_to_fail, fail_to_pass=pc.fail_to_pass)]
    cluster_list = [stats.sampling_unit(i, head[i].cluster) for i in paired] if clusters else None
    for metric in s.scored:
        ids = [i for i in paired if metric in (base_cases[i].get("scores") or {})]
        if not ids:
            continue
        b = [float(base_cases[i]["scores"][metric]) for i in ids]
        h = [head[i].scores.get(metric, 0.0) for i in ids]
        cl = [stats.sampling_unit(i, head[i].cluster) for i in ids] if cluster_list else None
        pd = stats.paired_difference(b, h, clusters=cl, seed=seed, alpha=gates.alpha)
        g = gates.metrics.get(metric)
        tolerance = g.max_drop if g is not None and g.max_drop is not None else 0.0
        test = "cluster-bootstrap" if cl else "paired-bootstrap"
        out.append(Comparison(s.name, metric, sum(b) / len(b), sum(h) / len(h), pd.delta, pd.interval.low,
                              pd.interval.high, pd.p_value, pd.mde, pd.n, test, tolerance))
    return out
