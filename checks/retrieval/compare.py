"""Head against the base branch's baseline, query by query: every measure's paired comparison (Holm across the
measures, the gates' verdicts), Judged@k on both sides with the unjudged documents, drift, and the lost queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate import stats
from gate.render.escape import cap
from gate.render.words import counted
from gate.verdict import Context, Evidence, Verdict, decide, format_p, stored_p, words

from .baseline import Baseline, names_text
from .config import SECTION, RetrievalConfig, cutoff
from .drift import drift
from .inputs import ID_CHARS, TEXT_CHARS, Query
from .measures import unjudged_ids
from .paired import paired_tests, resamples_for
from .rankings import Ranking

LOST_SHOWN = 10


@dataclass
class Analysis:
    measures: list[dict[str, Any]] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    # Where in gate.yaml each violation's gate is (a path under the section), in the order of `violations`.
    violated: list[tuple[str | int, ...]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    judged: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] | None = None
    lost: list[dict[str, Any]] = field(default_factory=list)
    unjudged_warning: str | None = None
    baseline_errors: list[str] = field(default_factory=list)  # what makes the baseline useless for this run
    baseline_warnings: list[str] = field(default_factory=list)


    def violate(self, message: str, *at: str | int) -> None:
        self.violations.append(message)
        self.violated.append((SECTION, *at))


def _ids(ids: Sequence[str]) -> list[str]:
    return [cap(d, ID_CHARS) for d in ids]


def _text(queries: Mapping[str, Query], qid: str) -> str:
    return cap(queries[qid].text, TEXT_CHARS) if qid in queries else ""


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _r(x: float | None) -> float | None:
    return None if x is None or x != x else round(x, 6)


def analyse(cfg: RetrievalConfig, queries: Mapping[str, Query], values: Mapping[str, Mapping[str, float]],
            rankings: Mapping[str, Ranking], qrels: Mapping[str, Mapping[str, int]],
            baseline: Baseline | None) -> Analysis:
    """`values`: per judged query that was retrieved, its measures (the configured ones and Judged@depth)."""
    out = Analysis()
    judged_ids = sorted(values)
    heads = {m: _mean([values[q][m] for q in judged_ids]) for m in cfg.measures}
    for m in cfg.measures:
        g = cfg.gates.of(m)
        if g.min is not None and judged_ids and heads[m] < g.min:
            out.violate(f"{m}: {heads[m]:.3f} is below the minimum {g.min:g}", "gates", "measures", m, "min")
    # Paired: judged on both sides. A query the base did not judge has no measures there (it was in drift only).
    paired = [q for q in judged_ids if baseline is not None and baseline.measures.get(q)]
    rows = {m: {"measure": m, "head": _r(heads[m]), "n": len(judged_ids)} for m in cfg.measures}
    if baseline is not None:
        _coverage(cfg, qrels, baseline, out)
        _compare(cfg, values, baseline, paired, queries, rows, out)
        for item in out.lost:
            item["before"] = _ids(baseline.top.get(item["query"], ())[:5])
            item["after"] = _ids(rankings.get(item["query"], ())[:5])
            item["query"] = cap(item["query"], ID_CHARS)
    out.measures = [rows[m] for m in cfg.measures]
    _judged(cfg, values, rankings, qrels, baseline, paired, out)
    if baseline is not None:
        d = drift(rankings, baseline.top, depth=cfg.drift.depth, p=cfg.drift.p, threshold=cfg.drift.threshold)
        out.drift = {"depth": cfg.drift.depth, "p": cfg.drift.p, "threshold": cfg.drift.threshold,
                     "compared": d.compared, "changed": d.changed, "share": _r(d.share), "mean_rbo": _r(d.mean_rbo),
                     "max_changed_share": cfg.drift.max_changed_share,
                     "most_moved": [{"query": cap(mv.query, ID_CHARS), "text": _text(queries, mv.query),
                                     "rbo": _r(mv.rbo), "before": _ids(mv.before), "after": _ids(mv.after)}
                                    for mv in d.most_moved]}
        limit = cfg.drift.max_changed_share
        if limit is not None and d.compared and d.share > limit:
            out.violate(f"drift: the top {cfg.drift.depth} of {d.changed} of {d.compared} queries moved "
                        f"(RBO < {cfg.drift.threshold:g}): {d.share:.0%}, above drift.max_changed_share {limit:.0%}",
                        "drift", "max_changed_share")
    return out


def _coverage(cfg: RetrievalConfig, qrels: Mapping[str, Mapping[str, int]], baseline: Baseline, out: Analysis) -> None:
    """The base's judged queries this run no longer judges: a few are a note; too many fail, as in the regression
    check, since dropping the queries that got worse would otherwise hide their loss."""
    judged = [q for q, m in baseline.measures.items() if m]
    gone = sorted(q for q in judged if q not in qrels)
    if not gone:
        return
    share = 1 - len(gone) / len(judged)
    shown = ", ".join(q[:40] for q in gone[:5]) + (" …" if len(gone) > 5 else "")
    if share < cfg.gates.min_coverage:
        out.violate(
            f"only {len(judged) - len(gone)} of the baseline's {len(judged)} judged queries are judged in this run "
            f"({share:.0%}, under gates.min_coverage {cfg.gates.min_coverage:.0%}; gone: {shown}): queries removed from "
            "the queries or qrels file leave the comparison; run `gate baseline update` on the base branch once they "
            "are merged", "gates", "min_coverage")
    else:
        out.notes.append(f"{counted(len(gone), 'query', 'queries')} judged in the baseline but not in this run: left "
                         f"out of the comparison ({shown})")


def _comparable(cfg: RetrievalConfig, baseline: Baseline, paired: list[str], rows: dict[str, dict[str, Any]],
                out: Analysis) -> list[str]:
    """The configured measures the baseline can be compared on: held by it, and, when it ranked another number
    of documents per query, not reaching below the shallower of the two (their rows say so)."""
    held = sorted(baseline.measures[paired[0]]) if paired else []
    measured = [m for m in cfg.measures if m in held]
    deep: list[str] = []
    if baseline.k is not None and baseline.k != cfg.k:
        shallow = min(baseline.k, cfg.k)
        deep = [m for m in measured if (cutoff(m) or shallow + 1) > shallow]
        measured = [m for m in measured if m not in deep]
    if paired and not measured:
        depth = f" at k={baseline.k}" if baseline.k is not None else ""
        out.baseline_errors.append(
            f"none of this run's measures can be compared with the baseline: it holds {names_text(held)}"
            f"{depth}, this run measures {', '.join(cfg.measures)} at k={cfg.k}; run `gate baseline update` on the "
            "base branch")
        return measured
    out.notes += [f"{m}: not in the baseline (a new measure): absolute figures only" for m in cfg.measures
                  if paired and m not in held]
    if deep:
        # The table says why each left-out measure has no comparison: these ones are in the baseline.
        for m in deep:
            rows[m]["not_compared"] = f"the baseline ranked {baseline.k} documents per query, this run {cfg.k}"
        out.baseline_warnings.append(
            f"the baseline ranked {baseline.k} documents per query, this run {cfg.k}: {', '.join(deep)} reach below "
            f"rank {min(baseline.k or 0, cfg.k)} and are not compared (absolute figures only); run `gate baseline "
            "update` on the base branch")
    return measured


def _compare(cfg: RetrievalConfig, values: Mapping[str, Mapping[str, float]], baseline: Baseline, paired: list[str],
             queries: Mapping[str, Query], rows: dict[str, dict[str, Any]], out: Analysis) -> None:
    measured = _comparable(cfg, baseline, paired, rows, out)
    if not measured:
        if not paired:
            out.notes.append("no judged query of this run is in the baseline: nothing to compare")
        return
    base = [[float(baseline.measures[q][m]) for m in measured] for q in paired]
    head = [[values[q][m] for m in measured] for q in paired]
    clustered = any(queries[q].cluster is not None for q in paired)
    clusters = [stats.sampling_unit(q, queries[q].cluster) for q in paired] if clustered else None
    margins = [cfg.gates.of(m).max_drop for m in measured]
    results = paired_tests(base, head, clusters=clusters, margins=margins, alpha=cfg.gates.alpha, seed=cfg.seed)
    adjusted = stats.holm({m: r.p_value for m, r in zip(measured, results, strict=True)})
    units = len(set(clusters)) if clusters else len(paired)
    test = ("exact" if units <= 16 else "randomisation") + (" (clusters)" if clustered else "")
    for j, (m, r) in enumerate(zip(measured, results, strict=True)):
        tolerance = margins[j]
        evidence = Evidence(r.delta, r.interval.high, adjusted[m], r.p_beyond, r.mde)
        found = decide(evidence, alpha=cfg.gates.alpha, tolerance=tolerance, decision=cfg.gates.decision)
        mde = None if r.mde != r.mde else r.mde
        needed = stats.graded_cases_to_detect(-r.delta, r.n, cfg.gates.alpha, units=r.units, unit_sd=r.unit_sd) \
            if found is Verdict.TOO_FEW else None
        said = words(found, evidence, Context(cfg.gates.alpha, tolerance, r.n, "queries", r.p_value,
                                              f"not after Holm's correction across the {len(measured)} measures",
                                              r.units, needed))
        rows[m].update({
            "base": _r(_mean([b[j] for b in base])), "head_paired": _r(_mean([h[j] for h in head])),
            "delta": _r(r.delta), "ci95": [_r(r.interval.low), _r(r.interval.high)], "p_value": stored_p(r.p_value),
            "p_adjusted": stored_p(adjusted[m]), "p_beyond_tolerance": stored_p(r.p_beyond), "mde": _r(mde), "n_paired": r.n,
            "test": test, "tolerance": tolerance, "alpha": cfg.gates.alpha, "verdict": found.value,
            "verdict_text": said, "regression": found is Verdict.REGRESSION,
        })
        if found is Verdict.REGRESSION:
            out.violate(f"{m} regressed: {rows[m]['head_paired']:.3f} vs {rows[m]['base']:.3f} "
                        f"({r.delta * 100:+.1f} pts, 95% CI {r.interval.low * 100:+.1f} to "
                        f"{r.interval.high * 100:+.1f}, {format_p(adjusted[m], cfg.gates.alpha)} after Holm)", "gates", "measures", m, "max_drop")
    rows[measured[0]]["resamples"] = resamples_for(units)
    primary = measured[0]
    losses = sorted(((values[q][primary] - float(baseline.measures[q][primary]), q) for q in paired), key=lambda x: x)
    out.lost = [{"query": q, "text": _text(queries, q), "measure": primary, "base": _r(float(baseline.measures[q][primary])),
                 "head": _r(values[q][primary]), "delta": _r(d)} for d, q in losses[:LOST_SHOWN] if d < 0]


def _judged(cfg: RetrievalConfig, values: Mapping[str, Mapping[str, float]], rankings: Mapping[str, Ranking],
            qrels: Mapping[str, Mapping[str, int]], baseline: Baseline | None, paired: list[str], out: Analysis) -> None:
    name = cfg.judged.measure
    judged_ids = sorted(values)
    info: dict[str, Any] = {"measure": name, "head": _r(_mean([values[q][name] for q in judged_ids]))}
    unjudged = unjudged_ids(rankings, qrels, cfg.judged.depth, judged_ids)
    info["unjudged"] = [[cap(doc, ID_CHARS), n] for doc, n in unjudged]
    with_base = [q for q in paired if name in (baseline.measures[q] if baseline else {})]
    if baseline is not None and with_base:
        base = _mean([float(baseline.measures[q][name]) for q in with_base])
        head = _mean([values[q][name] for q in with_base])
        info.update({"base": _r(base), "head_paired": _r(head), "delta": _r(head - base)})
        if head - base < -cfg.judged.max_drop:
            shown = ", ".join(cap(doc, 80) for doc, _ in unjudged[:5])
            out.unjudged_warning = (
                f"{name} fell from {base:.1%} to {head:.1%}: the change surfaces documents the relevance judgements "
                f"never labelled, which count as not relevant and make every measure look worse; label them before "
                f"trusting a drop (most frequent: {shown})")
    out.judged = info
