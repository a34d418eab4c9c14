"""The docs check's part of the PR comment: one row per failure mode, fallback chains, observed failures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.render.escape import code_span, inline
from gate.render.markdown_base import MAX_FINDINGS_SUMMARY, file_link, findings_markdown
from gate.report import CheckResult

_STATE = {"complete": "✅ complete", "incomplete": "❌ incomplete", "missing": "❌ missing",
          "not applicable": "⏭️ not applicable"}


def render_details(result: CheckResult) -> str:
    """The findings (each linked to its line), then the state of every catalogue mode."""
    d = result.details
    lines: list[str] = []
    if result.findings:
        # All of them: the comment's size fitting shortens this section when it must, the job summary keeps it.
        lines += [findings_markdown(result.findings, MAX_FINDINGS_SUMMARY), ""]
    modes = d.get("modes") or []
    if modes:
        lines += ["| failure mode | state | where | owner |", "|---|---|---|---|"]
        for m in modes:
            state = _STATE.get(m.get("state", ""), inline(str(m.get("state"))))
            if m.get("missing_fields"):
                state += ": no " + ", ".join(inline(f) for f in m["missing_fields"])
            if m.get("state") == "not applicable":
                state += f": {inline(m['reason'], 120)}" if m.get("reason") else ": no reason given"
            where = _where(m) if m.get("file") else "—"
            owner = inline(m["owner"], 80) if m.get("owner") else "—"
            lines.append(f"| {inline(m['title'], 80)} | {state} | {where} | {owner} |")
        for m in d.get("other_modes") or []:
            owner = inline(m["owner"], 80) if m.get("owner") else "—"
            lines.append(f"| {inline(m['title'], 80)} (this system's own) | {_STATE.get(m['state'], '')} | "
                         f"{_where(m)} | {owner} |")
    fallbacks = d.get("fallbacks") or []
    if fallbacks:
        lines += ["", "**Fallback chains** (models.yaml)", ""]
        for f in fallbacks:
            chain = " → ".join(code_span(n, 60) for n in f["chain"])
            missing = ", ".join(code_span(n, 60) for n in f["undocumented"])
            lines.append(f"- {chain}: " + (f"❌ no Fallback field names {missing}" if missing else "documented"))
    observed = d.get("observed") or []
    if observed:
        lines += ["", "**Failures observed in this run**", "", "| category | count | seen by | covered by |",
                  "|---|---|---|---|"]
        for o in observed:
            covered = ", ".join(inline(t, 80) for t in o["covered_by"]) or "❌ no failure mode"
            lines.append(f"| {code_span(o['category'], 60, in_table=True)} | {int(o['count'])} | "
                         f"{', '.join(inline(c, 40) for c in o['checks'])} | {covered} |")
    return "\n".join(lines)


def _where(m: Mapping[str, Any]) -> str:
    path, line = str(m["file"]), m.get("line")
    if "|" in path:  # a table cell ends at an unescaped pipe, whatever the link
        return code_span(f"{path}:{line}" if line else path, 120, in_table=True)
    return file_link(path, line)
