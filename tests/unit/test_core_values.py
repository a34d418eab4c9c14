"""Small core values: semver precedence, globs, YAML positions, redaction, verdicts, report round trip."""

from __future__ import annotations

import pytest

from gate import semver
from gate.globs import matches, normalise
from gate.redact import REDACTED, find_secrets, redact, redact_text, secret_env_values
from gate.render.escape import code_block, inline
from gate.render.junit import render_junit
from gate.report import CheckResult, Finding, GitInfo, Report, Severity, Status, verdict_of
from gate.yamlfile import Position, YamlError, format_path, parse_yaml


@pytest.mark.parametrize(("low", "high"), [
    ("1.0.0-alpha", "1.0.0-alpha.1"), ("1.0.0-alpha.1", "1.0.0-alpha.beta"), ("1.0.0-alpha.beta", "1.0.0-beta"),
    ("1.0.0-beta.2", "1.0.0-beta.11"), ("1.0.0-rc.1", "1.0.0"), ("1.9.0", "1.10.0"), ("1.0.0", "2.0.0"),
])
def test_semver_precedence_follows_spec(low: str, high: str) -> None:
    a, b = semver.parse(low), semver.parse(high)
    assert a is not None and b is not None
    assert a < b and b > a


@pytest.mark.parametrize("text", ["1.0.0.0", "v1.0.0", "01.0.0", "1.0.0-", "1.0.0+", "1.", ""])
def test_semver_rejects_invalid(text: str) -> None:
    assert semver.parse(text) is None


@pytest.mark.parametrize(("short", "full"), [("1", "1.0.0"), ("1.2", "1.2.0"), ("2-rc.1", "2.0.0-rc.1")])
def test_semver_short_forms_read_as_zero_filled(short: str, full: str) -> None:
    a, b = semver.parse(short), semver.parse(full)
    assert a is not None and b is not None and not a < b and not b < a and str(a) == short


def test_semver_build_metadata_ignored_in_precedence() -> None:
    a, b = semver.parse("1.0.0+a"), semver.parse("1.0.0+b")
    assert a is not None and b is not None and not a < b and not b < a


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("prompts/**/*.prompt.yml", "prompts/a.prompt.yml", True),
    ("prompts/**/*.prompt.yml", "prompts/x/y/a.prompt.yml", True),
    ("prompts/*.prompt.yml", "prompts/x/a.prompt.yml", False),
    ("./prompts/?.yml", "prompts/a.yml", True),
    ("svc/../prompts/[ab].yml", "prompts/b.yml", True),
    ("prompts/[!ab].yml", "prompts/a.yml", False),
])
def test_globs_match_like_pathlib(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected


def test_globs_normalise_collapses_dots() -> None:
    assert normalise("./a/b/../c//d") == "a/c/d"


def test_yaml_positions_point_at_values_and_keys() -> None:
    doc = parse_yaml("a:\n  b: [1, {c: 2}]\n", "x.yaml")
    assert doc.locate(["a", "b", 1, "c"]) == Position(2, 14)
    assert doc.locate(["a", "b"], key=True) == Position(2, 3)
    assert doc.locate(["a", "missing", "deeper"]) == Position(2, 3)


def test_yaml_merge_keys_and_yaml11_keys_kept_as_text() -> None:
    doc = parse_yaml("base: &b {x: 1, y: 2}\nthing:\n  <<: *b\n  y: 3\non: 1\n", "x.yaml")
    assert doc.data["thing"] == {"y": 3, "x": 1}
    assert doc.data["on"] == 1


def test_yaml_error_carries_line_and_column() -> None:
    with pytest.raises(YamlError) as err:
        parse_yaml("a: 1\n b: 2\n", "x.yaml")
    assert str(err.value).startswith("x.yaml:2:")


def test_format_path_quotes_odd_keys() -> None:
    assert format_path(["a", 0, "b c", "d"]) == "$.a[0]['b c'].d"


def test_redact_known_shapes_and_env_values() -> None:
    text = "keys: sk-ant-api03-" + "x" * 30 + " and ghp_" + "a" * 36 + " and hunter2-password!"
    kinds = [k.name for k, _ in find_secrets(text)]
    assert kinds == ["Anthropic API key", "GitHub token"]
    values = secret_env_values({"DB_PASSWORD": "hunter2-password!", "HOME": "/root", "SHORT_TOKEN": "abc"})
    assert values == ["hunter2-password!"]
    out = redact_text(text, values)
    assert out == f"keys: {REDACTED} and {REDACTED} and {REDACTED}"
    assert redact({"a": ["hunter2-password!"], "n": 1}, values) == {"a": [REDACTED], "n": 1}


def test_verdict_is_worst_status() -> None:
    assert verdict_of([Status.SKIP, Status.PASS, Status.WARN]) is Status.WARN
    assert verdict_of([Status.FAIL, Status.ERROR, Status.PASS]) is Status.ERROR
    assert verdict_of([]) is Status.SKIP


def test_report_round_trips_through_json() -> None:
    result = CheckResult("x", Status.FAIL, "bad", 1.5, {"n": 1},
                         (Finding(Severity.ERROR, "m", "f.yml", 3, 4, "case-1", "quality.assertion"),), {"k": [1]})
    report = Report("prodgate", "0.1.0", "2026-01-01T00:00:00+00:00", 2.0, GitInfo("h", "b", "main"), (result,))
    import json

    again = Report.from_dict(json.loads(report.to_json()))
    assert again == report and again.verdict is Status.FAIL


def test_escape_inline_neutralises_markup_and_mentions() -> None:
    out = inline("<img src=x onerror=alert(1)> **bold** @octocat\n| pipe")
    assert "<img" not in out and "**" not in out and "@octocat" not in out and "\n" not in out
    assert "\\|" in out


def test_escape_code_block_fence_outlasts_backticks() -> None:
    block = code_block("a ```` b")
    assert block.startswith("`````\n") and block.endswith("\n`````")


def test_junit_strips_characters_xml_cannot_carry() -> None:
    result = CheckResult("x", Status.FAIL, "bad\x00\x1b summary", findings=(Finding(Severity.ERROR, "m\x07"),))
    report = Report("prodgate", "0", "t", 0.0, GitInfo(), (result,))
    import xml.etree.ElementTree as ET

    root = ET.fromstring(render_junit(report).split("\n", 1)[1])
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "bad summary"
