"""gate.yaml -> a validated GateConfig; every problem is a ConfigError naming file:line:col."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.schemas import Violation, load_schema, validate
from gate.yamlfile import YamlDocument, YamlError, load_yaml

MAX_ERRORS = 20
_SKIPPED = frozenset({".git", ".gate"})


def display_path(path: Path) -> str:
    """The shortest honest way to name path: relative to the working folder when under it."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path.resolve()) if rel.startswith("..") else rel


@dataclass(frozen=True)
class GateConfig:
    path: Path
    display: str
    root: Path
    doc: YamlDocument
    prompt_files: tuple[Path, ...]
    models_path: Path | None

    @property
    def data(self) -> Mapping[str, Any]:
        data: Mapping[str, Any] = self.doc.data
        return data

    def section(self, name: str) -> Mapping[str, Any] | None:
        value = self.data.get(name)
        if value is None:
            return None
        return value if isinstance(value, Mapping) else {}

    def where(self, *path: str | int) -> str:
        pos = self.doc.locate(path)
        return f"{self.display}:{pos.line}:{pos.column}"

    def error(self, path: Sequence[str | int], message: str) -> ConfigError:
        return ConfigError(f"{self.where(*path)}: {message}")

    def resolve(self, value: str, *path: str | int, must_exist: bool = True) -> Path:
        """A path gate.yaml names, relative to its folder; a missing one is a ConfigError at its line."""
        try:
            target = (self.root / value).resolve()
        except (OSError, ValueError) as exc:
            raise self.error(path, f"{value!r}: not a usable path ({exc})") from None
        if must_exist and not target.exists():
            raise self.error(path, f"{value}: file not found (relative to {display_path(self.root) or '.'})")
        return target

    def glob(self, pattern: str, *path: str | int, required: bool = False) -> list[Path]:
        """The files a glob in gate.yaml matches, resolved and sorted; an unusable glob, or with
        `required` one that matches nothing, is a ConfigError at its line."""
        if Path(pattern).is_absolute():
            raise self.error(path, f"{pattern}: globs are relative to gate.yaml's folder, not absolute")
        try:
            # `**` enters dot-folders (.github/prompts is where prompt files usually live), but never
            # git's own folder or the gate's state.
            found = sorted({p.resolve() for p in self.root.glob(pattern)
                            if p.is_file() and _SKIPPED.isdisjoint(p.relative_to(self.root).parts[:-1])})
        except (OSError, ValueError, NotImplementedError) as exc:
            raise self.error(path, f"{pattern}: not a usable glob ({exc})") from None
        if required and not found:
            raise self.error(path, f"{pattern}: the glob matches no file")
        return found


def load_config(path: Path, extra_sections: Mapping[str, Mapping[str, Any]] | None = None) -> GateConfig:
    """Load and validate gate.yaml. extra_sections adds the schemas of plugin checks' sections."""
    display = display_path(path)
    if not path.exists():
        raise ConfigError(f"{display}: file not found (run `gate init` to create one, or pass --config)")
    try:
        doc = load_yaml(path, display)
    except YamlError as exc:
        raise ConfigError(str(exc)) from None
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        raise ConfigError(f"{display}:1:1: $: gate.yaml must be a mapping of sections, but the file is {kind}")

    schema: Any = load_schema("gate")
    if extra_sections:
        schema = dict(schema)
        schema["properties"] = {**schema["properties"], **extra_sections}
    _raise_violations(display, validate(doc, schema))

    root = path.resolve().parent
    config = GateConfig(path.resolve(), display, root, doc, (), None)
    models_path = None
    if "models" in doc.data:
        models_path = config.resolve(doc.data["models"], "models")
        if models_path.is_dir():
            raise config.error(["models"], f"{doc.data['models']}: is a directory, not a file")
    prompt_files = _expand_prompts(config)
    return GateConfig(config.path, display, root, doc, prompt_files, models_path)


def _raise_violations(display: str, violations: list[Violation]) -> None:
    if not violations:
        return
    lines = [v.format(display) for v in violations]
    if len(lines) > MAX_ERRORS:
        lines = lines[:MAX_ERRORS] + [f"... and {len(lines) - MAX_ERRORS} more"]
    raise ConfigError(lines[0], lines=tuple(lines[1:]))


def _expand_prompts(config: GateConfig) -> tuple[Path, ...]:
    globs = config.data.get("prompts")
    if globs is None:
        return ()
    patterns = [globs] if isinstance(globs, str) else list(globs)
    found: set[Path] = set()
    for i, pattern in enumerate(patterns):
        at: tuple[str | int, ...] = ("prompts",) if isinstance(globs, str) else ("prompts", i)
        found.update(config.glob(pattern, *at, required=True))
    return tuple(sorted(found))
