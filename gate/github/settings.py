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


def not_silenced(settings: CommentSettings, config: Path) -> tuple[CommentSettings, str | None]:
    """A pull request cannot turn off the comment that reports on it: gate.yaml's `comment.mode: off` holds only
    when the base branch's gate.yaml says off too (or there is no base to ask). Otherwise the base's mode is
    used, with a warning. The Action's `comment` input (the workflow's, not the checkout's) still decides."""
    if settings.mode is not CommentMode.OFF:
        return settings, None
    from dataclasses import replace

    from gate.gitref import resolve_base
    from gate.yamlfile import parse_yaml

    try:
        base = resolve_base(config.parent)
    except Exception:  # noqa: BLE001 - no usable base ref: nothing to compare with, gate.yaml decides
        return settings, None
    rel = base.relpath(config)
    if not base.available or rel is None:
        return settings, None
    raw = base.read(rel)
    base_mode = CommentMode.UPDATE
    if raw is not None:
        try:
            data = parse_yaml(raw.decode("utf-8-sig"), rel).data
            section = data.get("comment") if isinstance(data, dict) else None
            base_mode = CommentMode(section.get("mode", "update")) if isinstance(section, dict) else CommentMode.UPDATE
        except (YamlError, UnicodeDecodeError, ValueError):
            base_mode = CommentMode.UPDATE
    if base_mode is CommentMode.OFF:
        return settings, None
    return replace(settings, mode=base_mode), (
        f"{display_path(config)}: comment.mode is off in this change but {base_mode.value} on {base.ref}: the "
        f"comment is posted ({base_mode.value}); turn it off on the base branch, or with the Action's comment input")
