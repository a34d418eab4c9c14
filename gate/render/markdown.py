"""The markdown view of a report: the sticky PR comment and the job summary.

One layout for both: a headline verdict, one table row per check, then one collapsible section
per check whose body is the check's own `markdown_details(result)` (or its findings, linked to
the file and line in the head commit). When the text must fit a limit, the least important
sections shrink first and the comment says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from gate.render.escape import code_span, inline, link, prose, url_path
from gate.render.words import counted
from gate.report import CheckResult, Finding, Report, Severity, Status

MARKER = "<!-- prodgate:report -->"
FOOTER_MARKER = "<!-- prodgate:footer -->"
# GitHub refuses a comment over 65,536 characters; the margin absorbs its own normalisation.
COMMENT_LIMIT = 65_000
# The job summary may hold 1 MiB per step (bytes, not characters).
SUMMARY_LIMIT_BYTES = 1_000_000
MAX_FINDINGS = 30
MAX_FINDINGS_SUMMARY = 1_000

ICONS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.ERROR: "🛑", Status.SKIP: "⏭️"}
_SEVERITY_ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.NOTICE: "ℹ️"}


@dataclass(frozen=True)
class Links:
    """Where links point: files at the head commit of the pull request, and the workflow run."""

    server_url: str
    repository: str
    head_sha: str | None = None
    run_url: str | None = None

    def blob(self, path: str, line: int | None = None) -> str | None:
        if not self.head_sha or not path or path.startswith(("/", "../")) or "\\" in path:
            return None
        url = f"{self.server_url.rstrip('/')}/{self.repository}/blob/{self.head_sha}/{url_path(path)}"
        return url + (f"#L{line}" if line else "")


_LINKS: ContextVar[Links | None] = ContextVar("prodgate_markdown_links", default=None)
# Whether the text is for the pull request comment, which the runner does not mask (the default, as the
# safe guess), or for the job summary and files, which it does.
_IN_COMMENT: ContextVar[bool] = ContextVar("prodgate_markdown_in_comment", default=True)


def in_comment() -> bool:
    """For checks' `markdown_details`: whether to leave out what only the job summary may show (a service's log)."""
    return _IN_COMMENT.get()


@contextmanager
def linking(links: Links | None) -> Iterator[None]:
    """Make file_link() point into the head commit while a check renders its details."""
    token = _LINKS.set(links)
    try:
        yield
    finally:
        _LINKS.reset(token)


def file_link(path: str, line: int | None = None) -> str:
    """`path:line` as a link to that line in the head commit when rendering for a pull request.

    For checks' `markdown_details`: the path is repository-relative, as in a Finding."""
    label = f"{path}:{line}" if line else path
    links = _LINKS.get()
    url = links.blob(path, line) if links else None
    return link(label, url) if url else code_span(label)


def findings_markdown(findings: Sequence[Finding], limit: int = MAX_FINDINGS) -> str:
    """A bullet list of findings, each linked to its file and line; for checks to reuse."""
    out = []
    for f in findings[:limit]:
        where = file_link(f.file, f.line) + " " if f.file else ""
        case = f"{code_span(f.case_id)} " if f.case_id else ""
        category = f" ({code_span(f.category)})" if f.category else ""
        out.append(f"- {_SEVERITY_ICONS[f.severity]} {where}{case}{prose(f.message, 500)}{category}")
    if len(findings) > limit:
        out.append(f"- … and {len(findings) - limit} more in the job summary and the JSON report")
    return "\n".join(out)


@dataclass(frozen=True)
class Layout:
    limit: int
    measure: Callable[[str], int]
    max_findings: int
    # Where the reader finds what a shortened text left out.
    elsewhere: str
    in_comment: bool = True


def comment_layout() -> Layout:
    return Layout(COMMENT_LIMIT, len, MAX_FINDINGS, "the job summary")


def summary_layout() -> Layout:
    return Layout(SUMMARY_LIMIT_BYTES, lambda s: len(s.encode("utf-8")), MAX_FINDINGS_SUMMARY, "the JSON report",
                  in_comment=False)


def render_markdown(report: Report) -> str:
    """The `--markdown` file: the full report as a job summary shows it."""
    return render_summary(report)


def render_comment(report: Report, *, links: Links | None = None, checks: Mapping[str, Any] | None = None,
                   marker: str = MARKER, layout: Layout | None = None) -> str:
    return render(report, layout or comment_layout(), links=links, checks=checks, marker=marker)


def render_summary(report: Report, *, links: Links | None = None, checks: Mapping[str, Any] | None = None) -> str:
    """The job summary: the same layout with room for every finding (1 MiB)."""
    return render(report, summary_layout(), links=links, checks=checks, marker="")


def stable_part(body: str) -> str:
    """What must differ for a comment to be worth updating: everything above the footer."""
    return body.split(FOOTER_MARKER, 1)[0].rstrip()


def render(report: Report, layout: Layout, *, links: Links | None = None,
           checks: Mapping[str, Any] | None = None, marker: str = MARKER) -> str:
    from gate.render.markdown_sections import build_sections, fit

    if checks is None:
        checks = _registered_checks()
    audience = _IN_COMMENT.set(layout.in_comment)
    try:
        with linking(links):
            sections = build_sections(report, checks, layout)
    finally:
        _IN_COMMENT.reset(audience)
    top = [marker] if marker else []
    top += [f"## {headline(report)}", "", verdict_sentence(report), "", *table(report)]
    return fit("\n".join(top), sections, footer(report, links), layout, links)


def _registered_checks() -> dict[str, Any]:
    from gate.registry import discover

    checks, _ = discover()
    return {c.name: c for c in checks}


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
