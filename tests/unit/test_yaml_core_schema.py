"""YAML 1.2's core schema, as gh-models (Go's yaml.v3) and GitHub Actions read files: no YAML 1.1 surprises."""

from __future__ import annotations

from pathlib import Path

import pytest
from prodgate_checks.regression.suites import evaluator_metrics

from gate.prompts import parse_prompt
from gate.yamlfile import YamlError, parse_yaml


@pytest.mark.parametrize(("text", "value"), [
    ("yes", "yes"), ("NO", "NO"), ("on", "on"), ("Off", "Off"), ("y", "y"),
    ("12:30", "12:30"), ("2024-01-01", "2024-01-01"), ("010", 10), ("0o10", 8), ("0x1F", 31),
    ("1e3", 1000.0), ("-.5", -0.5), ("3.10", 3.1), ("True", True), ("FALSE", False), ("~", None), ("Null", None),
    ("1_000", "1_000"), ("=", "="),
])
def test_yaml_plain_scalar_resolved_by_the_core_schema(text: str, value: object) -> None:
    assert parse_yaml(f"k: {text}\n", "f.yml").data == {"k": value}


def test_yaml_non_finite_float_still_an_error_at_its_line() -> None:
    with pytest.raises(YamlError) as info:
        parse_yaml("a: 1\nb: .NaN\n", "f.yml")
    assert (info.value.line, info.value.problem) == (2, ".NaN is not a finite number")


PROMPT = """name: p
model: openai/gpt-4o-mini
messages:
  - role: user
    content: 3.10
testData:
  - country: NO
evaluators:
  - name: 2024
    string: {equals: 3.10}
  - name: no
    string: {contains: NO}
  - name: starts
    string: {startsWith: True}
  - name: time
    string: {endsWith: 12:30}
"""


def test_prompt_string_fields_read_as_written_like_gh_models() -> None:
    prompt = parse_prompt(PROMPT, "p.prompt.yml", Path("p.prompt.yml"))
    assert prompt.messages[0].content == "3.10"
    assert prompt.test_data == [{"country": "NO"}]
    assert [(m.name, m.value) for m in evaluator_metrics(prompt)] == [
        ("2024", {"equals": "3.10"}), ("no", {"contains": "NO"}), ("starts", {"startsWith": "True"}),
        ("time", {"endsWith": "12:30"})]
