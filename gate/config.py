"""gate.yaml -> a validated GateConfig; every problem is a ConfigError naming file:line:col."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gate.errors import ConfigError
from gate.files import forget_resolved, resolved
from gate.gitref import toplevel
from gate.globs import normalise
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


def repository_of(folder: Path) -> Path:
    """The repository under review: every file gate.yaml names stays inside it (the git work tree of
    gate.yaml's folder, else that folder). The checkout is untrusted: `..` and symlinks must not lead out."""
    return toplevel(folder) or folder


@dataclass(frozen=True)
class GateConfig:
    path: Path
    display: str
    root: Path
    doc: YamlDocument
    prompt_files: tuple[Path, ...]
    models_path: Path | None
    repo: Path  # repository_of(root): what every path gate.yaml names must stay in

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
        """A path gate.yaml names, relative to its folder, inside the repository; a missing one, one outside
        the repository (by `..` or a symlink) or one that is not a regular file is a ConfigError at its line."""
        try:
            target = resolved(self.root / value)  # every check asks for the same few files: resolved once a run
            self._inside(value, target, path)
            if must_exist and not target.exists():
                raise self.error(path, f"{value}: file not found (relative to {display_path(self.root) or '.'})")
            if target.exists() and not (target.is_file() or target.is_dir()):
                raise self.error(path, f"{value}: not a regular file (a device, pipe or socket)")
        except (OSError, ValueError) as exc:
            raise self.error(path, f"{value!r}: not a usable path ({exc})") from None
        return target

    def glob(self, pattern: str, *path: str | int, required: bool = False) -> list[Path]:
        """The files a glob in gate.yaml matches, resolved and sorted; an unusable glob, one that climbs out of
        the repository or matches a symlink out of it, or with `required` one that matches nothing, is a
        ConfigError at its line."""
        if Path(pattern).is_absolute():
            raise self.error(path, f"{pattern}: globs are relative to gate.yaml's folder, not absolute")
        # Where the pattern starts after its leading `..`: checked before walking, so `../../**` never walks
        # the machine's folders.
        parts = normalise(pattern).split("/")
        ups = next((i for i, part in enumerate(parts) if part != ".."), len(parts))
        try:
            self._inside(pattern, (self.root.joinpath(*parts[:ups])).resolve(), path)
            # `**` enters dot-folders (.github/prompts is where prompt files usually live), but never
            # git's own folder or the gate's state.
            found = sorted({resolved(p) for p in self.root.glob(pattern)
                            if p.is_file() and _SKIPPED.isdisjoint(p.relative_to(self.root).parts[:-1])})
        except (OSError, ValueError, NotImplementedError) as exc:
            raise self.error(path, f"{pattern}: not a usable glob ({exc})") from None
        for target in found:
            if not self._contains(target):
                raise self.error(path, f"{pattern}: matches a symlink out of the repository (to {display_path(target)})")
        if required and not found:
            raise self.error(path, f"{pattern}: the glob matches no file")
        return found

    def _contains(self, target: Path) -> bool:
        return target == self.repo or target.is_relative_to(self.repo)

    def _inside(self, value: str, target: Path, path: Sequence[str | int]) -> None:
        if self._contains(target):
            return
        lexical = Path(os.path.normpath(self.root / value))
        how = "is a symlink out of the repository" if self._contains(lexical) else "is outside the repository"
        raise self.error(path, f"{value}: {how} ({display_path(self.repo) or '.'}); gate.yaml names only its files")


def load_config(path: Path, extra_sections: Mapping[str, Mapping[str, Any]] | None = None) -> GateConfig:
    """Load and validate gate.yaml. extra_sections adds the schemas of plugin checks' sections."""
    forget_resolved()  # a new run: the files may have moved since the last one in this process
    display = display_path(path)
    if not path.exists():
        raise ConfigError(f"{display}: file not found (run `gate init` to create one, or pass --config)")
    try:
        doc = load_yaml(path, display)
    except YamlError as exc:
        raise ConfigError(str(exc)) from None
    validate_doc(doc, extra_sections)
    root = path.resolve().parent
    return complete(GateConfig(path.resolve(), display, root, doc, (), None, repository_of(root)))


def validate_doc(doc: YamlDocument, extra_sections: Mapping[str, Mapping[str, Any]] | None = None, *,
                 other_sections: bool = False) -> None:
    """A ConfigError unless doc is a gate.yaml the schema accepts. other_sections: top-level keys the schema does not
    know are let through (a commit's gate.yaml read for the sections one check needs: a plugin's is not ours)."""
    display = doc.display
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        raise ConfigError(f"{display}:1:1: $: gate.yaml must be a mapping of sections, but the file is {kind}")
    schema: Any = load_schema("gate")
    if extra_sections or other_sections:
        schema = dict(schema)
        schema["properties"] = {**schema["properties"], **(extra_sections or {})}
        if other_sections:
            schema["additionalProperties"] = True
    _raise_violations(display, validate(doc, schema))


def complete(config: GateConfig) -> GateConfig:
    """config with the files it names (models.yaml, the prompt globs) resolved by its own rules (config.resolve and
    config.glob: the work tree's, or another commit's)."""
    doc = config.doc
    models_path = None
    if "models" in doc.data:
        models_path = config.resolve(doc.data["models"], "models")
        if models_path.is_dir():
            raise config.error(["models"], f"{doc.data['models']}: is a directory, not a file")
    prompt_files = _expand_prompts(config)
    return replace(config, prompt_files=prompt_files, models_path=models_path)


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
