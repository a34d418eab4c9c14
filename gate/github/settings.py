"""The `comment:` section of gate.yaml, read on its own so a broken other section cannot stop the comment."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from gate.config import display_path
from gate.github.comment import CommentMode
from gate.schemas import BASE_URI, validate
from gate.yamlfile import YamlError, load_yaml

_SCHEMA = {"type": "object", "properties": {"comment": {"$ref": BASE_URI + "gate-comment.schema.json"}}}


@dataclass(frozen=True)
class CommentSettings:
    mode: CommentMode = CommentMode.UPDATE
    key: str | None = None
    annotations: bool = True
    summary: bool = True


def load_settings(config: Path) -> tuple[CommentSettings, str | None]:
    """(settings, a warning): defaults when gate.yaml is missing or its comment section is invalid.

    `gate check` already failed with exit 2 on an invalid gate.yaml; the comment must still say so."""
    display = display_path(config)
    if not config.is_file():
        return CommentSettings(), None
    try:
        doc = load_yaml(config, display)
    except YamlError as exc:
        return CommentSettings(), f"{exc}; using the default comment settings"
    if not isinstance(doc.data, dict) or not isinstance(doc.data.get("comment"), dict):
        return CommentSettings(), None
    violations = validate(doc, _SCHEMA)
    if violations:
        return CommentSettings(), f"{violations[0].format(display)}; using the default comment settings"
    section = doc.data["comment"]
    return CommentSettings(
        mode=CommentMode(section.get("mode", CommentMode.UPDATE.value)),
        key=section.get("key"),
        annotations=bool(section.get("annotations", True)),
        summary=bool(section.get("summary", True)),
    ), None
