"""Rules for one prompt file: what gh-models rejects (errors) and what it silently ignores (warnings)."""

from __future__ import annotations

import difflib
import json
from collections.abc import Collection, Container, Mapping
from dataclasses import dataclass, field
from typing import Any

from gate import semver
from gate.files import loads_json
from gate.prompts import KNOWN_KEYS, KNOWN_PARAMETERS, ROLES, PromptFile, is_model_id, yaml_words
from gate.report import Finding, Severity
from gate.schemas import remembered_problem
from gate.yamlfile import JsonPath, format_path

from .rules import RULES

# snake_case spellings people carry over from the OpenAI API.
SNAKE_CASE = {"max_tokens": "maxTokens", "top_p": "topP", "max_completion_tokens": "maxTokens"}
GO_INT_MAX = 2**63 - 1  # gh-models reads maxTokens into a Go int
def shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if value is None or isinstance(value, bool) else repr(value)


@dataclass
class Emitter:
    """Turns (rule, path, message) into a Finding at the path's line; `strict` makes ignored keys errors."""

    prompt: PromptFile
    display: str
    strict: bool
    findings: list[Finding] = field(default_factory=list)

    def __call__(self, rule_id: str, path: JsonPath, message: str, *, key: bool = False, line: int | None = None) -> None:
        rule = RULES[rule_id]
        severity = Severity.ERROR if rule.ignored and self.strict else rule.severity
        pos = self.prompt.doc.locate(path, key=key)
        column = pos.column if line is None or line == pos.line else None
        self.findings.append(Finding(severity, message, self.display, line or pos.line, column, rule=rule_id))

    def unknown_keys(self, value: Any, known: Collection[str], path: JsonPath) -> None:
        if not isinstance(value, Mapping):
            return
        for key in value:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                where = f"unknown key {key!r}" if not path else f"{format_path(path + (key,))}"
                self(rule_id="PG108", path=path + (key,), message=f"{where}: gh-models ignores it{hint}", key=True)


def prompt_findings(prompt: PromptFile, display: str, model_names: Container[str], strict: bool,
                    needs_model: bool = False) -> list[Finding]:
    """Every finding for one prompt file. needs_model: a regression suite runs it with no target to supply one."""
    from .prompt_evaluators import evaluator_rules
    from .prompt_placeholders import placeholder_rules

    emit = Emitter(prompt, display, strict)
    data = prompt.data
    if not isinstance(data, dict):
        emit("PG100", (), "a prompt file must be a mapping (name, model, messages, ...)")
        return emit.findings
    for v in prompt.violations():
        emit(_violation_rule(v.path, v.message), v.path, f"{format_path(v.path)}: {v.message}")
    emit.unknown_keys(data, KNOWN_KEYS, ())
    _parameter_rules(data.get("modelParameters"), emit)
    _version_rules(data, emit)
    _model_rules(prompt, model_names, needs_model, emit)
    _message_rules(prompt, emit)
    _response_format_rules(data, emit)
    evaluator_rules(prompt, emit)
    placeholder_rules(prompt, emit)
    return emit.findings


def _violation_rule(path: JsonPath, message: str) -> str:
    top = path[0] if path else None
    if top == "responseFormat":
        return "PG104"
    if top == "jsonSchema":
        return "PG101"
    if top == "messages" and "'role'" in message:
        return "PG120"
    return "PG105"


def _parameter_rules(params: Any, emit: Emitter) -> None:
    if not isinstance(params, dict):
        return
    for key, value in params.items():
        at = ("modelParameters", key)
        if key in SNAKE_CASE:
            emit("PG109", at, f"modelParameters.{key} is ignored by gh-models: write {SNAKE_CASE[key]!r}", key=True)
        elif key not in KNOWN_PARAMETERS:
            emit("PG108", at, f"unknown model parameter {key!r}: gh-models ignores it", key=True)
        elif key == "maxTokens" and isinstance(value, (int, float)) and not isinstance(value, bool):
            if abs(value) > GO_INT_MAX:
                emit("PG106", at, f"maxTokens {value} is larger than gh-models can hold (at most {GO_INT_MAX})")
            elif isinstance(value, float) and not value.is_integer():
                emit("PG107", at, f"maxTokens {value:g} has a fraction: gh-models sends {int(value)}")


