"""GitHub Models prompt files (*.prompt.yml): loading and `{{var}}` templating as gh-models does it."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.files import loads_json, read_text
from gate.schemas import Violation, validate
from gate.yamlfile import YamlDocument, YamlError, parse_yaml

KNOWN_KEYS = (
    "name", "description", "model", "modelParameters", "responseFormat", "jsonSchema",
    "messages", "testData", "evaluators", "version",
)
KNOWN_PARAMETERS = ("maxTokens", "temperature", "topP")
ROLES = ("system", "user", "assistant")
# The built-in evaluators and the testData keys their prompts read (besides the answer, `completion`).
BUILTIN_NEEDS: Mapping[str, tuple[str, ...]] = {
    "github/similarity": ("input", "expected"), "github/coherence": ("input",), "github/fluency": (),
    "github/relevance": ("input",), "github/groundedness": ("input", "expected"),
}
BUILTIN_EVALUATORS = tuple(BUILTIN_NEEDS)
STRING_CRITERIA = ("equals", "contains", "startsWith", "endsWith")  # gh-models' order of precedence
# `${{ ... }}` is a GitHub Actions expression written as text, not a placeholder.
PLACEHOLDER = re.compile(r"(?<!\$)\{\{([^{}]*)\}\}")
# A line at column 0 that ends the first YAML document: `---` starts the next one, `...` ends this one.
_DOCUMENT_MARKER = re.compile(r"(?:---|\.\.\.)(?:[ \t]|$)")


@dataclass(frozen=True)
class Message:
    role: str
    content: str


@dataclass(frozen=True)
class PromptFile:
    path: Path
    doc: YamlDocument
    text: str = ""  # the file as read, to point at a line inside a multi-line value

    def line_of(self, needle: str, start: int) -> int:
        """The first line at or after `start` that holds `needle`, else `start`."""
        lines = self.text.split("\n")
        return next((n for n in range(start, len(lines) + 1) if needle in lines[n - 1]), start)

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
        for i, m in enumerate(_list(self.data.get("messages"))):
            if isinstance(m, dict) and "role" in m:
                out.append(Message(str(m["role"]).lower(), self.as_text(("messages", i, "content"), m.get("content"))))
        return out

    def as_text(self, path: tuple[str | int, ...], value: Any) -> str:
        """A value read as text, as gh-models decodes it into a string field: a plain scalar as written
        (`equals: 3.10` is "3.10", `contains: True` is "True"), null as empty."""
        written = self.doc.texts.get(path)
        return written if written is not None else scalar_text(value)

    @property
    def test_data(self) -> list[dict[str, Any]]:
        return [row for _, row in self.test_rows]

    @property
    def test_rows(self) -> list[tuple[int, dict[str, Any]]]:
        """(position in testData, row) of each mapping row: a row's position is its case id when it has no `id`,
        and its line, whatever rows around it are not mappings."""
        return [(i, row) for i, row in enumerate(_list(self.data.get("testData"))) if isinstance(row, dict)]

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

    def violations(self) -> list[Violation]:
        """Where the file breaks the prompt schema. A null value is read as absent, as gh-models reads it
        (`description:`, `modelParameters:` with every child commented out, `content: ~`)."""
        found = validate(dataclasses.replace(self.doc, data=_without_nulls(self.doc.data)), "prompt")
        return [dataclasses.replace(v, message=yaml_words(v.message)) for v in found]

    def render(self, variables: Mapping[str, Any]) -> list[Message]:
        return [Message(m.role, render_template(m.content, variables)) for m in self.messages]

    def variables(self) -> set[str]:
        return {name for m in self.messages for name in template_variables(m.content)}


def yaml_words(message: str) -> str:
    """A message about a value quotes it as YAML writes it (null, true), not as Python does (None, True)."""
    for python, yaml_word in (("None", "null"), ("True", "true"), ("False", "false")):
        if message.startswith(python + " "):
            return yaml_word + message[len(python):]
    return message


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _list(value: Any) -> list[Any]:
    # A value of the wrong type is the schema check's finding; every other reader sees nothing.
    return value if isinstance(value, list) else []


def scalar_text(value: Any) -> str:
    """A YAML scalar as gh-models reads it into a text field: null is empty, booleans are lower case."""
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


def is_model_id(text: str) -> bool:
    """What `gh models run` accepts: publisher/model or provider/publisher/model, no part empty."""
    parts = text.split("/")
    return len(parts) in (2, 3) and all(parts)


def first_document(text: str) -> str:
    """The text of the first YAML document, as gh-models reads it (later ones are ignored); the lines
    after it are cut, so every line number stays the same."""
    seen_content = False
    offset = 0
    for line in text.split("\n"):
        if _DOCUMENT_MARKER.match(line):
            if seen_content or line.startswith("..."):
                return text[:offset]
            seen_content = bool(line[3:].strip()) and not line[3:].strip().startswith("#")
        elif line.strip() and not line.startswith(("#", "%")):
            seen_content = True
        offset += len(line) + 1
    return text


def parse_prompt(text: str, display: str, path: Path | None = None) -> PromptFile:
    """Raises YamlError when the first document is not readable YAML."""
    return PromptFile(path or Path(display), parse_yaml(first_document(text), display), text)


def load_prompt(path: Path, display: str) -> PromptFile:
    """Raises YamlError when the file is not readable YAML; the caller turns that into a finding."""
    return parse_prompt(read_text(path, display), display, path)


__all__ = ["PromptFile", "Message", "load_prompt", "render_template", "template_variables", "YamlError"]
