"""The terminal view: one table row per check, then the findings, file:line first; both fit the terminal's width."""

from __future__ import annotations

import os
import shutil
import sys
import textwrap

from tabulate import tabulate

from gate.render.escape import no_workflow_commands, terminal_text
from gate.report import Finding, Report, Severity, Status

_COLOURS = {
    Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.ERROR: "magenta", Status.SKIP: "bright_black",
}
_SEVERITY_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTICE: "cyan"}
_SEVERITY_ORDER = (Severity.ERROR, Severity.WARNING, Severity.NOTICE)
MAX_FINDINGS_PER_CHECK = 50
# Not a terminal (a CI log, a pipe): wide enough for a summary, narrow enough to read in a browser log view.
DEFAULT_WIDTH = 100
_MIN_SUMMARY = 24
_GAP = 2  # tabulate's "simple" format puts two spaces between columns
_HEADER_PAD = 2


def terminal_width() -> tuple[int, bool]:
    """(columns, whether a reader's screen set them): COLUMNS or the terminal's width; else DEFAULT_WIDTH."""
    known = "COLUMNS" in os.environ or sys.stdout.isatty()
    return max(40, shutil.get_terminal_size((DEFAULT_WIDTH, 24)).columns), known


def _style(text: str, colour: str | None, colour_on: bool) -> str:
    if not colour_on or colour is None:
        return text
    import click

    return click.style(text, fg=colour, bold=colour != "bright_black")


def _wrap(text: str, width: int, indent: str) -> list[str]:
    """Wrapped at word boundaries; a word longer than the line (a path, a URL) is kept whole."""
    lines: list[str] = []
    for part in text.split("\n"):
        lines += textwrap.wrap(part, width, subsequent_indent=indent + "  ", initial_indent=indent if not lines else
                               indent + "  ", break_long_words=False, break_on_hyphens=False) or [indent]
    return lines


def finding_line(f: Finding) -> str:
    """'file:line: severity: [case] message (RULE)', neutralised for a terminal or a log; the rule id is what
    `schema.ignore` and `# gate: ignore[RULE]` take."""
    where = terminal_text(f.location())
    case = f" [{terminal_text(f.case_id)}]" if f.case_id else ""
    rule = f" ({terminal_text(f.rule)})" if f.rule else ""
    return f"{where + ': ' if where else ''}{f.severity.value}:{case} {terminal_text(f.message)}{rule}"


def render_terminal(report: Report, *, colour: bool = False, verbose: bool = False, width: int | None = None) -> str:
    """Checks' text comes from model outputs, datasets and logs: it may not drive the terminal or the runner."""
    text = terminal_text
    # In a log (no terminal, no COLUMNS) a finding stays on one line: `file:line: severity:` lines are what
    # problem matchers and grep read, and a log viewer wraps by itself. The table fits either way.
    wrap = width is not None
    if width is None:
        width, wrap = terminal_width()
    rows = []
    for c in report.checks:
        rows.append([text(c.name), c.status.value.upper(), text(c.summary), f"{c.duration_s:.1f}s"])
    # tabulate pads a header by _HEADER_PAD, so a column is never narrower than its header plus that.
    fixed = [max([len(h) + _HEADER_PAD, *(len(r[i]) for r in rows)])
             for i, h in ((0, "check"), (1, "status"), (3, "time"))]
    summary_width = max(_MIN_SUMMARY, width - sum(fixed) - 3 * _GAP)
    for row, c in zip(rows, report.checks, strict=True):
        row[1] = _style(row[1], _COLOURS[c.status], colour)  # tabulate measures text without its colour codes
    # Long summaries wrap inside their cell, so no row is wider than the terminal.
    out = [tabulate(rows, headers=["check", "status", "summary", "time"], tablefmt="simple",
                    maxcolwidths=[None, None, summary_width, None])]
    for c in report.checks:
        if not c.findings:
            continue
        # Errors first (for the regression check: the cases this change broke), then what was failing already;
        # the report's own order (file and line) holds within each.
        ordered = sorted(c.findings, key=lambda f: _SEVERITY_ORDER.index(f.severity))
        shown = ordered if verbose else ordered[:MAX_FINDINGS_PER_CHECK]
        out.append("")
        out.append(f"{text(c.name)}:")
        for f in shown:
            lines = _wrap(finding_line(f), width, "  ") if wrap else ["  " + finding_line(f)]
            if colour:
                sev = _style(f.severity.value, _SEVERITY_COLOURS[f.severity], True)
                lines[0] = lines[0].replace(f"{f.severity.value}:", f"{sev}:", 1)
            out += lines
        if len(shown) < len(c.findings):
            out.append(f"  ... and {len(c.findings) - len(shown)} more (see the JSON report, or pass --verbose)")
    verdict = report.verdict
    out.append("")
    out.append(_style(f"verdict: {verdict.value.upper()}", _COLOURS[verdict], colour) + f" ({report.duration_s:.1f}s)")
    return no_workflow_commands("\n".join(out)) + "\n"
