"""GitHub Models prompt files (*.prompt.yml): loading and `{{var}}` templating as gh-models does it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.files import loads_json
from gate.yamlfile import YamlDocument, YamlError, load_yaml

KNOWN_KEYS = (
    "name", "description", "model", "modelParameters", "responseFormat", "jsonSchema",
    "messages", "testData", "evaluators", "version",
)
KNOWN_PARAMETERS = ("maxTokens", "temperature", "topP")
ROLES = ("system", "user", "assistant")
BUILTIN_EVALUATORS = ("github/similarity", "github/coherence", "github/fluency", "github/relevance", "github/groundedness")
PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class PromptFile:
    path: Path
    doc: YamlDocument

    @property
    def data(self) -> Mapping[str, Any]:
        data: Mapping[str, Any] = self.doc.data
        return data

    @property
    def name(self) -> str:
        return str(self.data.get("name") or self.path.name.split(".prompt.")[0])

    @property
    def model(self) -> str | None:
        value = self.data.get("model")
        return value if isinstance(value, str) else None

    @property
    def version(self) -> str | None:
        value = self.data.get("version")
        return None if value is None else str(value)

    @property
    def parameters(self) -> Mapping[str, Any]:
        value = self.data.get("modelParameters")
        return value if isinstance(value, dict) else {}

    @property
    def messages(self) -> list[Message]:
        out = []
        for m in _list(self.data.get("messages")):
            if isinstance(m, dict) and "role" in m:
                out.append(Message(str(m["role"]).lower(), _text(m.get("content"))))
        return out

    @property
    def test_data(self) -> list[dict[str, Any]]:
        return [row for row in _list(self.data.get("testData")) if isinstance(row, dict)]

    @property
    def evaluators(self) -> list[dict[str, Any]]:
        return [e for e in _list(self.data.get("evaluators")) if isinstance(e, dict)]

    @property
    def json_schema(self) -> dict[str, Any] | None:
        raw = self.data.get("jsonSchema")
        if not isinstance(raw, str):
            return None
        try:
            parsed = loads_json(raw)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None

    def render(self, variables: Mapping[str, Any]) -> list[Message]:
        return [Message(m.role, render_template(m.content, variables)) for m in self.messages]

    def variables(self) -> set[str]:
        return {name for m in self.messages for name in template_variables(m.content)}


def _list(value: Any) -> list[Any]:
    # A value of the wrong type is the schema check's finding; every other reader sees nothing.
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def render_template(template: str, variables: Mapping[str, Any]) -> str:
    """Replace exactly `{{key}}` (no spaces) for each key, as gh-models' TemplateString does."""
    result = template
    for key, value in variables.items():
        result = result.replace("{{" + key + "}}", value if isinstance(value, str) else _go_format(value))
    return result


def _go_format(value: Any) -> str:
    # gh-models formats non-strings with Go's %v.
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def template_variables(text: str) -> list[str]:
    """Names in `{{name}}` placeholders, as written (a name with spaces is kept with them)."""
    return [m.group(1) for m in PLACEHOLDER.finditer(text)]


def load_prompt(path: Path, display: str) -> PromptFile:
    """Raises YamlError when the file is not readable YAML; the caller turns that into a finding."""
    return PromptFile(path, load_yaml(path, display))


__all__ = ["PromptFile", "Message", "load_prompt", "render_template", "template_variables", "YamlError"]
