"""Head against the baseline, paired on case id (else on the identity of a case's input): what moved, how sure
we are, and which gates it breaks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from gate import stats
from gate.render.words import counted
from gate.report import Finding, Severity
from gate.verdict import Evidence, Verdict, decide

from .comparison import PASS_RATE, Comparison
from .config import Gates
from .renames import gone_metrics, gone_suites, match_suites
from .results import CaseResult, SuiteResult


@dataclass(frozen=True)
class Baseline:
    """Per suite, per case: pass, mean scores, the input's hash and the answer, as `gate baseline update` wrote
    them."""

    suites: Mapping[str, Mapping[str, Mapping[str, Any]]]
    source: str

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str) -> Baseline:
        """Takes the parsed file apart suite by suite (it is not used after), keeping of each case what the
        comparison reads: a large baseline is never held twice."""
        raw = data.get("suites") or {}
        suites: dict[str, dict[str, Mapping[str, Any]]] = {}
        for name in list(raw):
            cases = (raw.pop(name) or {}).get("cases") or {}
            suites[name] = {case_id: compact(case) for case_id, case in cases.items()}
        return cls(suites, source)


_KEPT = ("pass", "scores", "input_sha", "output", "category")
_COMPACT = frozenset((*_KEPT, "repeats"))


def compact(case: Mapping[str, Any]) -> dict[str, Any]:
    """A baseline case as the comparison reads it (the same object when it already is so)."""
    repeats = case.get("repeats") or []
    if isinstance(case, dict) and case.keys() <= _COMPACT and len(repeats) != 1 \
            and all(isinstance(r, Mapping) and r.keys() <= {"pass"} for r in repeats):
        return case
    out = {k: case[k] for k in _KEPT if k in case}
    if len(repeats) > 1:  # one repeat cannot disagree with itself: only several say whether the model is stochastic
        out["repeats"] = [{"pass": r.get("pass")} for r in repeats if isinstance(r, Mapping)]
    return out


@dataclass(frozen=True)
class Coverage:
    """How many of a suite's baseline cases the comparison paired, and how many of those by input."""

    suite: str
    compared: int
    baseline: int
    by_input: int = 0
    new: int = 0
    base_suite: str = ""  # the baseline suite it was compared with, when renamed
    gone: bool = False  # a baseline suite no suite of this run is compared with

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"compared": self.compared, "baseline": self.baseline, "by_input": self.by_input,
                               "new": self.new}
        if self.base_suite:
            out["base_suite"] = self.base_suite
        if self.gone:
            out["gone"] = True
        return out

    @property
    def share(self) -> float:
        return self.compared / self.baseline if self.baseline else 1.0


@dataclass(frozen=True)
class Analysis:
    comparisons: tuple[Comparison, ...] = ()
    violations: tuple[str, ...] = ()  # gate failures, one sentence each
    notes: tuple[str, ...] = ()
    suite_stats: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    coverage: tuple[Coverage, ...] = ()
    warnings: tuple[Finding, ...] = ()  # what of the baseline could not be compared, short of a gate failure
    # Where in gate.yaml each violation's gate is set, in the order of `violations`.
    violated: tuple[tuple[str | int, ...], ...] = ()

    @property
    def too_few(self) -> tuple[Comparison, ...]:
        return tuple(c for c in self.comparisons if c.verdict is Verdict.TOO_FEW)


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


