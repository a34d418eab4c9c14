"""The schema check's section of the PR comment: its findings, then every prompt whose version moved."""

from __future__ import annotations

from gate.render.escape import code_span, inline
from gate.render.markdown_base import file_link, findings_markdown
from gate.render.words import counted
from gate.report import CheckResult

_MAX_ROWS = 50


def render_details(result: CheckResult) -> str:
    parts = []
    if result.findings:
        parts.append(findings_markdown(result.findings))
    rows = [r for r in result.details.get("prompts", []) if r.get("change") != "unchanged"]
    if rows:
        table = ["| prompt | change | version |", "|---|---|---|"]
        for r in rows[:_MAX_ROWS]:
            old, new = r.get("old") or "—", r.get("new") or "—"
            table.append(f"| {file_link(str(r.get('file', '')))} | {inline(str(r.get('change', '')), 20)} | "
                         f"{code_span(old, 40, in_table=True)} → {code_span(new, 40, in_table=True)} |")
        if len(rows) > _MAX_ROWS:
            table.append(f"| … {len(rows) - _MAX_ROWS} more in the JSON report | | |")
        parts.append("\n".join(table))
    if not result.details.get("base_compared", True):
        reason = result.details.get("base_unavailable_reason") or "no base ref"
        parts.append(f"Prompt versions were not compared with the base branch: {inline(str(reason), 300)}.")
    m = result.metrics
    parts.append(f"{counted(m.get('prompts', 0), 'prompt file')} and {counted(m.get('models', 0), 'model')} "
                 f"validated; {counted(m.get('changed_prompts', 0), 'prompt')} changed against the base branch.")
    return "\n\n".join(parts)
