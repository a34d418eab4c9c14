"""Workflow commands and files: annotations that cannot inject commands, outputs, the summary's 1 MiB."""

from __future__ import annotations

import io
import re
from pathlib import Path

from gate.github.workflow import SUMMARY_MAX_BYTES, annotation, annotation_lines, append_summary, warning, write_outputs
from gate.report import CheckResult, Finding, Severity, Status
from tests.e2e.test_action_runner import parse_outputs
from tests.unit.test_markdown_render import report


def test_annotation_error_with_line_and_column() -> None:
    line = annotation(Finding(Severity.ERROR, "bad key", "prompts/a.prompt.yml", 7, 3), "schema")
    assert line == "::error file=prompts/a.prompt.yml,line=7,col=3,title=prodgate schema::bad key"


def test_annotation_multiline_message_cannot_issue_commands() -> None:
    hostile = "first\n::add-mask::x\r\n::set-output name=verdict::pass 100%"
    line = annotation(Finding(Severity.WARNING, hostile, "a,b:c.yml", 1), "docs")
    assert line is not None and "\n" not in line and "\r" not in line
    assert line == ("::warning file=a%2Cb%3Ac.yml,line=1,title=prodgate docs::"
                    "first%0A::add-mask::x%0D%0A::set-output name=verdict::pass 100%25")


def test_annotation_without_repository_relative_file_is_skipped() -> None:
    assert annotation(Finding(Severity.ERROR, "m"), "x") is None
    assert annotation(Finding(Severity.ERROR, "m", "/etc/passwd", 1), "x") is None


def test_annotation_lines_errors_first_and_capped() -> None:
    findings = tuple(Finding(Severity.NOTICE, f"n{i}", "f.yml", i + 1) for i in range(60))
    findings += (Finding(Severity.ERROR, "the error", "g.yml", 1),)
    lines, left_out = annotation_lines(report(CheckResult("docs", Status.FAIL, "x", findings=findings)))
    assert len(lines) == 50 and left_out == 11
    assert lines[0].startswith("::error file=g.yml")


def test_write_outputs_values_round_trip_through_runner_format(tmp_path: Path) -> None:
    path = tmp_path / "out"
    write_outputs(path, {"verdict": "fail", "comment-url": "", "odd": "a\nb<<EOF\nEOF"})
    assert parse_outputs(path.read_text()) == {"verdict": "fail", "comment-url": "", "odd": "a\nb<<EOF\nEOF"}


def test_append_summary_stops_before_one_mebibyte(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("x" * (SUMMARY_MAX_BYTES - 100))
    assert append_summary(path, ["short", "é" * 200]) == len("short\n")
    assert path.stat().st_size <= SUMMARY_MAX_BYTES


def test_warning_in_actions_is_a_workflow_command() -> None:
    out = io.StringIO()
    warning("no comment: 403\nforged", in_actions=True, stream=out)
    assert re.fullmatch(r"::warning title=prodgate::no comment: 403%0Aforged\n", out.getvalue())


def _runner_commands(text: str) -> list[str]:
    """The lines the runner would take as workflow commands: it trims each line, split at \\r or \\n."""
    lines = text.replace("\r", "\n").split("\n")
    return [line for line in lines if line.strip().startswith("::") or "##[" in line]


def test_terminal_report_cannot_issue_workflow_commands() -> None:
    from gate.render.terminal import render_terminal

    hostile = "answer\n::add-mask::x\r::error file=a.py,line=1::forged\n  ##[warning]old form \x1b]0;title\x07\x1b[2J"
    wrapped = "w" * 80 + " ::error::lands at the start of a wrapped line"
    text = render_terminal(report(CheckResult("regression", Status.FAIL, wrapped, findings=(
        Finding(Severity.ERROR, hostile, "data\n::notice::set.jsonl", 3, case_id="c\r::warning::id"),))), verbose=True)
    assert _runner_commands(text) == []
    assert "\x1b" not in text and "\r" not in text
    # Still readable: only an invisible joiner was added.
    assert "::add-mask::x" in text.replace("\u200d", "") and "forged" in text and "lands at the start" in text