def analyse(suites: Sequence[SuiteResult], baseline: Baseline | None, gates: Gates, seed: int = 0, *,
            partial: bool = False, unmeasured: frozenset[str] = frozenset()) -> Analysis:
    """`partial`: the run holds part of the cases (a shard), so coverage is judged when the shards are merged.
    `unmeasured`: suites none of whose cases could be measured (their own finding says why), not gone."""
    suite_stats = {s.name: _suite_stats(s, seed) for s in suites}
    violations: list[str] = []
    violated: list[tuple[str | int, ...]] = []

    def violate(message: str, *at: str | int) -> None:
        violations.append(message)
        violated.append(("regression", "gates", *at))

    notes: list[str] = []
    for s in suites:
        st = suite_stats[s.name]
        if gates.min_pass_rate is not None and st["count"] and st["pass_rate"] < gates.min_pass_rate:
            violate(f"{s.name}: pass rate {st['pass_rate']:.1%} is below the minimum {gates.min_pass_rate:.1%}",
                    "min_pass_rate")
        for metric, v in st["scores"].items():
            g = gates.metrics.get(metric)
            if g is not None and g.min_score is not None and v["mean"] < g.min_score:
                violate(f"{s.name}: {metric} mean score {v['mean']:.3f} is below the minimum {g.min_score:g}",
                        "metrics", metric, "min_score")
    if baseline is None:
        return Analysis((), tuple(violations), tuple(notes), suite_stats, violated=tuple(violated))
    comparisons: list[Comparison] = []
    coverage: list[Coverage] = []
    warnings: list[Finding] = []
    # A suite the run has but could measure no case of is not gone, nor another suite's former name.
    base_suites = {name: cases for name, cases in baseline.suites.items() if name not in unmeasured}
    matched = match_suites(suites, base_suites)
    for s in suites:
        base_name = matched.get(s.name)
        if base_name is None:
            notes.append(f"{s.name}: not in the baseline (a new suite): absolute results only")
            continue
        base_cases = baseline.suites[base_name]
        pairs = pair_cases(s.cases, base_cases)
        renamed = base_name if base_name != s.name else ""
        cov = Coverage(s.name, len(pairs), len(base_cases), sum(h != b for h, b in pairs.items()),
                       len(s.cases) - len(pairs), renamed)
        coverage.append(cov)
        if renamed:
            notes.append(f"{s.name}: compared with the base's suite {renamed!r} (renamed): {cov.compared} of its "
                         f"{cov.baseline} cases paired by id or input")
        if cov.share < gates.min_coverage and not partial:
            violate(
                f"{s.name}: only {cov.compared} of {cov.baseline} baseline cases compared ({cov.share:.0%}, under "
                f"gates.min_coverage {gates.min_coverage:.0%}): cases were renamed with new inputs or removed, so "
                "the comparison says little; run `gate baseline update` on the base branch once they are merged",
                "min_coverage")
        elif cov.compared < cov.baseline and not partial:
            # Within min_coverage, still not a clean pass: the cases removed could be exactly the ones that got worse.
            gone = sorted(set(base_cases) - set(pairs.values()))
            shown = ", ".join(gone[:5]) + (f" and {len(gone) - 5} more" if len(gone) > 5 else "")
            warnings.append(Finding(Severity.WARNING, f"{s.name}: {counted(len(gone), 'baseline case')} not in this "
                                    f"run ({shown}): left out of the comparison", s.file))
        notes += _flaky_note(s.name, base_cases)
        warnings += _gone_metrics(s, base_cases, pairs, gates)
        comparisons += [replace(c, base_suite=renamed) for c in _compare_suite(s, base_cases, pairs, gates, seed)]
    for name in gone_suites(matched, base_suites):
        if not base_suites[name]:
            continue  # a suite of no cases: nothing of it went uncompared
        cov = Coverage(name, 0, len(base_suites[name]), gone=True)
        coverage.append(cov)
        if partial:
            continue
        under = cov.share < gates.min_coverage
        message = (f"{name}: a suite of the baseline that is not in this run: none of its {cov.baseline} baseline "
                   f"cases were compared{f' (under gates.min_coverage {gates.min_coverage:.0%})' if under else ''}. "
                   "It was removed, or renamed with most of its cases' inputs changed; if it was removed on purpose, "
                   "run `gate baseline update` on the base branch once this is merged")
        if under:
            violate(message, "min_coverage")
        else:
            warnings.append(Finding(Severity.WARNING, message))
    final = _decided(comparisons, gates)
    for c in final:
        if c.regression:
            what = "pass rate" if c.metric == PASS_RATE else f"{c.metric} score"
            at = ("max_pass_rate_drop",) if c.metric == PASS_RATE else ("metrics", c.metric, "max_drop")
            violate(f"{c.suite}: {what} regressed: {c.sentence()}", *at)
    return Analysis(tuple(final), tuple(violations), tuple(notes), suite_stats, tuple(coverage), tuple(warnings),
                    tuple(violated))


def _gone_metrics(s: SuiteResult, base_cases: Mapping[str, Mapping[str, Any]], pairs: Mapping[str, str],
                  gates: Gates) -> list[Finding]:
    out = []
    for metric, count in gone_metrics(s, base_cases, pairs).items():
        gated = f"; gates.metrics.{metric} could not be evaluated on this suite" if metric in gates.metrics else ""
        out.append(Finding(Severity.WARNING, (
            f"{s.name}: {metric!r} is no longer measured (the baseline scored {counted(count, 'case')} with it). "
            f"It was not compared, and the pass rate is compared without it{gated}. If it was removed or renamed on "
            "purpose, run `gate baseline update` on the base branch once this is merged"), s.file or None))
    return out


