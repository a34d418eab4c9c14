"""Deterministic metrics and gh-models' string evaluator semantics, and the failure category of a case."""

from __future__ import annotations

import pytest
from prodgate_checks.regression.config import MetricSpec, parse_metric
from prodgate_checks.regression.metrics import Outcome, Score, evaluate, failure_category, is_refusal


def _eval(raw: dict[str, object], content: str, variables: dict[str, object] | None = None, **outcome: object) -> Score:
    return evaluate(parse_metric(raw), Outcome(content, **outcome), variables or {})  # type: ignore[arg-type]


def test_regression_string_equals_case_sensitive() -> None:
    assert _eval({"string": {"equals": "{{expected}}"}}, "Paris", {"expected": "Paris"}).passed
    assert not _eval({"string": {"equals": "{{expected}}"}}, "paris", {"expected": "Paris"}).passed


def test_regression_string_contains_starts_ends_ignore_case() -> None:
    assert _eval({"string": {"contains": "PARIS"}}, "The capital is paris.").passed
    assert _eval({"string": {"startsWith": "the"}}, "The capital is Paris.").passed
    assert _eval({"string": {"endsWith": "PARIS."}}, "The capital is Paris.").passed
    assert not _eval({"string": {"endsWith": "paris"}}, "The capital is Paris.").passed


def test_regression_string_first_non_empty_key_wins() -> None:
    # gh-models checks equals, contains, startsWith, endsWith in that order and skips empty ones.
    s = _eval({"string": {"equals": "", "contains": "paris", "startsWith": "nope"}}, "Paris!")
    assert s.passed and s.score == 1.0


def test_regression_string_template_unknown_variable_left_as_written() -> None:
    s = _eval({"string": {"contains": "{{missing}}"}}, "no braces here")
    assert not s.passed and s.category == "quality.assertion" and "{{missing}}" in s.detail


def test_regression_contains_list_all_required() -> None:
    assert _eval({"contains": ["refund", "30 days"]}, "A refund within 30 days.").passed
    assert not _eval({"contains": ["refund", "60 days"]}, "A refund within 30 days.").passed
    assert not _eval({"contains_exact": "Refund"}, "a refund").passed


def test_regression_not_contains_never_echoes_the_forbidden_text() -> None:
    s = _eval({"not_contains": ["sk-live-abc"]}, "the key is SK-LIVE-ABC123")
    assert not s.passed and "sk-live" not in s.detail.lower()


def test_regression_regex_and_not_regex() -> None:
    assert _eval({"regex": r"\b\d{2} requests\b"}, "60 requests per minute").passed
    assert not _eval({"not_regex": r"(?i)internal"}, "Internal note: ...").passed


@pytest.mark.parametrize(("text", "category"), [("not json", "output.invalid_json"),
                                                ('{"queue": "sales"}', "output.schema_violation")])
def test_regression_json_schema_invalid_json_or_violation(text: str, category: str) -> None:
    schema = {"type": "object", "properties": {"queue": {"enum": ["billing"]}}, "required": ["queue"]}
    s = _eval({"json_schema": schema}, text)
    assert not s.passed and s.category == category


def test_regression_is_json_and_refusal() -> None:
    assert _eval({"is_json": True}, ' {"a": 1} ').passed
    assert _eval({"is_refusal": False}, "I'm sorry, but I can't help with that request.").category == "output.refusal"
    assert _eval({"is_refusal": True}, "I cannot assist with that.").passed
    assert not is_refusal("You can reset it under Settings.")


def test_regression_budgets_latency_tokens_cost() -> None:
    assert _eval({"max_latency_s": 1}, "x", latency_s=1.5).category == "budget.latency"
    assert _eval({"max_output_tokens": 10}, "x", output_tokens=11).category == "budget.tokens"
    assert _eval({"max_cost_usd": 0.001}, "x", cost_usd=0.002).category == "budget.cost"
    assert _eval({"max_cost_usd": 0.001}, "x", cost_usd=None).passed  # unpriced: nothing to hold against


def test_regression_failure_category_empty_answer_explains_the_rest() -> None:
    scores = [Score("a", 0, False, "quality.assertion"), Score("b", 0, False, "budget.latency")]
    assert failure_category(Outcome("  "), scores) == "output.empty"
    assert failure_category(Outcome("cut", finish_reason="length"), scores) == "output.truncated"
    assert failure_category(Outcome("text"), scores) == "budget.latency"
    assert failure_category(Outcome("", error="transport.timeout"), []) == "transport.timeout"
    assert failure_category(Outcome("ok"), [Score("a", 1, True)]) is None


