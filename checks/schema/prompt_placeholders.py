"""Placeholder rules: `{{name}}` in messages and evaluators is substituted exactly as gh-models does, or stays literal."""

from __future__ import annotations

from collections.abc import Iterator

from gate.prompts import BUILTIN_NEEDS, PromptFile, template_variables
from gate.render.words import counted
from gate.yamlfile import JsonPath

from .prompt_evaluators import evaluator_kinds, string_criteria
from .prompt_rules import Emitter

# gh-models adds the model's answer as `completion` to what an llm evaluator's prompt can read.
_EVALUATOR_EXTRA = frozenset({"completion"})


def _texts(prompt: PromptFile) -> Iterator[tuple[JsonPath, str, frozenset[str]]]:
    """Every templated text: (where, text, names supplied besides testData)."""
    messages = prompt.data.get("messages")
    for i, m in enumerate(messages if isinstance(messages, list) else []):
        if isinstance(m, dict) and isinstance(m.get("content"), str):
            yield ("messages", i, "content"), m["content"], frozenset()
    for i, ev in enumerate(prompt.evaluators):
        kinds = evaluator_kinds(ev)
        kind = kinds[0] if kinds else None
        if kind == "string" and isinstance(ev["string"], dict):
            for key in string_criteria(ev["string"])[:1]:  # the one criterion gh-models reads
                value = ev["string"][key]
                if isinstance(value, str):
                    yield ("evaluators", i, "string", key), value, frozenset()
        elif kind == "llm" and isinstance(ev["llm"], dict) and isinstance(ev["llm"].get("prompt"), str):
            yield ("evaluators", i, "llm", "prompt"), ev["llm"]["prompt"], _EVALUATOR_EXTRA


def placeholder_rules(prompt: PromptFile, emit: Emitter) -> None:
    """One finding per placeholder name and problem, at the line of its first occurrence."""
    rows = prompt.test_data
    supplied = {k for row in rows for k in row}
    reported: set[tuple[str, str]] = set()
    for path, text, extra in _texts(prompt):
        if "{{" not in text:
            continue
        for name in template_variables(text):
            stripped = name.strip()
            if stripped.startswith("."):
                rule, message = "PG131", (f"placeholder {{{{{name}}}}} is Go-template syntax, no longer substituted: "
                                          f"write {{{{{stripped[1:]}}}}}")
            elif name != stripped:
                rule, message = "PG130", (f"placeholder {{{{{name}}}}} has spaces: gh-models only substitutes "
                                          f"{{{{{stripped}}}}}")
            elif rows and name not in supplied and name not in extra:
                rule, message = "PG132", (f"template variable {{{{{name}}}}} is supplied by no testData row: "
                                          "it stays literal")
            elif rows and name not in extra and (lacking := sum(name not in row for row in rows)):
                rule, message = "PG132", (f"template variable {{{{{name}}}}} is missing from {lacking} of "
                                          f"{counted(len(rows), 'testData row')}: in those it stays literal")
            else:
                continue
            if (rule, name) in reported:
                continue
            reported.add((rule, name))
            emit(rule, path, message, line=prompt.line_of("{{" + name + "}}", prompt.doc.locate(path).line))
    _builtin_rules(prompt, emit)


def _builtin_rules(prompt: PromptFile, emit: Emitter) -> None:
    rows = prompt.test_data
    if not rows:
        return  # no case is evaluated
    for i, ev in enumerate(prompt.evaluators):
        kinds = evaluator_kinds(ev)
        if not kinds or kinds[0] != "uses":
            continue
        for need in BUILTIN_NEEDS.get(str(ev["uses"]), ()):
            missing = sum(need not in row for row in rows)
            if missing:
                emit("PG133", ("evaluators", i, "uses"),
                     f"{ev['uses']} reads {{{{{need}}}}} from testData, but {missing} of {counted(len(rows), 'row')} lack it: "
                     "those cases are scored against the literal text")