def _version_rules(data: Mapping[str, Any], emit: Emitter) -> None:
    version = data.get("version")
    if version is None:
        return
    if isinstance(version, float) and semver.parse(str(version)) is not None:
        emit("PG151", ("version",), f"version {version!r} is a YAML number (1.10 would read as 1.1): "
                                    f"quote it, e.g. version: '{version}'")
    elif isinstance(version, bool) or not isinstance(version, (str, int, float)) or semver.parse(str(version)) is None:
        emit("PG150", ("version",), f"version {shown(version)} is not a version like 1.2.0 (or 1.2, or 1)")


def _model_rules(prompt: PromptFile, model_names: Container[str], needs_model: bool, emit: Emitter) -> None:
    model = prompt.data.get("model")
    if model is None or model == "":
        if needs_model:
            emit("PG112", ("testData",), "no `model`, and the regression suite that runs this file's testData has no "
                                         "target: add `model:` here or a `target:` in gate.yaml")
        else:
            emit("PG111", (), "no `model`: name one from models.yaml or a publisher/model id")
    elif isinstance(model, str) and model not in model_names and not is_model_id(model):
        emit("PG110", ("model",), f"model {model!r} is neither a name in models.yaml nor a publisher/model or "
                                  "provider/publisher/model id with no empty part (e.g. openai/gpt-4o-mini)")


def _message_rules(prompt: PromptFile, emit: Emitter) -> None:
    messages = prompt.data.get("messages")
    if not messages:
        emit("PG121", (), "no `messages`: the prompt sends nothing to the model")
        return
    if not isinstance(messages, list):
        return
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            continue
        emit.unknown_keys(m, ("role", "content"), ("messages", i))
        role = m.get("role")
        if isinstance(role, str) and role.lower() not in ROLES:
            emit("PG120", ("messages", i, "role"), f"role {role!r} is not one of {', '.join(ROLES)}")


def _response_format_rules(data: Mapping[str, Any], emit: Emitter) -> None:
    fmt = data.get("responseFormat")
    raw = data.get("jsonSchema")
    if raw is None:
        if fmt == "json_schema":
            emit("PG102", ("responseFormat",), "responseFormat json_schema needs a jsonSchema")
        return
    if not isinstance(raw, str):
        return  # the schema's type error (PG101)
    try:
        # gh-models parses it with Go's encoding/json, which has no NaN or Infinity (loads_json refuses them,
        # and nesting too deep to walk).
        parsed = loads_json(raw)
    except json.JSONDecodeError as exc:
        emit("PG101", ("jsonSchema",), f"jsonSchema is not valid JSON: {exc.msg} (line {exc.lineno} of the JSON); "
                                       "gh-models refuses the file")
        return
    except ValueError as exc:
        emit("PG101", ("jsonSchema",), f"jsonSchema is not valid JSON: {exc}; gh-models refuses the file")
        return
    if parsed is not None and not isinstance(parsed, dict):
        emit("PG101", ("jsonSchema",), "jsonSchema must hold a JSON object with `name` and `schema`; "
                                       "gh-models refuses the file")
        return
    if fmt != "json_schema":
        emit("PG103", ("jsonSchema",), "jsonSchema is ignored unless responseFormat is json_schema")
        return
    parsed = parsed or {}
    for key in ("name", "schema"):
        if key not in parsed:
            emit("PG102", ("jsonSchema",), f"jsonSchema has no {key!r} field (gh-models requires name and schema)")
    inner = parsed.get("schema")
    problem = remembered_problem("prompt", inner, _metaschema_problem) if isinstance(inner, dict) else None
    if problem is not None:
        emit("PG102", ("jsonSchema",), f"jsonSchema.schema is not a valid JSON Schema: {yaml_words(problem)}")


def _metaschema_problem(schema: Any) -> str | None:
    import jsonschema  # here: a schema not judged before is the exception

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return str(exc.message)
    return None
