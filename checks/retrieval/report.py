"""Everything the retrieval check found, as its CheckResult: status, summary, findings, metrics and details."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gate.redact import clip
from gate.render.escape import cap
from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity, Status
from gate.taxonomy import Category

from .baseline import Comparable
from .compare import Analysis
from .inputs import ID_CHARS, Query
from .measures import PRECISION
from .rankings import Ranking

NAME = "retrieval"
MAX_QUERY_FINDINGS = 20  # one finding per failed query up to here; the rest are counted
NAMED = 5  # queries named in one finding's sentence; the rest are counted


@dataclass
class Run:
    """What happened before the comparison: where the rankings came from and what went wrong with them."""

    target: str
    queries_file: str
    k: int
    depth: int
    failed: Mapping[str, tuple[Category, str]] = field(default_factory=dict)
    unlabelled: Sequence[str] = ()
    unknown_in_run: int = 0
    calls: int = 0
    retried: int = 0
    baseline_source: str = ""
    baseline_defect: Finding | None = None
    baseline_file: str = ""
    service_exit: int | None = None
    qrels_file: str = ""
    qrel_lines: Mapping[str, int] = field(default_factory=dict)  # query -> the line of its first judgement
    digests: Mapping[str, str] = field(default_factory=dict)  # judged query -> the digest of its judgements
    set_aside: Comparable | None = None  # what the comparison with the baseline left out, and why


def _named(ids: Sequence[str], line: Callable[[str], int | None] | None = None) -> str:
    """The first few ids (with their line), then how many more."""
    shown = [cap(q, 80) + (f" (line {line(q)})" if line and line(q) else "") for q in ids[:NAMED]]
    return ", ".join(shown) + (f" and {len(ids) - NAMED} more" if len(ids) > NAMED else "")


def judge_coverage(aside: Comparable, min_coverage: float, analysis: Analysis) -> None:
    """Queries the baseline judged that are left out of the comparison: removed from the labelled files, or with
    other judgements now. A few are said; too many fail (at gates.min_coverage), since a change could otherwise
    leave out, or relabel, exactly the queries that got worse."""
    left = aside.judged - len(aside.gone) - len(aside.relabelled)
    if not aside.digested and aside.judged:
        analysis.notes.append("the baseline records no digest of its relevance judgements (written by an earlier "
                              "prodgate): a change of the qrels since cannot be told from a change of the retriever; "
                              "`gate baseline update` on the base branch records them")
    if not aside.gone and not aside.relabelled:
        return
    share = left / aside.judged
    if share < min_coverage:
        why = [f"gone: {_named(aside.gone)}"] if aside.gone else []
        why += [f"judgements changed: {_named(aside.relabelled)}"] if aside.relabelled else []
        verb = "are judged in this run" if not aside.relabelled else "can be compared"
        analysis.violate(
            f"only {left} of the baseline's {aside.judged} judged queries {verb} ({share:.0%}, under gates.min_coverage "
            f"{min_coverage:.0%}; {'; '.join(why)}): queries removed from the queries or qrels file, or whose "
            "relevance judgements changed, leave the comparison; run `gate baseline update` on the base branch once "
            "they are merged", "gates", "min_coverage")


def _query_findings(run: Run, queries: Mapping[str, Query]) -> list[Finding]:
    out = []
    for qid, (category, message) in sorted(run.failed.items())[:MAX_QUERY_FINDINGS]:
        q = queries[qid]
        out.append(Finding(Severity.ERROR, clip(f"the target gave no ranking ({category.value}): {message}", 400),
                           run.queries_file, q.line, case_id=cap(qid, ID_CHARS), category=category.value))
    if len(run.failed) > MAX_QUERY_FINDINGS:
        out.append(Finding(Severity.ERROR, f"… and {len(run.failed) - MAX_QUERY_FINDINGS} more queries without a "
                           "ranking (see details.failed)", run.queries_file))
    return out


def _relabelled(run: Run, analysis: Analysis) -> list[Finding]:
    """The queries whose judgements changed since the baseline, as a warning at the qrels file: the comparison is
    not of all the labelled queries, and a drop of the rest would be the labels', not the retriever's. Under
    gates.min_coverage the violation says it instead."""
    aside = run.set_aside
    if aside is None or any(at[-1:] == ("min_coverage",) for at in analysis.violated):
        return []
    left = aside.judged - len(aside.gone) - len(aside.relabelled)
    out = []
    changed = aside.relabelled
    if changed:
        whose = "'s" if len(changed) == 1 else "'"
        out.append(Finding(Severity.WARNING, f"{counted(len(changed), 'query', 'queries')}{whose} relevance judgements "
                           f"changed since the baseline: compared on the {left} whose did not "
                           f"({_named(changed, run.qrel_lines.get)}); a relabelled query is compared from the next "
                           "baseline on", run.qrels_file, run.qrel_lines.get(changed[0])))
    if aside.gone:
        # Within gates.min_coverage, still not silent: the queries removed could be exactly the ones that got worse.
        out.append(Finding(Severity.WARNING, f"{counted(len(aside.gone), 'query', 'queries')} judged in the baseline "
                           f"but not in this run: left out of the comparison ({_named(aside.gone)})",
                           run.queries_file))
    return out


def build_result(run: Run, analysis: Analysis, queries: Mapping[str, Query], rankings: Mapping[str, Ranking],
                 values: Mapping[str, Mapping[str, float]], titles: Mapping[str, str], *, full: bool,
                 locate: Callable[[Sequence[str | int]], tuple[str, int]] | None = None) -> CheckResult:
    """locate: gate.yaml's file and line of a path in it, where each violated gate is written."""
    categories: dict[str, int] = {}
    for category, _ in run.failed.values():
        categories[category.value] = categories.get(category.value, 0) + 1
    findings = [Finding(Severity.ERROR, v, *(locate(at) if locate else ()))
                for v, at in zip(analysis.violations, analysis.violated, strict=True)]
    findings += _query_findings(run, queries)
    if run.service_exit is not None:
        findings.append(Finding(Severity.ERROR, f"the service (retrieval.target.http.start) exited with code "
                                f"{run.service_exit} during the run; the end of its log is in the gate's log"))
    if run.baseline_defect is not None:
        findings.append(run.baseline_defect)
    findings += [Finding(Severity.ERROR, e, run.baseline_file) for e in analysis.baseline_errors]
    findings += [Finding(Severity.WARNING, w, run.baseline_file) for w in analysis.baseline_warnings]
    empty = sorted(q for q, r in rankings.items() if not r)
    if empty:
        categories[Category.RETRIEVAL_EMPTY.value] = len(empty)
        findings.append(Finding(Severity.WARNING, f"{counted(len(empty), 'query', 'queries')} got no document back "
                                f"(every measure scores them 0): {', '.join(cap(q, 80) for q in empty[:5])}"
                                + (" …" if len(empty) > 5 else ""), run.queries_file,
                                category=Category.RETRIEVAL_EMPTY.value))
    if analysis.unjudged_warning:
        categories[Category.RETRIEVAL_UNJUDGED.value] = len(analysis.judged.get("unjudged") or [])
        findings.append(Finding(Severity.WARNING, analysis.unjudged_warning, category=Category.RETRIEVAL_UNJUDGED.value))
    findings += _relabelled(run, analysis)
    if run.unlabelled:
        first = queries[run.unlabelled[0]].line if run.unlabelled[0] in queries else None
        findings.append(Finding(Severity.NOTICE, f"{counted(len(run.unlabelled), 'query', 'queries')} without relevance "
                                f"judgements: left out of the measures, kept in drift: "
                                f"{_named(run.unlabelled, lambda q: queries[q].line if q in queries else None)}",
                                run.queries_file, first))
    if run.unknown_in_run:
        findings.append(Finding(Severity.NOTICE, f"the run file ranks {counted(run.unknown_in_run, 'query', 'queries')} "
                                "the queries file does not have: ignored"))
    status = Status.FAIL if any(f.severity is Severity.ERROR for f in findings) else \
        Status.WARN if any(f.severity is Severity.WARNING for f in findings) else Status.PASS
    primary = analysis.measures[0] if analysis.measures else None
    metrics: dict[str, Any] = {"queries": len(queries), "judged_queries": len(values), "failed_queries": len(run.failed),
                               "failure_categories": dict(sorted(categories.items()))}
    for row in analysis.measures:
        metrics[row["measure"]] = row["head"]
    if analysis.judged:
        metrics[analysis.judged["measure"]] = analysis.judged.get("head")
    if analysis.drift is not None:
        metrics["drift_changed_share"] = analysis.drift["share"]
    details: dict[str, Any] = {
        "run": {"target": run.target, "k": run.k, "depth": run.depth, "queries": len(queries), "judged": len(values),
                "calls": run.calls, "retried": run.retried},
        "baseline": {"source": run.baseline_source},
        "measures": analysis.measures, "judged": analysis.judged, "lost": analysis.lost,
        "violations": analysis.violations, "notes": analysis.notes,
    }
    if analysis.drift is not None:
        details["drift"] = analysis.drift
    if run.failed:
        details["failed"] = {cap(q, ID_CHARS): {"category": c.value, "message": clip(m, 300)} for q, (c, m) in sorted(run.failed.items())}
    shown = {d for item in analysis.lost for d in (*item.get("before", ()), *item.get("after", ()))}
    shown |= {d for item in (analysis.drift or {}).get("most_moved", []) for d in (*item["before"], *item["after"])}
    shown |= {doc for doc, _ in analysis.judged.get("unjudged") or []}
    # Keyed as the lists above show the ids (cut short), so a long id still finds its title.
    details["titles"] = dict(sorted((cap(d, ID_CHARS), clip(t, 120)) for d, t in titles.items()
                                    if cap(d, ID_CHARS) in shown))
    if full:
        details["queries"] = [{"id": q, "top": list(rankings[q][:run.depth]),
                               **({"measures": {m: round(v, PRECISION) for m, v in values[q].items()}} if q in values else {}),
                               **({"judgements": run.digests[q]} if q in values and q in run.digests else {})}
                              for q in sorted(rankings)]
    if primary is not None:
        change = f"{primary['delta'] * 100:+.1f} pts" if primary.get("delta") is not None else None
        details["headline"] = {"value": f"{primary['measure']} {primary['head']:.3f}", "change": change}
    return CheckResult(NAME, status, _summary(primary, analysis, len(values), run.set_aside), metrics=metrics,
                       findings=tuple(findings), details=details)


def _summary(primary: Mapping[str, Any] | None, analysis: Analysis, judged: int, aside: Comparable | None) -> str:
    if primary is None:
        return "no measure"
    text = f"{primary['measure']} {primary['head']:.3f} on {counted(judged, 'judged query', 'judged queries')}"
    if primary.get("delta") is not None:
        # The change is of the queries compared: when labels changed, not of every judged query.
        on = f" on the {primary['n_paired']} queries not relabelled" if aside is not None and aside.relabelled else ""
        text += f"; {primary['delta'] * 100:+.1f} pts vs the base branch{on} ({primary['verdict_text']})"
    elif analysis.notes:
        text += "; " + analysis.notes[-1]
    if analysis.violations:
        more = f" (+{len(analysis.violations) - 1} more)" if len(analysis.violations) > 1 else ""
        text += f"; {analysis.violations[0]}{more}"
    return text
