"""The PR comment: layout, the checks' own sections, links into the head commit, inert untrusted text."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

from gate.render.markdown import MARKER, file_link, render_comment, render_markdown, stable_part
from gate.render.markdown_base import Links
from gate.report import CheckResult, Finding, GitInfo, Report, Severity, Status
from tests.conftest import REPO

HEAD = "0123456789abcdef0123456789abcdef01234567"
LINKS = Links("https://github.com", "octo/bot", HEAD, "https://github.com/octo/bot/actions/runs/42")
INJECTION = (
    "Sure! @octocat @github/security see #1 and </details><details open><summary>pwned</summary>"
    "<img src=x onerror=alert(1)> <script>alert(1)</script> [click](javascript:alert(1)) "
    "```\n</details>\n``` ~~~ \x1b[31mred\x07 \u202eevil \u061cal\u200bm \u2028so\u00adft\ufeff\u2060 "
    "![t](https://tracker.example/p.gif) | a | b |"
)
# Invisible or bidirectional characters that make text read other than it is: none reaches the comment.
HIDDEN = "\x1b\x07\u202e\u061c\u200b\u2028\u00ad\ufeff\u2060"


def report(*checks: CheckResult, duration: float = 1.5) -> Report:
    return Report("prodgate", "0.1.0", "2026-01-01T00:00:00+00:00", duration,
                  GitInfo("f" * 40, "e" * 40, "origin/main"), tuple(checks))


def sample_report() -> Report:
    return report(
        CheckResult("schema", Status.FAIL, "2 prompt(s), 1 model(s): 1 error(s), 0 warning(s)",
                    metrics={"prompts": 2}, findings=(
                        Finding(Severity.ERROR, "unknown key 'temprature'", "prompts/answer.prompt.yml", 7, 3),)),
        CheckResult("regression", Status.PASS, "40/40 cases pass",
                    details={"headline": {"value": "97.5% pass", "change": "+1.2 pts"}}),
        CheckResult("load", Status.SKIP, "skipped: no `load:` section in gate.yaml"),
    )


def injection_report() -> Report:
    """A model output that tries markdown and HTML injection and @mentions, in every untrusted slot."""
    return report(
        CheckResult("regression", Status.FAIL, f"case failed: {INJECTION}", findings=(
            Finding(Severity.ERROR, INJECTION, "datasets/x</details>.jsonl", 3, case_id="@octocat</summary>",
                    category="quality.assertion"),),
            details={"headline": {"value": INJECTION, "change": "@octocat"}}),
    )


class OutputsCheck:
    """A check whose own details show model outputs the recommended way."""

    name = "regression"
    section = "regression"
    description = "test"

    def run(self, ctx: Any) -> CheckResult:
        raise NotImplementedError

    def markdown_details(self, result: CheckResult) -> str:
        from gate.render.escape import code_block, inline

        return "\n\n".join(f"**case {inline(f.case_id or '')}**\n\n{code_block(f.message)}" for f in result.findings)


def to_html(markdown: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)


def test_render_comment_failing_report_names_failures_in_headline_and_table() -> None:
    body = render_comment(sample_report(), links=LINKS, checks={})
    assert body.startswith(MARKER + "\n## ❌ prodgate: **fail**")
    assert "Failed: **schema**" in body and "**Do not merge**" in body
    assert "| regression | ✅ pass | 97\\.5% pass | \\+1\\.2 pts |" in body
    assert "| load | ⏭️ skip |" in body
    # A failing section is open; the skipped check gets no section.
    assert "<details open><summary>❌ <b>schema</b>" in body
    assert "<b>load</b>" not in body


def test_render_comment_finding_with_file_links_to_line_in_head_commit() -> None:
    body = render_comment(sample_report(), links=LINKS, checks={})
    url = f"https://github.com/octo/bot/blob/{HEAD}/prompts/answer.prompt.yml#L7"
    assert f"]({url})" in body
    assert 'href="' + url + '"' in to_html(body)


def test_render_comment_footer_has_version_and_run_link() -> None:
    body = render_comment(sample_report(), links=LINKS, checks={})
    assert "prodgate 0\\.1\\.0" in body
    assert "[workflow run](https://github.com/octo/bot/actions/runs/42)" in body
    assert stable_part(body) == stable_part(render_comment(report(*sample_report().checks, duration=99.0),
                                                           links=LINKS, checks={}))


def test_render_comment_check_markdown_details_is_the_section_body() -> None:
    body = render_comment(injection_report(), links=LINKS, checks={"regression": OutputsCheck()})
    assert "**case @\u200docto" in body
    assert "````" in body  # the fence is longer than the ``` inside the output


def test_render_comment_injected_output_renders_inert_html() -> None:
    for checks in ({}, {"regression": OutputsCheck()}):
        body = render_comment(injection_report(), links=LINKS, checks=checks)
        html = to_html(body)
        assert "<img" not in html and "<script" not in html and "javascript:" not in html.replace("[click](javascript", "")
        assert html.count("<details") == html.count("</details>") == 1
        assert html.count("<summary>") == 1
        assert not re.search(r"@octocat|@github/", body), "a mention would ping"
        assert not re.search(r"#1\b", body.replace("&#39;", "")), "an issue reference would cross-link"
        assert not set(HIDDEN) & set(body), sorted(hex(ord(c)) for c in set(HIDDEN) & set(body))
        assert 'href="javascript' not in html


def test_render_comment_check_markdown_that_raises_falls_back_to_findings() -> None:
    class Broken(OutputsCheck):
        def markdown_details(self, result: CheckResult) -> str:
            raise RuntimeError("boom")

    body = render_comment(injection_report(), links=LINKS, checks={"regression": Broken()})
    assert "could not be rendered (RuntimeError)" in body
    assert f"blob/{HEAD}/datasets/x%3C/details%3E.jsonl#L3" in body


def test_render_comment_unbalanced_check_markdown_is_repaired() -> None:
    class Sloppy(OutputsCheck):
        def markdown_details(self, result: CheckResult) -> str:
            return "<details><summary>inner</summary>\n\n```\nnever closed\n"

    body = render_comment(sample_report(), links=LINKS, checks={"regression": Sloppy()})
    html = to_html(body)
    assert html.count("<details") == html.count("</details>")
    assert "prodgate 0.1.0" in html  # the footer was not swallowed by the open fence


def test_file_link_outside_a_pull_request_is_code() -> None:
    assert file_link("a/b.yml", 3) == "`a/b.yml:3`"


def test_render_markdown_summary_has_no_marker_and_every_finding() -> None:
    findings = tuple(Finding(Severity.WARNING, f"w{i}", "f.yml", i + 1) for i in range(200))
    text = render_markdown(report(CheckResult("docs", Status.WARN, "200 warnings", findings=findings)), {})
    assert MARKER not in text
    assert "w199" in text and "more in the job summary" not in text
    comment = render_comment(report(CheckResult("docs", Status.WARN, "200 warnings", findings=findings)), checks={})
    assert "w29" in comment and "w30" not in comment and "170 more" in comment


class OwnView:
    def markdown_details(self, result: CheckResult) -> str:
        return "own view of " + result.name


def test_render_comment_error_the_check_reported_itself_uses_its_own_details() -> None:
    inconclusive = CheckResult("load", Status.ERROR, "inconclusive: the generator fell behind",
                               details={"achieved_rps": 3.1})
    crashed = CheckResult("cost", Status.ERROR, "check crashed: KeyError: 'x'")
    body = render_comment(report(inconclusive, crashed), links=LINKS, checks={"load": OwnView(), "cost": OwnView()})
    assert "own view of load" in body
    assert "own view of cost" not in body


def test_render_comment_cross_repository_and_gh_references_are_inert() -> None:
    # GitHub links `owner/repo#12` and `GH-5` too, and each link puts a "mentioned" event on that issue.
    text = "see octo/other#12, octo/other#12's fix and gh-5"
    result = CheckResult("regression", Status.FAIL, text, findings=(Finding(Severity.ERROR, text, case_id="c"),),
                         details={"headline": {"value": text}})
    for checks in ({}, {"regression": OutputsCheck()}):
        body = render_comment(report(result), links=LINKS, checks=checks)
        plain = body.replace("\\", "").replace("&#39;", "")
        assert not re.search(r"#\d|(?i:gh)-\d", plain), "an issue reference would cross-link"
        assert "other#\u200d12" in plain and "gh-\u200d5" in plain


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    return names | {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}


def test_render_modules_import_no_registry_and_sections_not_the_whole_comment() -> None:
    """Renderers are functions of what they are given: the checks come in as an argument, never discovered; the
    sections build on markdown_base, below the module that composes the comment (no import cycle)."""
    render = REPO / "gate" / "render"
    assert all("gate.registry" not in _imports(p) for p in render.glob("*.py"))
    for low in ("markdown_base", "markdown_sections", "markdown_blocks"):
        assert "gate.render.markdown" not in _imports(render / f"{low}.py"), low
