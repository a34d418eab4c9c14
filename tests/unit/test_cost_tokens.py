"""Token counts without a tokenizer: the rendered prompt at 4 characters a token, and measured usage."""

from __future__ import annotations

import math
from pathlib import Path

from prodgate_checks.cost.tokens import Measured, count_tokens, estimate_prompt, measured_usage

from gate.prompts import PromptFile
from gate.yamlfile import parse_yaml

PROMPT = """\
name: Classify
model: router
jsonSchema: '{"name": "r", "schema": {"type": "object"}}'
messages:
  - role: system
    content: Pick a queue.
  - role: user
    content: "{{message}}"
testData:
  - message: I was charged twice.
  - message: The dashboard returns a 502 error since this morning.
"""


def prompt(text: str) -> PromptFile:
    return PromptFile(Path("p.prompt.yml"), parse_yaml(text, "p.prompt.yml"))


def test_tokens_estimate_averages_rendered_rows_plus_overheads() -> None:
    est = estimate_prompt(prompt(PROMPT), {"max_tokens": 60})
    system = math.ceil(len("Pick a queue.") / 4)
    rows = [math.ceil(len("I was charged twice.") / 4),
            math.ceil(len("The dashboard returns a 502 error since this morning.") / 4)]
    schema = math.ceil(len('{"name": "r", "schema": {"type": "object"}}') / 4)
    per_row = [system + 4 + r + 4 + 3 for r in rows]
    assert est.input_tokens == sum(per_row) / 2 + schema
    assert est.output_tokens == 60 and est.rows == 2  # models.yaml's max_tokens, as the prompt sets none


def test_tokens_estimate_without_test_data_counts_the_template() -> None:
    est = estimate_prompt(prompt(PROMPT.split("testData:")[0].replace("jsonSchema", "x-schema")))
    assert est.rows == 0 and est.output_tokens is None
    assert est.input_tokens == count_tokens("Pick a queue.") + 4 + count_tokens("{{message}}") + 4 + 3


def test_tokens_measured_usage_reads_the_regression_contract_tolerantly() -> None:
    details = {"usage_by_suite": {"s": {"cases": 12, "input_tokens": {"mean": 81.5, "p50": 80, "p95": 99},
                                        "output_tokens": {"mean": "n/a"}}}}
    assert measured_usage(details, "s", "input_tokens") == Measured(81.5, 12)
    assert measured_usage(details, "s", "output_tokens") is None
    assert measured_usage(details, "other", "input_tokens") is None
    assert measured_usage({"usage_by_suite": []}, "s", "input_tokens") is None
    assert measured_usage(None, "s", "input_tokens") is None


def test_measured_label_names_cases_and_the_recording() -> None:
    assert Measured(74.2, 60, "cassettes/bot.jsonl").label("answers") == \
        "measured: suite answers (60 cases recorded in cassettes/bot.jsonl)"
    assert Measured(74.2, 12).label("answers") == "measured: suite answers (12 cases)"
    assert Measured(74.2, 0).label("answers") == "measured: suite answers"