def test_regression_parse_metric_needs_exactly_one_kind() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        parse_metric({"contains": "a", "regex": "b"})
    with pytest.raises(ValueError, match="found: none"):
        parse_metric({"name": "x"})
    assert parse_metric({"uses": "github/coherence"}) == MetricSpec("coherence", "uses", "github/coherence")


def test_regression_string_evaluators_see_the_trimmed_answer() -> None:
    # gh-models trims each model response (strings.TrimSpace) before its string evaluators run.
    assert _eval({"string": {"equals": "Paris"}}, "Paris\n").passed
    assert _eval({"string": {"startsWith": "paris"}}, "\n  Paris is the capital.").passed
    assert _eval({"string": {"endsWith": "capital."}}, "Paris is the capital.\n\n").passed
    assert not _eval({"equals": "Paris"}, "Paris\n").passed  # prodgate's own `equals` stays exact


@pytest.mark.parametrize(("kind", "pattern", "answer"), [
    ("regex", "^(a|aa)+$", "a" * 64 + "b"),
    ("not_regex", "^(a|aa)+$", "a" * 64 + "b"),
])
def test_regression_regex_catastrophic_backtracking_fails_the_case_with_reason(kind: str, pattern: str, answer: str) -> None:
    s = _eval({kind: pattern}, answer)
    assert not s.passed and s.category == "quality.assertion"
    assert "did not finish within 0.25s" in s.detail and "-character answer" in s.detail


def test_regression_regex_nested_quantifiers_end_with_a_verdict() -> None:
    assert _eval({"regex": "^(a|aa)+$"}, "a" * 65).passed
    s = _eval({"regex": "^(.+)+QQQ"}, "x" * 5000 + "Q")
    assert not s.passed and s.detail == "does not match"


def test_regression_not_regex_answer_over_the_cap_is_not_passed_unsearched() -> None:
    s = _eval({"not_regex": "secret"}, "x" * 200_001)
    assert not s.passed and "longer than the 200,000" in s.detail


@pytest.mark.parametrize(("schema", "phrase"), [
    ({"$ref": "#"}, "refers to itself without end"),
    ({"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"$ref": "#/$defs/a"}}, "$ref": "#/$defs/a"}, "refers to itself"),
    ({"enum": ["x"], "$ref": "#/enum/0"}, "not a schema?): AttributeError"),
])
def test_regression_json_schema_unusable_schema_fails_the_case_with_reason(schema: dict[str, object], phrase: str) -> None:
    s = _eval({"json_schema": schema}, '{"a": 1}')
    assert not s.passed and s.category == "quality.assertion" and phrase in s.detail


@pytest.mark.parametrize("threshold", [float("nan"), float("inf")])
def test_regression_metric_non_finite_threshold_is_a_defect_not_a_comparison(threshold: float) -> None:
    with pytest.raises(ValueError, match="is not a finite number"):
        parse_metric({"llm": {"prompt": "x", "choices": [{"choice": "good", "score": 1}]}, "threshold": threshold})


def test_regression_json_schema_violation_detail_redacted_before_capped() -> None:
    key = "sk-proj-" + "Q7wE9rT2yU4iO6pA8sD0fG1hJ3kL5zXc"
    answer = '{"queue": "' + "x" * 150 + " " + key + '"}'
    s = _eval({"json_schema": {"type": "object", "properties": {"queue": {"enum": ["billing"]}}}}, answer)
    assert not s.passed and s.category == "output.schema_violation"
    # The cap falls inside the key: not even its head is left.
    assert "sk-proj" not in s.detail and key[:14] not in s.detail


def test_regression_regex_timeouts_of_a_run_capped_per_pattern_other_patterns_still_run() -> None:
    from prodgate_checks.regression.metrics import REGEX_TIMEOUT_CAP, regex_timeouts

    slow = "a" * 64 + "b"
    with regex_timeouts() as run:
        scores = [_eval({"regex": "^(a|aa)+$"}, slow) for _ in range(REGEX_TIMEOUT_CAP + 2)]
        other = _eval({"regex": "^a+b$"}, slow)
    assert not any(s.passed for s in scores) and other.passed
    assert [("not run again" in s.detail) for s in scores] == [False] * REGEX_TIMEOUT_CAP + [True, True]
    assert run.report() == [{"pattern": "^(a|aa)+$", "timeouts": REGEX_TIMEOUT_CAP, "failed_at_once": 2}]
    # Outside a run (and in the next one) the pattern is tried again.
    assert "not run again" not in _eval({"regex": "^(a|aa)+$"}, slow).detail