def _decided(comparisons: Sequence[Comparison], gates: Gates) -> list[Comparison]:
    """p-values of "no change" corrected by Holm over the comparisons that can reach significance at all (Tarone's
    family: a three-case suite must not weaken the test of a sixty-case one), then each comparison's verdict. The
    tolerance is judged on each comparison's own interval, the one the comment shows."""
    if not comparisons:
        return []
    keys = [f"{c.suite}\0{c.metric}" for c in comparisons]
    adjusted = stats.tarone_holm({k: (c.p_value, c.min_p) for k, c in zip(keys, comparisons, strict=True)},
                                 gates.alpha)
    out = []
    for key, c in zip(keys, comparisons, strict=True):
        p = adjusted[key].p
        evidence = Evidence(c.delta, c.high, p, c.p_beyond, c.mde)
        found = decide(evidence, alpha=gates.alpha, tolerance=c.tolerance, decision=gates.decision)
        out.append(replace(c, p_adjusted=p, family=adjusted[key].family, alpha=gates.alpha, decision=gates.decision,
                           verdict=found, regression=found is Verdict.REGRESSION))
    return out


def pair_cases(head: Sequence[CaseResult], base_cases: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """head id -> baseline id: the same id, else (for a new id) the one unpaired baseline case with the same input.
    An input shared by several cases pairs none of them: which is which cannot be told."""
    pairs = {c.id: c.id for c in head if c.id in base_cases}
    unpaired = [i for i in base_cases if i not in pairs]
    by_input: dict[str, list[str]] = {}
    for i in unpaired:
        sha = base_cases[i].get("input_sha")
        if isinstance(sha, str) and sha:
            by_input.setdefault(sha, []).append(i)
    new = [c for c in head if c.id not in pairs and c.input_sha]
    head_by_input: dict[str, list[str]] = {}
    for c in new:
        head_by_input.setdefault(c.input_sha, []).append(c.id)
    for sha, ids in head_by_input.items():
        candidates = by_input.get(sha, [])
        if len(ids) == 1 and len(candidates) == 1:
            pairs[ids[0]] = candidates[0]
    return dict(sorted(pairs.items()))


def _flaky_note(suite: str, base_cases: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Cases whose repeats disagreed when the baseline was made: the model answers differently each time."""
    mixed = sum(len({bool(r.get("pass")) for r in case.get("repeats") or [] if isinstance(r, Mapping)}) > 1
                for case in base_cases.values())
    if not mixed:
        return []
    cases = "case" if mixed == 1 else "cases"
    return [f"{suite}: the model is stochastic: in the baseline, {mixed} of {len(base_cases)} {cases}' repeats "
            "disagreed; raise `repeats` (with `pass_at`) so each case's verdict rests on several answers"]


def _compare_suite(s: SuiteResult, base_cases: Mapping[str, Mapping[str, Any]], pairs: Mapping[str, str],
                   gates: Gates, seed: int) -> list[Comparison]:
    if not pairs:
        return []
    head = {c.id: c for c in s.cases}
    paired = sorted(pairs)
    base = {i: base_cases[pairs[i]] for i in paired}
    clusters = {i: str(head[i].cluster) for i in paired if head[i].cluster is not None} or None
    tolerance = gates.max_pass_rate_drop
    pc = stats.compare_pass({i: bool(base[i].get("pass")) for i in paired}, {i: head[i].passed for i in paired},
                            clusters=clusters, seed=seed, alpha=gates.alpha, margin=tolerance)
    renamed = {h: b for h, b in pairs.items() if h != b}
    outputs = {i: str(base[i]["output"]) for i in pc.pass_to_fail if isinstance(base[i].get("output"), str)}
    out = [Comparison(s.name, PASS_RATE, pc.base_rate, pc.head_rate, pc.delta, pc.interval.low, pc.interval.high,
                      pc.p_value, pc.mde, pc.n, pc.test, tolerance, pass_to_fail=pc.pass_to_fail,
                      fail_to_pass=pc.fail_to_pass, p_beyond=pc.p_beyond, discordance=pc.discordance,
                      base_ids=renamed, base_outputs=outputs, min_p=pc.min_p, units=pc.units, unit_sd=pc.unit_sd)]
    for metric in s.scored:
        ids = [i for i in paired if metric in (base[i].get("scores") or {})]
        if not ids:
            continue
        b = [float(base[i]["scores"][metric]) for i in ids]
        h = [head[i].scores.get(metric, 0.0) for i in ids]
        cl = [stats.sampling_unit(i, head[i].cluster) for i in ids] if clusters else None
        g = gates.metrics.get(metric)
        tolerance = g.max_drop if g is not None and g.max_drop is not None else 0.0
        pd = stats.paired_difference(b, h, clusters=cl, seed=seed, alpha=gates.alpha, margin=tolerance)
        test = "cluster-bootstrap" if cl else "paired-bootstrap"
        out.append(Comparison(s.name, metric, sum(b) / len(b), sum(h) / len(h), pd.delta, pd.interval.low,
                              pd.interval.high, pd.p_value, pd.mde, pd.n, test, tolerance, p_beyond=pd.p_beyond,
                              discordance=pd.discordance, min_p=pd.min_p, units=pd.units, unit_sd=pd.unit_sd))
    return out
