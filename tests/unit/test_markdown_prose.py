"""The gate's own sentences in markdown: `spans` render as code, <summary> text is HTML-escaped only, counts are words;
text quoted from the checkout stays inert either way."""

from __future__ import annotations

from gate.render.escape import html_prose, prose
from gate.render.markdown import render_comment
from gate.report import CheckResult, Status
from tests.unit.test_markdown_render import report


def test_markdown_prose_backticks_render_as_code_not_escaped() -> None:
    text = prose("no baseline: run `gate baseline update` on the base branch (row-2, p=0.25)")
    assert "`gate baseline update`" in text and "\\`" not in text
    assert text.startswith("no baseline: run ") and "row\\-2" in text  # the rest is escaped as before


def test_markdown_prose_quoted_text_stays_inert() -> None:
    text = prose("suite `@octocat <img src=x>` and <script>x</script> @team [a](http://evil)")
    assert "<script>" not in text and "<img" in text.split("`")[1]  # a code span shows a tag, never renders it
    assert "@octocat" not in text and "@team" not in text  # no mention pings anyone
    assert "\\[a\\]\\(http://evil\\)" in text
    table = prose("a `x|y` b | c", in_table=True)
    assert "|" not in table.replace("\\|", "")  # a pipe cannot split a table cell


def test_markdown_html_prose_for_summary_has_no_markdown_escapes() -> None:
    text = html_prose("row-2 failed (p=0.25) — run `gate <x>` & `baseline`")
    assert text == "row-2 failed (p=0.25) — run <code>gate &lt;x&gt;</code> &amp; <code>baseline</code>"


def test_markdown_section_summary_and_counts_read_as_written() -> None:
    md = render_comment(report(CheckResult("regression", Status.WARN, "s/row-2: 0.25 below `min_score`"),
                               CheckResult("schema", Status.PASS, "3 prompts valid")), checks={})
    summary = next(line for line in md.splitlines() if "<summary>" in line and "regression" in line)
    assert "s/row-2: 0.25 below <code>min_score</code>" in summary and "\\" not in summary
    one = render_comment(report(CheckResult("schema", Status.PASS, "ok")), checks={})
    assert "All 1 check passed." in one and "(s)" not in one
