"""Rules for one prompt file: what gh-models rejects (errors) and what it silently ignores (warnings)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Container

import jsonschema

from gate import semver
from gate.prompts import BUILTIN_EVALUATORS, KNOWN_KEYS, KNOWN_PARAMETERS, ROLES, PromptFile, template_variables
from gate.report import Finding, Severity
from gate.schemas import validate
from gate.yamlfile import JsonPath, format_path

# snake_case spellings people carry over from the OpenAI API.
SNAKE_CASE = {"max_tokens": "maxTokens", "top_p": "topP", "max_completion_tokens": "maxTokens"}

Emit = Callable[[Severity, JsonPath, str], None]


def prompt_findings(prompt: PromptFile, display: str, model_names: Container[str], strict: bool) -> list[Finding]:
    findings: list[Finding] = []
    ignored = Severity.ERROR if strict else Severity.WARNING

    def emit(severity: Severity, path: JsonPath, message: str, key: bool = False) -> None:
        pos = prompt.doc.locate(path, key=key)
        findings.append(Finding(severity, message, display, pos.line, pos.column))

    data = prompt.data
    if not isinstance(data, dict):
        emit(Severity.ERROR, (), "a prompt file must be a mapping (name, model, messages, ...)")
        return findings
    for v in validate(prompt.doc, "prompt"):
        emit(Severity.ERROR, v.path, f"{format_path(v.path)}: {v.message}")

    for key in data:
        if key not in KNOWN_KEYS:
            close = difflib.get_close_matches(key, KNOWN_KEYS, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            emit(ignored, (key,), f"unknown key {key!r}: gh-models ignores it{hint}", key=True)
    params = data.get("modelParameters")
    if isinstance(params, dict):
        for key in params:
            if key in SNAKE_CASE:
                emit(ignored, ("modelParameters", key),
                     f"modelParameters.{key} is ignored by gh-models: write {SNAKE_CASE[key]!r}", key=True)
            elif key not in KNOWN_PARAMETERS:
                emit(ignored, ("modelParameters", key), f"unknown model parameter {key!r}: gh-models ignores it", key=True)

    version = data.get("version")
    if version is not None and semver.parse(str(version)) is None:
        emit(Severity.ERROR, ("version",), f"version {str(version)!r} is not a semantic version like 1.2.0")
    _model_rules(prompt, model_names, emit)
    _message_rules(prompt, emit, ignored)
    _response_format_rules(prompt, emit)
    _evaluator_rules(prompt, emit)
    return findings


def _model_rules(prompt: PromptFile, model_names: Container[str], emit: Emit) -> None:
    model = prompt.data.get("model")
    if model is None:
        emit(Severity.WARNING, (), "no `model`: name one from models.yaml or a publisher/model id")
    elif isinstance(model, str) and model not in model_names and "/" not in model.strip("/"):
        emit(Severity.ERROR, ("model",),
             f"model {model!r} is neither a name in models.yaml nor a publisher/model id (e.g. openai/gpt-4o-mini)")


def _message_rules(prompt: PromptFile, emit: Emit, ignored: Severity) -> None:
    messages = prompt.data.get("messages")
    if not messages:
        emit(Severity.WARNING, (), "no `messages`: the prompt sends nothing to the model")
        return
    if not isinstance(messages, list):
        return
    used: dict[str, JsonPath] = {}
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        role = m.get("role")
        if isinstance(role, str) and role.lower() not in ROLES:
            emit(Severity.ERROR, ("messages", i, "role"), f"role {role!r} is not one of {', '.join(ROLES)}")
        content = m.get("content")
        if not isinstance(content, str):
            continue
        for name in template_variables(content):
            if name != name.strip():
                emit(ignored, ("messages", i, "content"),
                     f"placeholder {{{{{name}}}}} has spaces: gh-models only substitutes {{{{{name.strip()}}}}}")
            else:
                used.setdefault(name, ("messages", i, "content"))
    rows = prompt.test_data
    if rows:
        supplied = {k for row in rows for k in row}
        for name, path in used.items():
            if name not in supplied:
                emit(ignored, path, f"template variable {{{{{name}}}}} is supplied by no testData row")


def _response_format_rules(prompt: PromptFile, emit: Emit) -> None:
    data = prompt.data
    fmt = data.get("responseFormat")
    raw = data.get("jsonSchema")
    if fmt != "json_schema":
        if raw is not None:
            emit(Severity.WARNING, ("jsonSchema",), "jsonSchema is ignored unless responseFormat is json_schema")
        return
    if raw is None:
        emit(Severity.ERROR, ("responseFormat",), "responseFormat json_schema needs a jsonSchema")
        return
    if not isinstance(raw, str):
        emit(Severity.ERROR, ("jsonSchema",), "jsonSchema must be a JSON string (use a `|` block), as gh-models reads it")
        return
    try:
        parsed = json.loads(raw)
    except json.JSONDecodeError as exc:
        emit(Severity.ERROR, ("jsonSchema",), f"jsonSchema is not valid JSON: {exc.msg} (line {exc.lineno} of the JSON)")
        return
    if not isinstance(parsed, dict):
        emit(Severity.ERROR, ("jsonSchema",), "jsonSchema must be a JSON object with `name` and `schema`")
        return
    for key in ("name", "schema"):
        if key not in parsed:
            emit(Severity.ERROR, ("jsonSchema",), f"jsonSchema has no {key!r} field (gh-models requires name and schema)")
    inner = parsed.get("schema")
    if isinstance(inner, dict):
        try:
            jsonschema.Draft202012Validator.check_schema(inner)
        except jsonschema.SchemaError as exc:
            emit(Severity.ERROR, ("jsonSchema",), f"jsonSchema.schema is not a valid JSON Schema: {exc.message}")


def _evaluator_rules(prompt: PromptFile, emit: Emit) -> None:
    evaluators = prompt.data.get("evaluators")
    if not isinstance(evaluators, list):
        return
    seen: set[str] = set()
    for i, ev in enumerate(evaluators):
        if not isinstance(ev, dict):
            continue
        at: JsonPath = ("evaluators", i)
        name = ev.get("name")
        if not name:
            emit(Severity.WARNING, at, "evaluator has no name")
        elif str(name) in seen:
            emit(Severity.WARNING, at + ("name",), f"evaluator name {name!r} is used twice")
        seen.add(str(name))
        kinds = [k for k in ("string", "llm", "uses") if ev.get(k)]
        if not kinds:
            emit(Severity.ERROR, at, "evaluator has none of string, llm or uses")
            continue
        if len(kinds) > 1:
            emit(Severity.WARNING, at, f"evaluator has {' and '.join(kinds)}: gh-models uses only {kinds[0]}")
        kind = kinds[0]
        if kind == "string":
            s = ev["string"]
            if isinstance(s, dict) and not any(s.get(k) for k in ("equals", "contains", "startsWith", "endsWith")):
                emit(Severity.ERROR, at + ("string",), "string evaluator needs one of equals, contains, startsWith, endsWith")
        elif kind == "llm":
            llm = ev["llm"]
            if isinstance(llm, dict):
                for key in ("prompt", "choices", "modelId"):
                    if not llm.get(key):
                        emit(Severity.ERROR, at + ("llm",), f"llm evaluator needs {key!r}")
        elif kind == "uses":
            uses = ev["uses"]
            if uses not in BUILTIN_EVALUATORS:
                close = difflib.get_close_matches(str(uses), BUILTIN_EVALUATORS, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(BUILTIN_EVALUATORS)})"
                emit(Severity.ERROR, at + ("uses",), f"unknown built-in evaluator {uses!r}{hint}")
