"""LLM-judged evaluators: gh-models `llm:` evaluators and the five `github/...` built-ins.

Semantics follow `gh models eval`: the evaluation prompt is templated with the case's variables
plus `{{completion}}` (the answer, whitespace trimmed); the judge's reply is trimmed and lower-cased, and the first configured
choice (in the order written) found anywhere in it gives the score. Unlike gh-models, a case
passes at a configurable threshold rather than at any score above zero. The built-ins' prompts
are prodgate's own, on the same 1-5 scales and with the same variables as gh-models'."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gate.prompts import render_template
from gate.providers.base import ChatMessage, Request
from gate.redact import clip

from .metrics import Score

FIVE_POINT = (("1", 0.0), ("2", 0.25), ("3", 0.5), ("4", 0.75), ("5", 1.0))
DEFAULT_JUDGE_MODEL = "openai/gpt-4o"


@dataclass(frozen=True)
class JudgeSpec:
    prompt: str
    choices: tuple[tuple[str, float], ...]
    system: str = ""
    model_id: str = DEFAULT_JUDGE_MODEL


_SYSTEM = ("You grade one answer of an AI assistant against a rubric. Think it over silently, then reply "
           "with a single digit from 1 to 5 and nothing else.")


def _builtin(trait: str, scale: str, fields: str) -> JudgeSpec:
    prompt = (f"Rate the {trait} of the ANSWER below on a scale of 1 to 5.\n\n{scale}\n\n{fields}\n\n"
              "Your rating (one digit, 1-5):")
    return JudgeSpec(prompt, FIVE_POINT, _SYSTEM)


BUILTINS: Mapping[str, JudgeSpec] = {
    "similarity": _builtin(
        "equivalence with the reference answer",
        "1 = unrelated to the reference or contradicts it; 2 = shares a little of its content; 3 = partly the "
        "same, with important differences; 4 = mostly the same meaning, minor differences; 5 = the same meaning.",
        "QUESTION: {{input}}\nREFERENCE ANSWER: {{expected}}\nANSWER: {{completion}}"),
    "coherence": _builtin(
        "coherence (logical order, clear connections between ideas, easy to follow)",
        "1 = disjointed or incoherent; 2 = fragments with little connection; 3 = partly organised, some gaps; "
        "4 = well organised with small lapses; 5 = fully logical and smooth.",
        "QUESTION: {{input}}\nANSWER: {{completion}}"),
    "fluency": _builtin(
        "fluency (grammar, vocabulary, sentence flow, readability)",
        "1 = barely readable; 2 = frequent errors that hinder reading; 3 = understandable with some errors; "
        "4 = well written with rare slips; 5 = polished and natural.",
        "ANSWER: {{completion}}"),
    "relevance": _builtin(
        "relevance to the question (does it address what was asked, completely and accurately)",
        "1 = off-topic; 2 = touches the topic but is wrong or unhelpful; 3 = partly answers it; "
        "4 = answers it with small omissions; 5 = answers it fully, with useful detail.",
        "QUESTION: {{input}}\nANSWER: {{completion}}"),
    "groundedness": _builtin(
        "groundedness in the context (is every claim supported by the context, with nothing invented)",
        "1 = unrelated to the context; 2 = contradicts or misreads the context; 3 = mixes supported and "
        "unsupported claims; 4 = supported, but misses or blurs some of the context; 5 = fully supported and "
        "complete.",
        "CONTEXT: {{expected}}\nQUESTION: {{input}}\nANSWER: {{completion}}"),
}


def spec_for(kind: str, value: Any) -> JudgeSpec:
    """The judge spec of an `llm:` evaluator or a `uses: github/NAME` built-in."""
    if kind == "uses":
        return BUILTINS[str(value).split("/", 1)[1]]
    choices = tuple((str(c["choice"]), float(c["score"])) for c in value.get("choices") or [])
    return JudgeSpec(str(value.get("prompt", "")), choices, str(value.get("systemPrompt") or ""),
                     str(value.get("modelId") or DEFAULT_JUDGE_MODEL))


def judge_request(spec: JudgeSpec, variables: Mapping[str, Any], completion: str, *, params: Mapping[str, Any],
                  case_id: str | None = None) -> Request:
    data = {**variables, "completion": completion.strip()}  # gh-models trims the response it judges
    messages: list[ChatMessage] = []
    if spec.system:
        messages.append(ChatMessage("system", spec.system))
    messages.append(ChatMessage("user", render_template(spec.prompt, data)))
    return Request(messages=tuple(messages), params=dict(params), case_id=case_id)


def parse_choice(reply: str, choices: Sequence[tuple[str, float]]) -> tuple[str, float] | None:
    """The first choice, in the order written, that the reply contains (as gh-models matches)."""
    text = reply.strip().lower()
    for choice, score in choices:
        if choice.lower() in text:
            return choice, score
    return None


def judged(name: str, reply: str, spec: JudgeSpec, threshold: float) -> Score:
    found = parse_choice(reply, spec.choices)
    if found is None:
        return Score(name, 0.0, False, "quality.judge", f"the judge's reply matched no choice: {clip(reply.strip(), 80)!r}")
    choice, score = found
    ok = score >= threshold
    return Score(name, score, ok, None if ok else "quality.judge",
                 "" if ok else f"judged {choice!r} (score {score:g} < threshold {threshold:g})")
