"""The base commit's own gate.yaml: what the checks that compare read the base through (its paths, not the change's)."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from gate.config import GateConfig, complete, validate_doc
from gate.errors import ConfigError
from gate.files import MAX_BYTES, decode
from gate.gitref import BaseRef
from gate.globs import glob_regex, normalise
from gate.report import Finding, Severity
from gate.yamlfile import YamlError, parse_yaml

_SKIPPED = frozenset({".git", ".gate"})


@dataclass(frozen=True)
class AtBase(GateConfig):
    """A gate.yaml as committed at the base: every file it names is looked up in the base commit's tree. Its paths are
    where the file would be in this checkout; they are read at the base with git, never from the work tree."""

    present: frozenset[str] = field(default_factory=frozenset)  # repository-relative files of the base commit

    def resolve(self, value: str, *path: str | int, must_exist: bool = True) -> Path:
        # Lexical: the base's files are not on disk, so no symlink of the checkout can lead a base path anywhere.
        target = Path(os.path.normpath(self.root / value))
        if not self._contains(target):
            raise self.error(path, f"{value}: is outside the repository; gate.yaml names only its files")
        rel = target.relative_to(self.repo).as_posix()
        if must_exist and rel not in self.present and not any(p.startswith(rel + "/") for p in self.present):
            raise self.error(path, f"{value}: file not found at the base commit")
        return target

    def glob(self, pattern: str, *path: str | int, required: bool = False) -> list[Path]:
        if Path(pattern).is_absolute():
            raise self.error(path, f"{pattern}: globs are relative to gate.yaml's folder, not absolute")
        under = self.root.relative_to(self.repo).as_posix()
        full = normalise(f"{under}/{pattern}" if under != "." else pattern)
        if full.split("/")[0] == "..":
            raise self.error(path, f"{pattern}: is outside the repository; gate.yaml names only its files")
        regex = glob_regex(full)
        found = sorted(self.repo / p for p in self.present
                       if regex.match(p) and _SKIPPED.isdisjoint(p.split("/")[:-1]))
        if required and not found:
            raise self.error(path, f"{pattern}: the glob matches no file at the base commit")
        return found


@dataclass(frozen=True)
class BaseConfig:
    """The base's gate.yaml (config), or the change's standing in for it and why (note)."""

    config: GateConfig
    own: bool  # config is the base's own gate.yaml
    note: str | None = None  # why the change's gate.yaml stands in (None: it is the base's own)
    exists: bool = True  # the base commit has a gate.yaml there (its own, or one that cannot be read)

    def runs(self, section: str) -> bool:
        """Whether the base commit runs the section's check, as far as can be told: its own gate.yaml has the section,
        or it has one that cannot be read. A check new on this change (no gate.yaml at the base, or no such section)
        has nothing at the base to be compared with, and that is no failure to compare."""
        return self.config.section(section) is not None if self.own else self.exists


_loaded: dict[tuple[str, str, str], BaseConfig] = {}


def base_config(head: GateConfig, base: BaseRef) -> BaseConfig:
    """The gate.yaml at the same place in the base commit, read with the same limits as the change's (size, YAML
    hardening, schema, paths inside the repository); the change's when the base has none or it cannot be read."""
    key = (str(head.path), str(base.repo_root), base.sha or "")
    if key not in _loaded:
        _loaded[key] = _load(head, base)
    return _loaded[key]


