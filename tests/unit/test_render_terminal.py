"""The terminal report fits the terminal: the table, wrapped findings, one case id, new failures first."""

from __future__ import annotations

import sys
from dataclasses import replace

import pytest
from prodgate_checks.regression.compare import Baseline
from prodgate_checks.regression.config import Gates
from prodgate_checks.regression.metrics import Outcome, Score
from prodgate_checks.regression.report import build_result
from prodgate_checks.regression.results import SuiteResult, aggregate, repeat_result

from gate.render.terminal import DEFAULT_WIDTH, render_terminal
from gate.report import CheckResult, Finding, Severity, Status, finding_sort_key
from tests.unit.test_markdown_render import report

LONG = ("88 of 104 cases pass (84.6%) in 4 suites; 104 of 104 baseline cases compared; answers: pass rate "
        "regressed: 78.3% vs 93.3% (-15.0 pts, 95% CI -23.3 to -6.7, p=0.024)")


def _report() -> object:
    finding = Finding(Severity.ERROR, "passed on the base branch, fails now (quality.assertion): contains ok: the "
                      "answer does not contain the expected words anywhere in what came back", "datasets/answers.jsonl",
                      12, case_id="answers/password-1")
    return report(CheckResult("regression", Status.FAIL, LONG, duration_s=12.3, findings=(finding,)),
                  CheckResult("schema", Status.PASS, "3 prompts valid", duration_s=0.1))


@pytest.mark.parametrize("columns", [60, 80, 100, 160])
def test_terminal_columns_every_line_fits(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    text = render_terminal(_report(), colour=True)  # type: ignore[arg-type]
    plain = __import__("click").unstyle(text)
    assert max(len(line) for line in plain.splitlines()) <= columns
    row = next(line for line in plain.splitlines() if line.startswith("regression"))
    assert row.rstrip().endswith("12.3s")  # the time stays on the row's first line


def test_terminal_not_a_tty_uses_default_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COLUMNS", raising=False)
    if sys.__stdout__ is not None and sys.__stdout__.isatty():
        pytest.skip("run from a terminal: its own width applies")
    text = render_terminal(_report())  # type: ignore[arg-type]
    table = text.split("\n\n", 1)[0].splitlines()
    assert max(len(line) for line in table) <= DEFAULT_WIDTH
    assert any(len(line) > DEFAULT_WIDTH - 15 for line in table)  # and it uses the room
    # A log keeps each finding on one line, for grep and problem matchers.
    [finding] = [line for line in text.splitlines() if "answers.jsonl" in line]
    assert finding.endswith("what came back")


def test_terminal_findings_wrap_at_word_boundaries() -> None:
    text = render_terminal(_report(), width=60)  # type: ignore[arg-type]
    lines = text.split("regression:\n", 1)[1].split("\n\nverdict", 1)[0].splitlines()
    assert len(lines) > 1 and all(len(line) <= 60 for line in lines)
    assert all(line.startswith("    ") for line in lines[1:])  # continuation lines indented under the finding
    words = " ".join(line.strip() for line in lines).split()
    assert "anywhere" in words and "datasets/answers.jsonl:12:" in words  # no word cut in two


def _rep(ok: bool) -> object:
    return repeat_result(Outcome("x", 1, 1, 0.1), [Score("m", float(ok), ok, None if ok else "quality.assertion", "why")])


def test_terminal_regression_case_id_once_and_new_failures_first() -> None:
    ids = [f"c{i:02d}" for i in range(30)]
    # c00 failed on the base branch already; c20..c29 flip now.
    base = Baseline({"s": {i: {"pass": i != "c00", "scores": {}} for i in ids}}, "base")
    cases = tuple(aggregate(i, n + 1, [_rep(i != "c00" and n < 20)], 1, cluster=None, input_text=i)  # type: ignore[list-item]
                  for n, i in enumerate(ids))
    result = build_result([SuiteResult("s", "d.jsonl", "python", (), cases)], base, "base", Gates())
    # As the runner stores them: by file and line, so c00 (line 1) comes first in the report.
    result = replace(result, findings=tuple(sorted(result.findings, key=finding_sort_key)))
    text = render_terminal(report(result), verbose=True, width=200)
    case_lines = [line for line in text.splitlines() if "[s/" in line]
    assert all(line.count("s/c") == 1 for line in case_lines)
    order = [line.split("[s/", 1)[1].split("]", 1)[0] for line in case_lines]
    assert order[-1] == "c00" and set(order[:-1]) == {f"c{i}" for i in range(20, 30)}
    assert "fails now" in case_lines[0] and "fails now" not in case_lines[-1]


def test_junit_regression_finding_names_its_case() -> None:
    from gate.render.junit import render_junit

    xml = render_junit(_report())  # type: ignore[arg-type]
    assert "datasets/answers.jsonl:12: error: [answers/password-1] passed on the base branch, fails now" in xml


def test_terminal_finding_line_shows_its_rule_id_to_ignore_it_by() -> None:
    from gate.render.terminal import finding_line

    f = Finding(Severity.WARNING, "placeholder {{ q }} has spaces", "p.prompt.yml", 7, rule="PG130")
    assert finding_line(f) == "p.prompt.yml:7: warning: placeholder {{ q }} has spaces (PG130)"
    assert finding_line(replace(f, rule=None)).endswith("has spaces")
