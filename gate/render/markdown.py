"""The markdown view of a report (job summary and PR comment body)."""

from __future__ import annotations

from gate.render.escape import inline
from gate.report import Report, Status

MARKER = "<!-- prodgate:report -->"
_ICONS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.ERROR: "🛑", Status.SKIP: "⏭️"}
MAX_FINDINGS = 30


def headline(report: Report) -> str:
    verdict = report.verdict
    failing = [c.name for c in report.checks if c.status in (Status.FAIL, Status.ERROR)]
    if failing:
        return f"{_ICONS[verdict]} **prodgate: {verdict.value}** — {', '.join(failing)}"
    return f"{_ICONS[verdict]} **prodgate: {verdict.value}**"


def render_markdown(report: Report) -> str:
    lines = [MARKER, f"## {headline(report)}", "", "| check | status | summary |", "|---|---|---|"]
    for c in report.checks:
        lines.append(f"| {c.name} | {_ICONS[c.status]} {c.status.value} | {inline(c.summary)} |")
    for c in report.checks:
        if not c.findings:
            continue
        lines += ["", f"<details><summary>{c.name}: {len(c.findings)} finding(s)</summary>", ""]
        for f in c.findings[:MAX_FINDINGS]:
            where = f"`{inline(f.location(), 200)}` " if f.file else ""
            lines.append(f"- {where}**{f.severity.value}**: {inline(f.message, 500)}")
        if len(c.findings) > MAX_FINDINGS:
            lines.append(f"- … and {len(c.findings) - MAX_FINDINGS} more in the JSON report")
        lines += ["", "</details>"]
    lines += ["", f"<sub>prodgate {inline(report.tool_version)}</sub>", ""]
    return "\n".join(lines)
