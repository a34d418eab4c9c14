"""Rules for a prompt file's evaluators, read the way `gh models eval` reads them."""

from __future__ import annotations

import difflib
from typing import Any

from gate.prompts import BUILTIN_EVALUATORS, STRING_CRITERIA, PromptFile, scalar_text

from .prompt_rules import Emitter, shown

EVALUATOR_KEYS = ("name", "string", "llm", "uses")
LLM_KEYS = ("modelId", "prompt", "choices", "systemPrompt")


def evaluator_kinds(ev: dict[str, Any]) -> list[str]:
    """The methods an evaluator sets, in gh-models' order: a `string` or `llm` key counts unless null,
    `uses` unless empty."""
    return [k for k in ("string", "llm", "uses") if ev.get(k) is not None and ev.get(k) != ""]


def string_criteria(spec: Any) -> list[str]:
    """The criteria a string evaluator sets, in gh-models' order of precedence (only the first counts)."""
    if not isinstance(spec, dict):
        return []
    return [k for k in STRING_CRITERIA if scalar_text(spec.get(k)) != ""]


def evaluator_rules(prompt: PromptFile, emit: Emitter) -> None:
    evaluators = prompt.data.get("evaluators")
    if not isinstance(evaluators, list):
        return
    seen: set[str] = set()
    for i, ev in enumerate(evaluators):
        if not isinstance(ev, dict):
            continue
        at = ("evaluators", i)
        emit.unknown_keys(ev, EVALUATOR_KEYS, at)
        name = scalar_text(ev.get("name"))
        if not name:
            emit("PG146", at, "evaluator has no name")
        elif name in seen:
            emit("PG146", at + ("name",), f"evaluator name {name!r} is used twice")
        seen.add(name)
        kinds = evaluator_kinds(ev)
        if not kinds:
            emit("PG140", at, "evaluator has none of string, llm or uses: gh models eval stops at it")
            continue
        if len(kinds) > 1:
            emit("PG141", at + (kinds[1],), f"evaluator has {' and '.join(kinds)}: gh-models uses only {kinds[0]}",
                 key=True)
        kind = kinds[0]
        if kind == "string":
            _string_rules(ev["string"], at + ("string",), emit)
        elif kind == "llm":
            _llm_rules(ev["llm"], at + ("llm",), emit)
        else:
            uses = ev["uses"]
            if isinstance(uses, str) and uses not in BUILTIN_EVALUATORS:  # another type is the schema's finding
                close = difflib.get_close_matches(str(uses), BUILTIN_EVALUATORS, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(BUILTIN_EVALUATORS)})"
                emit("PG145", at + ("uses",), f"unknown built-in evaluator {shown(uses)}{hint}")


def _string_rules(spec: Any, at: tuple[str | int, ...], emit: Emitter) -> None:
    if not isinstance(spec, dict):
        return
    emit.unknown_keys(spec, STRING_CRITERIA, at)
    used = string_criteria(spec)
    if not used:
        emit("PG142", at, "string evaluator needs one of equals, contains, startsWith, endsWith (not empty)")
    for extra in used[1:]:
        emit("PG143", at + (extra,), f"string.{extra} is never used: gh-models checks only the first of "
                                     f"equals > contains > startsWith > endsWith (here {used[0]})", key=True)


def _llm_rules(spec: Any, at: tuple[str | int, ...], emit: Emitter) -> None:
    if not isinstance(spec, dict):
        return
    emit.unknown_keys(spec, LLM_KEYS, at)
    for key in ("modelId", "prompt", "choices"):
        if not spec.get(key):
            emit("PG144", at, f"llm evaluator needs {key!r}")
    choices = spec.get("choices")
    if isinstance(choices, list):
        for j, choice in enumerate(choices):
            emit.unknown_keys(choice, ("choice", "score"), at + ("choices", j))
