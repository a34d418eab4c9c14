"""The retrieval check's part of the PR comment: why it failed, the measures against the base branch, the queries
that lost most (top 5 before and after), drift and Judged@k. Queries, ids and titles are untrusted: all escaped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.render.escape import code_span, inline, prose
from gate.render.words import counted
from gate.verdict import format_p

_ICONS = {"regression": "❌", "too_few": "⚪", "significant_within_tolerance": "⚠️",
          "significant_not_beyond_tolerance": "⚠️", "improved": "✅", "no_significant_change": "✅"}
_QUERY_CHARS = 120
_TITLE_CHARS = 60


def _num(x: Any) -> str:
    return "—" if x is None else f"{x:.3f}"


def _pts(x: Any) -> str:
    return "—" if x is None else f"{x * 100:+.1f}"


def render_details(details: Mapping[str, Any]) -> str:
    lines: list[str] = []
    violations = details.get("violations") or []
    if violations:
        lines += ["**Why this check failed:**", "", *(f"- {prose(v, 500)}" for v in violations), ""]
    lines += _measures(details.get("measures") or [])
    run = details.get("run") or {}
    baseline = details.get("baseline") or {}
    lines += ["", f"{counted(int(run.get('judged', 0)), 'judged query', 'judged queries')} of "
              f"{run.get('queries', 0)}, {run.get('k', '')} documents asked per query. "
              f"Baseline: {prose(str(baseline.get('source', '')), 300)}"]
    titles: Mapping[str, str] = details.get("titles") or {}
    lines += _judged(details.get("judged") or {}, titles)
    lines += _drift(details.get("drift"), titles)
    lines += _lost(details.get("lost") or [], titles)
    for note in details.get("notes") or []:
        lines.append(f"\n_{prose(note, 400)}_")
    return "\n".join(lines) + "\n"


def _measures(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    compared = any(r.get("delta") is not None for r in rows)
    if not compared:
        return ["| measure | this branch |", "|---|---:|", *(f"| {inline(r['measure'], 40)} | {_num(r['head'])} |"
                                                       for r in rows)]
    lines = ["| measure | this branch vs base | change, pts (95% CI) | p (Holm) | detectable drop | verdict |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        if r.get("delta") is None:
            why = f"not compared: {inline(str(r['not_compared']), 200)}" if r.get("not_compared") else \
                "not in the baseline"
            lines.append(f"| {inline(r['measure'], 40)} | {_num(r['head'])} vs — | — | — | — | {why} |")
            continue
        mde = "none at this n" if r.get("mde") is None else f"{r['mde'] * 100:.1f} pts"
        verdict = f"{_ICONS.get(str(r.get('verdict')), '')} {inline(str(r.get('verdict_text', '')), 200)}".strip()
        lo, hi = r["ci95"]
        lines.append(f"| {inline(r['measure'], 40)} | {_num(r.get('head_paired'))} vs {_num(r['base'])} | "
                     f"{_pts(r['delta'])} ({_pts(lo)} to {_pts(hi)}) | {format_p(r['p_adjusted'], r.get('alpha'))} | "
                     f"{mde} | {verdict} |")
    return lines


def _doc(doc: str, titles: Mapping[str, str]) -> str:
    title = titles.get(doc)
    return code_span(doc, 80, in_table=True) + (f" {inline(title, _TITLE_CHARS)}" if title else "")


def _docs(docs: Sequence[str], titles: Mapping[str, str]) -> str:
    return "<br>".join(f"{i + 1}. {_doc(d, titles)}" for i, d in enumerate(docs)) or "(nothing)"


def _judged(info: Mapping[str, Any], titles: Mapping[str, str]) -> list[str]:
    if not info:
        return []
    name = inline(str(info.get("measure", "")), 40)
    head = info.get("head_paired", info.get("head"))
    text = f"{name}: {_share(head)} on this branch"
    if info.get("base") is not None:
        text += f", {_share(info['base'])} on the base branch"
    lines = ["", text + "."]
    unjudged = info.get("unjudged") or []
    if unjudged and info.get("delta") is not None and info["delta"] < 0:
        shown = ", ".join(f"{_doc(d, titles)} ({n}×)" for d, n in unjudged[:5])
        lines.append(f"Most frequent documents without a judgement in the top results: {shown}.")
    return lines


def _share(x: Any) -> str:
    return "—" if x is None else f"{x:.1%}"


def _drift(info: Mapping[str, Any] | None, titles: Mapping[str, str]) -> list[str]:
    if not info:
        return []
    limit = info.get("max_changed_share")
    gate = f" (gate: at most {limit:.0%})" if limit is not None else ""
    lines = ["", f"**Drift:** the top {info['depth']} moved (RBO < {info['threshold']:g}) for {info['changed']} of "
             f"{counted(int(info['compared']), 'query', 'queries')}, {_share(info['share'])}{gate}; mean RBO "
             f"{_num(info['mean_rbo'])}."]
    moved = info.get("most_moved") or []
    if moved:
        lines += ["", "| query that moved most | RBO | top 5 before | top 5 now |", "|---|---:|---|---|"]
        for m in moved[:5]:
            lines.append(f"| {code_span(str(m['query']), 60, in_table=True)} {inline(str(m.get('text', '')), _QUERY_CHARS)} "
                         f"| {_num(m['rbo'])} | {_docs(m['before'], titles)} | {_docs(m['after'], titles)} |")
    return lines


def _lost(lost: Sequence[Mapping[str, Any]], titles: Mapping[str, str]) -> list[str]:
    if not lost:
        return []
    measure = inline(str(lost[0].get("measure", "")), 40)
    lines = ["", f"**Queries that lost most** ({measure}):", "",
             f"| query | {measure} before → now | top 5 before | top 5 now |", "|---|---|---|---|"]
    for item in lost:
        lines.append(f"| {code_span(str(item['query']), 60, in_table=True)} {inline(str(item.get('text', '')), _QUERY_CHARS)} "
                     f"| {_num(item['base'])} → {_num(item['head'])} | {_docs(item.get('before') or [], titles)} | "
                     f"{_docs(item.get('after') or [], titles)} |")
    return lines
