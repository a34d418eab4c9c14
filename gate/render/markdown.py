"""The markdown view of a report: the sticky PR comment and the job summary.

One layout for both: a headline verdict, one table row per check, then one collapsible section
per check whose body is the check's own `markdown_details(result)` (or its findings, linked to
the file and line in the head commit). When the text must fit a limit, the least important
sections shrink first and the comment says so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.render.escape import code_span, inline, link, prose
from gate.render.markdown_base import ICONS, Layout, Links, audience, comment_layout, linking, summary_layout
from gate.render.markdown_base import file_link as file_link  # for checks (docs/writing-checks.md)
from gate.render.markdown_base import findings_markdown as findings_markdown  # likewise
from gate.render.markdown_sections import build_sections, fit
from gate.render.words import counted
from gate.report import CheckResult, Report, Status

MARKER = "<!-- prodgate:report -->"
FOOTER_MARKER = "<!-- prodgate:footer -->"
def render_markdown(report: Report, checks: Mapping[str, Any]) -> str:
    """The `--markdown` file: the full report as a job summary shows it."""
    return render_summary(report, checks=checks)


def render_comment(report: Report, *, checks: Mapping[str, Any], links: Links | None = None,
                   marker: str = MARKER, layout: Layout | None = None) -> str:
    """checks: by name, the checks whose `markdown_details` render their own sections; {} renders findings alone."""
    return render(report, layout or comment_layout(), links=links, checks=checks, marker=marker)


def render_summary(report: Report, *, checks: Mapping[str, Any], links: Links | None = None) -> str:
    """The job summary: the same layout with room for every finding (1 MiB)."""
    return render(report, summary_layout(), links=links, checks=checks, marker="")


def stable_part(body: str) -> str:
    """What must differ for a comment to be worth updating: everything above the footer."""
    return body.split(FOOTER_MARKER, 1)[0].rstrip()


def render(report: Report, layout: Layout, *, checks: Mapping[str, Any], links: Links | None = None,
           marker: str = MARKER) -> str:
    with audience(layout.in_comment), linking(links):
        sections = build_sections(report, checks, layout)
    top = [marker] if marker else []
    top += [f"## {headline(report)}", "", verdict_sentence(report), "", *table(report)]
    return fit("\n".join(top), sections, footer(report, links), layout, links)


def headline(report: Report) -> str:
    verdict = report.verdict
    return f"{ICONS[verdict]} prodgate: **{verdict.value}**"


def _names(results: Sequence[CheckResult]) -> str:
    return ", ".join(f"**{inline(c.name, 60)}**" for c in results)


def verdict_sentence(report: Report) -> str:
    by: dict[Status, list[CheckResult]] = {s: [] for s in Status}
    for c in report.checks:
        by[c.status].append(c)
    parts = []
    if by[Status.ERROR]:
        parts.append(f"Could not complete: {_names(by[Status.ERROR])}.")
    if by[Status.FAIL]:
        parts.append(f"Failed: {_names(by[Status.FAIL])}.")
    if by[Status.WARN]:
        parts.append(f"Warnings: {_names(by[Status.WARN])}.")
    ran = len(report.checks) - len(by[Status.SKIP])
    if not parts:
        parts.append(f"All {counted(ran, 'check')} passed." if ran else "No check ran: gate.yaml configures none.")
    elif by[Status.PASS]:
        parts.append(f"Passed: {_names(by[Status.PASS])}.")
    if by[Status.SKIP]:
        parts.append(f"Skipped: {', '.join(inline(c.name, 60) for c in by[Status.SKIP])}.")
    if report.verdict in (Status.FAIL, Status.ERROR):
        parts.append("**Do not merge** until the gate passes.")
    return " ".join(parts)


def key_number(result: CheckResult) -> tuple[str, str]:
    """(value, change) for the table: the check's own headline, else its summary."""
    head = result.details.get("headline")
    if isinstance(head, Mapping) and isinstance(head.get("value"), (str, int, float)):
        change = head.get("change")
        value = prose(str(head["value"]), 120, in_table=True)
        return value, prose(str(change), 80, in_table=True) if change not in (None, "") else "—"
    return prose(result.summary, 120, in_table=True), "—"


def table(report: Report) -> list[str]:
    rows = ["| check | status | result | change vs base |", "|---|---|---|---|"]
    for c in report.checks:
        value, change = key_number(c)
        rows.append(f"| {inline(c.name, 60)} | {ICONS[c.status]} {c.status.value} | {value} | {change} |")
    return rows


def footer(report: Report, links: Links | None) -> str:
    parts = [f"prodgate {inline(report.tool_version, 40)}"]
    if links and links.run_url:
        parts.append(link("workflow run", links.run_url))
    if report.git.head:
        parts.append(f"head {code_span(report.git.head[:12])}")
    if report.git.base:
        ref = f" ({inline(report.git.base_ref, 80)})" if report.git.base_ref else ""
        parts.append(f"base {code_span(report.git.base[:12])}{ref}")
    parts.append(f"{report.duration_s:.1f} s")
    return f"{FOOTER_MARKER}\n<sub>{' · '.join(parts)}</sub>\n"


def render_incomplete(exit_code: int, errors: Sequence[str], links: Links | None, *,
                      marker: str = MARKER, version: str = "", why: str | None = None) -> str:
    """The comment when `gate check` wrote no report (gate.yaml or the command line is unusable), or
    `why` the report it wrote is not shown."""
    from gate.render.escape import code_block

    meaning = {2: "a usage or configuration error", 3: "the gate could not complete"}.get(exit_code, "no report")
    lines = [marker] if marker else []
    lines += [f"## {ICONS[Status.ERROR]} prodgate: **error**", "",
              f"{why or f'`gate check` exited with {exit_code} ({meaning}) and wrote no report.'} **Do not merge** "
              "until the gate runs.", ""]
    if errors:
        lines += [code_block("\n".join(errors[:20]), 4000, "text"), ""]
    where = link("workflow run", links.run_url) if links and links.run_url else "workflow run"
    lines += [f"The {where}'s log has the whole output.", "", FOOTER_MARKER,
              f"<sub>prodgate {inline(version, 40)}</sub>", ""]
    return "\n".join(lines)
