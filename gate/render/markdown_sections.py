"""One collapsible section per check, and fitting them all under a size limit, least important first."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gate.render.escape import html_prose, html_text, inline
from gate.render.markdown_base import ICONS, Layout, Links, findings_markdown
from gate.render.markdown_blocks import repair, truncate
from gate.report import CheckResult, Report, Status

_MIN_SECTION = 400
# Room kept for the notice, which grows as sections are named in it.
_NOTICE_SLACK = 300
_MAX_METRICS = 20


@dataclass(frozen=True)
class Section:
    name: str
    status: Status
    summary: str
    body: str


def build_sections(report: Report, checks: Mapping[str, Any], layout: Layout) -> list[Section]:
    return [Section(c.name, c.status, c.summary, _body(c, checks.get(c.name), layout))
            for c in report.checks if c.status is not Status.SKIP]


def _body(result: CheckResult, check: Any, layout: Layout) -> str:
    render = getattr(check, "markdown_details", None)
    prefix = ""
    # An error the check reported itself (details filled, e.g. an inconclusive load run) still gets
    # the check's own view; a crash, which has no details, gets the plain findings.
    own_error = result.status is Status.ERROR and bool(result.details)
    if callable(render) and (result.status in (Status.PASS, Status.WARN, Status.FAIL) or own_error):
        try:
            own = render(result)
        except Exception as exc:  # noqa: BLE001 - a plugin's renderer must not lose the comment
            own = None
            prefix = f"_The check's own details could not be rendered ({inline(type(exc).__name__, 80)})._\n\n"
        if isinstance(own, str) and own.strip():
            return repair(own)
    return repair(prefix + fallback(result, layout.max_findings))


def fallback(result: CheckResult, max_findings: int) -> str:
    """Findings linked to file and line, then the scalar metrics: for checks with no renderer."""
    parts = []
    if result.findings:
        parts.append(findings_markdown(result.findings, max_findings))
    scalars = [(k, v) for k, v in result.metrics.items() if isinstance(v, (str, int, float, bool))]
    if scalars:
        rows = ["| metric | value |", "|---|---|"]
        rows += [f"| {inline(str(k), 80)} | {inline(_number(v), 80)} |" for k, v in scalars[:_MAX_METRICS]]
        parts.append("\n".join(rows))
    return "\n\n".join(parts) or "_Nothing further to report._"


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _wrap(section: Section, body: str) -> str:
    opened = " open" if section.status in (Status.FAIL, Status.ERROR) else ""
    summary = (f"{ICONS[section.status]} <b>{html_text(section.name, 60)}</b>: "
               f"{html_prose(section.summary, 200)}")
    return f"<details{opened}><summary>{summary}</summary>\n\n{body}\n\n</details>"


def _notice(shortened: list[str], omitted: list[str], layout: Layout, links: Links | None) -> str:
    what = []
    if shortened:
        what.append(f"shortened: {', '.join(inline(n, 60) for n in shortened)}")
    if omitted:
        what.append(f"left out: {', '.join(inline(n, 60) for n in omitted)}")
    where = layout.elsewhere
    if links and links.run_url and layout.elsewhere == "the job summary":
        # No URL here: the run changes every push, and this text decides whether to edit the comment.
        where = "the job summary of the workflow run linked below"
    return (f"> [!NOTE]\n> Shortened to fit GitHub's size limit ({'; '.join(what) or 'table cut'}). "
            f"The full report is in {where}.")


def fit(top: str, sections: list[Section], footer: str, layout: Layout, links: Links | None) -> str:
    measure = layout.measure
    wrapped: dict[str, str | None] = {s.name: _wrap(s, s.body) for s in sections}
    sizes = {name: measure(text) if text else 0 for name, text in wrapped.items()}
    shortened: list[str] = []
    omitted: list[str] = []
    sep = measure("\n\n")

    def total(head: str = top) -> int:
        notice = measure(_notice(shortened, omitted, layout, links)) + sep if shortened or omitted else 0
        kept = [size + sep for name, size in sizes.items() if wrapped[name] is not None]
        return measure(head) + notice + sum(kept) + sep + measure(footer)

    def assemble(head: str = top) -> str:
        parts = [head]
        if shortened or omitted:
            parts.append(_notice(shortened, omitted, layout, links))
        parts += [text for s in sections if (text := wrapped[s.name]) is not None]
        parts.append(footer)
        return "\n\n".join(parts)

    # Least important first: passing before warning before failing; the biggest first among equals.
    for s in sorted(sections, key=lambda s: (s.status.rank, -sizes[s.name])):
        over = total() - layout.limit
        if over <= 0:
            break
        budget = measure(s.body) - over - _NOTICE_SLACK
        note = f"_… shortened to fit: the whole section is in {layout.elsewhere}._"
        cut = truncate(s.body, budget, note, measure) if budget >= _MIN_SECTION else None
        wrapped[s.name] = _wrap(s, cut) if cut is not None else None
        sizes[s.name] = measure(wrapped[s.name] or "")
        (shortened if cut is not None else omitted).append(s.name)
    if total() <= layout.limit:
        return assemble()
    # Only the headline table is left and it alone is too long (hundreds of checks): cut it by lines.
    if not shortened and not omitted:
        shortened.append("the table")
    lines = top.split("\n")
    while lines and total("\n".join(lines)) > layout.limit:
        lines = lines[: max(len(lines) * 9 // 10, len(lines) - 1)] if len(lines) > 1 else []
    return assemble(repair("\n".join(lines)) if lines else "")
