"""Tokens per call: measured by the regression check, or estimated from a prompt file without a tokenizer."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from gate.prompts import PromptFile
from gate.report import Finding, Severity

# English prose and JSON average about 4 characters per token in the GPT-4o and Claude
# tokenizers; a tokenizer would be exact but tiktoken needs the network to fetch its tables.
CHARS_PER_TOKEN = 4.0
# Chat formatting adds a few tokens per message, and a few to prime the reply.
TOKENS_PER_MESSAGE = 4
TOKENS_PER_REPLY = 3


@dataclass(frozen=True)
class Estimate:
    input_tokens: float
    output_tokens: float | None  # the prompt's maxTokens: an upper bound, when it sets one
    rows: int  # testData rows the input was averaged over (0: the template itself)


def count_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def estimate_prompt(prompt: PromptFile, model_params: Mapping[str, Any] | None = None) -> Estimate:
    """Input: the rendered messages averaged over the prompt's testData rows (the template alone
    without them), plus the JSON schema a structured answer sends. Output: maxTokens, if set."""
    rows = prompt.test_data
    renders = [prompt.render(row) for row in rows] or [prompt.messages]
    totals = [sum(count_tokens(m.content) + TOKENS_PER_MESSAGE for m in msgs) + TOKENS_PER_REPLY for msgs in renders]
    schema = prompt.data.get("jsonSchema")
    extra = count_tokens(schema) if isinstance(schema, str) else 0
    output = _max_tokens(prompt.parameters, model_params or {})
    return Estimate(sum(totals) / len(totals) + extra, output, len(rows))


def _max_tokens(parameters: Mapping[str, Any], model_params: Mapping[str, Any]) -> float | None:
    for source, key in ((parameters, "maxTokens"), (model_params, "max_completion_tokens"), (model_params, "max_tokens")):
        value = source.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


@dataclass(frozen=True)
class Measured:
    mean: float
    cases: int
    recording: str = ""  # the cassette the usage was read from ("": the regression run of this gate check)

    def label(self, suite: str) -> str:
        cases = f"{self.cases} cases" if self.cases else ""
        where = f"recorded in {self.recording}" if self.recording else ""
        detail = " ".join(p for p in (cases, where) if p)
        return f"measured: suite {suite}" + (f" ({detail})" if detail else "")


def measured_usage(details: Mapping[str, Any] | None, suite: str, key: str) -> Measured | None:
    """The regression check's `usage_by_suite[suite][key].mean`, tolerant of a missing or odd shape."""
    by_suite = (details or {}).get("usage_by_suite")
    if not isinstance(by_suite, Mapping):
        return None
    entry = by_suite.get(suite)
    if not isinstance(entry, Mapping) or not isinstance(entry.get(key), Mapping):
        return None
    mean = entry[key].get("mean")
    if not isinstance(mean, (int, float)) or isinstance(mean, bool) or mean < 0:
        return None
    cases = entry.get("cases")
    return Measured(float(mean), int(cases) if isinstance(cases, int) else 0)


def unmeasured(details: Mapping[str, Any] | None, suites: Iterable[str]) -> list[Finding]:
    """Why the regression check measured no tokens for a suite the cost check would read them from (its
    answers were not evidence for the target: `details.unmeasured`), so the estimate that stands in says so."""
    reasons = (details or {}).get("unmeasured")
    if not isinstance(reasons, Mapping):
        return []
    return [Finding(Severity.NOTICE, f"measured tokens unavailable for suite {suite}: the regression check left its "
                    f"cases out ({str(reasons[suite])[:300]}); estimated from the prompt instead")
            for suite in suites if suite in reasons]
