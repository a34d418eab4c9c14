"""LLM-judged evaluators: gh-models' choice matching, the built-ins' scales, the configurable threshold."""

from __future__ import annotations

from prodgate_checks.regression.judge import (
    BUILTINS,
    FIVE_POINT,
    JudgeSpec,
    judge_request,
    judged,
    parse_choice,
    spec_for,
)


def test_regression_judge_first_choice_in_written_order_wins() -> None:
    choices = (("good", 1.0), ("bad", 0.0))
    # Both words appear: gh-models takes the first choice of the list that the reply contains.
    assert parse_choice("  Not BAD, actually good  ", choices) == ("good", 1.0)
    assert parse_choice("bad", choices) == ("bad", 0.0)
    assert parse_choice("unsure", choices) is None


def test_regression_judge_threshold_not_score_above_zero() -> None:
    spec = JudgeSpec("p", FIVE_POINT)
    assert judged("g", "4", spec, 0.75).passed
    low = judged("g", "3", spec, 0.75)
    assert not low.passed and low.score == 0.5 and low.category == "quality.judge"
    none = judged("g", "no digit", spec, 0.5)
    assert not none.passed and "matched no choice" in none.detail


def test_regression_judge_builtins_use_gh_models_variables() -> None:
    assert set(BUILTINS) == {"similarity", "coherence", "fluency", "relevance", "groundedness"}
    g = spec_for("uses", "github/groundedness")
    req = judge_request(g, {"expected": "CTX", "input": "Q"}, "ANSWER TEXT", params={})
    user = req.messages[-1].content
    assert "CONTEXT: CTX" in user and "QUESTION: Q" in user and "ANSWER: ANSWER TEXT" in user
    assert req.messages[0].role == "system"
    assert g.choices == FIVE_POINT


def test_regression_judge_llm_evaluator_templated_with_completion() -> None:
    spec = spec_for("llm", {"modelId": "openai/gpt-4.1", "prompt": "Is {{completion}} polite to {{name}}?",
                            "systemPrompt": "Be strict.", "choices": [{"choice": "yes", "score": 1}, {"choice": "no", "score": 0}]})
    req = judge_request(spec, {"name": "Ana"}, "Hello Ana", params={})
    assert [m.role for m in req.messages] == ["system", "user"]
    assert req.messages[1].content == "Is Hello Ana polite to Ana?"
    assert spec.model_id == "openai/gpt-4.1"


def test_regression_judge_completion_trimmed_as_gh_models_does() -> None:
    req = judge_request(JudgeSpec("[{{completion}}]", FIVE_POINT), {}, "\n  Paris.  \n", params={})
    assert req.messages[-1].content == "[Paris.]"


def test_regression_judge_unmatched_reply_with_key_cut_leaves_no_part_of_it() -> None:
    key = "sk-proj-" + "AbcdEfghIjklMnopQrstUvwx9876"  # no digit a five-point judge would read
    reply = "The answer leaks " + "word " * 10 + key + " and more text after it"
    detail = judged("g", reply, JudgeSpec("p", FIVE_POINT), 0.5).detail
    assert "matched no choice" in detail
    # The cap falls inside the key: the cut-off head must not survive either.
    assert "sk-proj" not in detail and key[:12] not in detail