def _load(head: GateConfig, base: BaseRef) -> BaseConfig:
    at = f"at {base.ref}" if base.ref else "at the base"
    rel = base.relpath(head.path)
    if not base.available or base.repo_root is None:
        return BaseConfig(head, False, f"no base commit to read {head.display} from ({base.reason or 'no base ref'})",
                          exists=False)
    if rel is None:
        return BaseConfig(head, False, f"{head.display} is outside the git repository", exists=False)
    raw = base.read(rel)
    if raw is None:
        return BaseConfig(head, False, f"{rel} does not exist {at}", exists=False)
    shown = f"{rel} {at}"
    try:
        if len(raw) > MAX_BYTES:
            raise YamlError(shown, f"larger than {MAX_BYTES // (1 << 20)} MiB")
        doc = parse_yaml(decode(raw, shown), shown)
        validate_doc(doc, other_sections=True)
        repo = base.repo_root.resolve()
        config = AtBase(head.path, shown, head.root, doc, (), None, repo, frozenset(base.files()))
        return BaseConfig(complete(config), True)
    except YamlError as exc:
        return BaseConfig(head, False, f"{shown} cannot be read ({_short(str(exc))})")
    except ConfigError as exc:
        return BaseConfig(head, False, f"{shown} is not valid ({_short(str(exc))})")


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class BaseFile:
    """A file a section of gate.yaml names (a baseline), as the base commit's own gate.yaml names it."""

    path: Path | None  # None: the base names none (its gate.yaml has no such section, or a path it cannot use)
    rel: str  # as gate.yaml writes it
    # The base runs the section's check and a change is under review (HEAD is not the base itself): the file is
    # expected there, and its absence is a finding.
    expected: bool
    why: str | None = None  # why there is no path, or why the change's gate.yaml stood in for the base's


def base_file(head: GateConfig, base: BaseRef, section: str, key: str, default: str, head_path: Path,
              head_rel: str) -> BaseFile:
    """Where the base commit keeps the file `section.key` names (written `PATH` or `{path: PATH}`; default when the
    section names none): a change that renames it must not switch the comparison off. The change's path (head_path)
    when the base's gate.yaml is not its own (the base has none, or it cannot be read)."""
    found = base_config(head, base)
    expected = found.runs(section) and base.sha != base.head
    if not found.own:
        return BaseFile(head_path, head_rel, expected, found.note if base.available else None)
    raw = found.config.section(section)
    if raw is None:
        return BaseFile(None, head_rel, False, f"the base's gate.yaml has no {section} section")
    value = raw.get(key, default)
    at: tuple[str, ...] = (section, key)
    if isinstance(value, Mapping):
        value, at = value.get("path", default), (section, key, "path")
    rel = str(value)
    try:
        return BaseFile(found.config.resolve(rel, *at, must_exist=False), rel, expected)
    except ConfigError as exc:
        return BaseFile(None, rel, expected, _short(str(exc)))


@dataclass(frozen=True)
class Baseline:
    """Where a check reads its baseline: `path` (at the base commit when there is one), or why there is none."""

    path: Path | None
    expected: bool  # the base runs the check: a baseline missing there is a finding (see `missing`)
    note: str = ""  # why there is none
    finding: Finding | None = None


def baseline_of(config: GateConfig, base: BaseRef, section: str, default: str, head_path: Path, head_rel: str,
                display: Callable[[Path], str]) -> Baseline:
    """The section's baseline as the base keeps it (at the path its own gate.yaml names); without a base ref, the
    change's own path in the working tree."""
    if not base.available:
        return Baseline(head_path, False)
    at = base_file(config, base, section, "baseline", default, head_path, head_rel)
    if at.path is None:
        why = at.why or "no path"
        return Baseline(None, False, f"no baseline: {why}",
                        missing_baseline(config, section, why, display) if at.expected else None)
    return Baseline(at.path, at.expected)


def missing_baseline(config: GateConfig, section: str, why: str, display: Callable[[Path], str]) -> Finding:
    """The base runs the section's check but keeps no baseline this change can be compared with: a finding at the
    section in gate.yaml, so the verdict does not read as a comparison that passed."""
    line = config.doc.locate((section,), key=True).line
    return Finding(Severity.WARNING, f"{section}: not compared with the base, which runs this check: {why} (run `gate "
                   "baseline update` on the base branch and commit the baseline)", display(config.path), line)
