"""Fitting the comment under GitHub's limit: least important sections shrink first, and it says so."""

from __future__ import annotations

from typing import Any

from gate.render.escape import code_block
from gate.render.markdown import render_comment, render_summary
from gate.render.markdown_base import COMMENT_LIMIT
from gate.render.markdown_blocks import repair, truncate
from gate.report import CheckResult, Finding, Severity, Status
from tests.unit.test_markdown_render import INJECTION, LINKS, report, to_html


class Big:
    """A check whose details are long: a table, a list and model outputs in fences."""

    section = "x"
    description = "big"

    def __init__(self, name: str, rows: int) -> None:
        self.name = name
        self.rows = rows

    def run(self, ctx: Any) -> CheckResult:
        raise NotImplementedError

    def markdown_details(self, result: CheckResult) -> str:
        table = "| case | score |\n|---|---|\n" + "\n".join(f"| c{i} | {i / 7:.3f} |" for i in range(self.rows))
        outputs = "\n\n".join(code_block(f"output {i}: {INJECTION}\n" * 3) for i in range(self.rows // 10))
        items = "\n".join(f"- flipped case {i}" for i in range(self.rows))
        return f"### {self.name}\n\n{table}\n\n<details><summary>outputs</summary>\n\n{outputs}\n\n</details>\n\n{items}"


def big_report() -> tuple[Any, dict[str, Big]]:
    statuses = {"schema": Status.PASS, "regression": Status.FAIL, "load": Status.WARN, "cost": Status.PASS,
                "docs": Status.PASS}
    checks = {name: Big(name, 400) for name in statuses}
    results = [CheckResult(n, s, f"{n} summary") for n, s in statuses.items()]
    return report(*results), checks


def test_render_comment_oversized_report_fits_and_says_so() -> None:
    rep, checks = big_report()
    body = render_comment(rep, links=LINKS, checks=checks)
    assert len(body) <= COMMENT_LIMIT
    assert "> [!NOTE]\n> Shortened to fit GitHub's size limit" in body
    assert "job summary of the workflow run linked below" in body
    assert "[workflow run](https://github.com/octo/bot/actions/runs/42)" in body.split("<!-- prodgate:footer -->")[1]
    html = to_html(body)
    assert html.count("<details") == html.count("</details>")
    assert "<img" not in html and "<script" not in html
    # The failing check keeps the most; passing ones went first.
    sections = {name: body.find(f"<b>{name}</b>") for name in checks}
    assert sections["regression"] > 0
    regression = body[sections["regression"]:]
    assert "| c0 | 0.000 |" in regression


def test_render_comment_passing_sections_shrink_before_failing_ones() -> None:
    rep, checks = big_report()
    body = render_comment(rep, links=LINKS, checks=checks)
    notice = body.split("> [!NOTE]", 1)[1].split("\n\n", 1)[0]
    named = [n for n in ("schema", "cost", "docs", "load", "regression") if n in notice]
    assert "schema" in named and "docs" in named
    if "regression" in named:  # only after every other section was shortened or left out
        assert all(n in named for n in ("schema", "cost", "docs", "load"))


def test_render_comment_within_limit_is_not_shortened() -> None:
    rep, _ = big_report()
    body = render_comment(rep, links=LINKS, checks={"schema": Big("schema", 5)})
    assert "[!NOTE]" not in body and len(body) < COMMENT_LIMIT


def test_render_comment_four_hundred_checks_table_is_cut_to_fit() -> None:
    results = [CheckResult(f"plugin{i:04d}", Status.FAIL, "x" * 200,
                           findings=(Finding(Severity.ERROR, "bad", "f.yml", 1),)) for i in range(400)]
    body = render_comment(report(*results), links=LINKS, checks={})
    assert len(body) <= COMMENT_LIMIT
    assert "Shortened to fit" in body and "prodgate 0\\.1\\.0" in body


def test_render_summary_megabytes_fit_in_one_mebibyte() -> None:
    rep, _ = big_report()
    checks = {n: Big(n, 2500) for n in ("schema", "regression", "load", "cost", "docs")}
    text = render_summary(rep, links=LINKS, checks=checks)
    assert len(text.encode()) <= 1_000_000
    assert "Shortened to fit" in text and "the JSON report" in text


def test_truncate_never_cuts_inside_a_fence() -> None:
    md = "intro\n\n" + code_block("line\n" * 200) + "\n\nafter"
    cut = truncate(md, 300, "_cut_")
    assert cut is not None and "line" not in cut and cut.startswith("intro")
    assert truncate(md, 10_000, "_cut_") == md


def test_truncate_keeps_first_rows_of_a_long_table() -> None:
    md = "| a | b |\n|---|---|\n" + "\n".join(f"| {i} | x |" for i in range(500))
    cut = truncate(md, 500, "_cut_")
    assert cut is not None
    assert cut.startswith("| a | b |\n|---|---|\n| 0 | x |") and cut.endswith("_cut_")
    assert "<table>" in to_html(cut)


def test_repair_closes_open_fence_and_details() -> None:
    fixed = repair("<details><summary>s</summary>\n\n~~~~\ncode\n")
    assert fixed.endswith("~~~~\n\n</details>")
    assert repair("a\n\n```\nb\n```") == "a\n\n```\nb\n```"
