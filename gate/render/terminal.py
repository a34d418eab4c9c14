"""The terminal view: one table row per check, then the findings, file:line first."""

from __future__ import annotations

from tabulate import tabulate

from gate.render.escape import no_workflow_commands, terminal_text
from gate.report import Report, Severity, Status

_COLOURS = {
    Status.PASS: "green", Status.WARN: "yellow", Status.FAIL: "red", Status.ERROR: "magenta", Status.SKIP: "bright_black",
}
_SEVERITY_COLOURS = {Severity.ERROR: "red", Severity.WARNING: "yellow", Severity.NOTICE: "cyan"}
MAX_FINDINGS_PER_CHECK = 50
SUMMARY_WIDTH = 88


def _style(text: str, colour: str | None, colour_on: bool) -> str:
    if not colour_on or colour is None:
        return text
    import click

    return click.style(text, fg=colour, bold=colour != "bright_black")


def render_terminal(report: Report, *, colour: bool = False, verbose: bool = False) -> str:
    """Checks' text comes from model outputs, datasets and logs: it may not drive the terminal or the runner."""
    text = terminal_text
    rows = []
    for c in report.checks:
        rows.append([text(c.name), _style(c.status.value.upper(), _COLOURS[c.status], colour), text(c.summary),
                     f"{c.duration_s:.1f}s"])
    # Long summaries wrap inside their cell rather than stretching the table past the terminal.
    out = [tabulate(rows, headers=["check", "status", "summary", "time"], tablefmt="simple",
                    maxcolwidths=[None, None, SUMMARY_WIDTH, None])]
    for c in report.checks:
        if not c.findings:
            continue
        shown = c.findings if verbose else c.findings[:MAX_FINDINGS_PER_CHECK]
        out.append("")
        out.append(f"{text(c.name)}:")
        for f in shown:
            where = text(f.location())
            sev = _style(f.severity.value, _SEVERITY_COLOURS[f.severity], colour)
            case = f" [{text(f.case_id)}]" if f.case_id else ""
            out.append(f"  {where + ': ' if where else ''}{sev}:{case} {text(f.message)}")
        if len(shown) < len(c.findings):
            out.append(f"  ... and {len(c.findings) - len(shown)} more (see the JSON report, or pass --verbose)")
    verdict = report.verdict
    out.append("")
    out.append(_style(f"verdict: {verdict.value.upper()}", _COLOURS[verdict], colour) + f" ({report.duration_s:.1f}s)")
    return no_workflow_commands("\n".join(out)) + "\n"
