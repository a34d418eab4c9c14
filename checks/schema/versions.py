"""Prompt version bumps against the base ref: a changed prompt must carry a strictly higher semver."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate import semver
from gate.gitref import BaseRef
from gate.globs import matches, normalise
from gate.prompts import parse_prompt
from gate.report import Finding, Severity
from gate.yamlfile import YamlError


@dataclass(frozen=True)
class HeadPrompt:
    path: Path
    display: str
    data: Mapping[str, Any] | None  # None when the file did not parse (reported elsewhere)
    version_line: int


def _content(data: Any) -> Any:
    """What counts as the prompt's content: everything but its version."""
    if isinstance(data, dict):
        return {k: v for k, v in data.items() if k != "version"}
    return data


def _parse(blob: bytes, display: str) -> Any:
    try:
        return parse_prompt(blob.decode("utf-8-sig"), display).data
    except (YamlError, UnicodeDecodeError):
        return None


def compare_versions(
    prompts: Sequence[HeadPrompt], base: BaseRef, globs: Sequence[str], config_root: Path, require_bump: bool
) -> tuple[list[Finding], list[dict[str, Any]]]:
    """Findings, and one row per prompt: {file, change, old, new}."""
    findings: list[Finding] = []
    rows: list[dict[str, Any]] = []
    if not base.available:
        # Outside git, or before the first commit, every prompt is new: nothing to compare is no risk.
        severity = Severity.NOTICE if base.repo_root is None or base.head is None else Severity.WARNING
        if prompts:
            findings.append(Finding(severity, f"prompt versions not compared with the base ref: {base.reason}",
                                        rule="PG303"))
        return findings, rows

    rel = {p.path: base.relpath(p.path) for p in prompts}
    blobs = base.read_many([r for r in rel.values() if r])
    prefix = base.relpath(config_root) or ""
    base_globs = [normalise(f"{prefix}/{g}" if prefix and prefix != "." else g) for g in globs]
    head_rels = {r for r in rel.values() if r}
    removed = sorted(f for f in base.files() if f not in head_rels and any(matches(g, f) for g in base_globs))
    removed_data = {f: _parse(b, f) for f, b in base.read_many(removed).items() if b is not None}

    for p in prompts:
        if p.data is None:
            continue
        relpath = rel[p.path]
        new = p.data.get("version")
        new_v = semver.parse(str(new)) if new is not None else None
        where: dict[str, Any] = dict(file=p.display, line=p.version_line)
        if new is not None and new_v is None:
            continue  # an invalid version is reported by the prompt rules
        blob = blobs.get(relpath) if relpath else None
        previous = None
        if blob is None:
            renamed_from = next((f for f, d in removed_data.items() if f in removed and _content(d) == _content(p.data)),
                                None)
            if renamed_from:
                removed.remove(renamed_from)
                rows.append(dict(file=p.display, change="renamed", old=_version_of(removed_data[renamed_from]),
                                 new=str(new) if new is not None else None, previous=renamed_from))
                continue
            # Renamed and edited in one change (classify.prompt.yml -> classify.prompt.yaml, reworded): the edit
            # needs its bump as any edit does, against the version the file had under its old name.
            previous = _renamed_from(p.data, {f: d for f, d in removed_data.items() if f in removed})
        if blob is None and previous is not None:
            removed.remove(previous)
            old_data: Any = removed_data[previous]
        elif blob is None:
            rows.append(dict(file=p.display, change="added", old=None, new=str(new) if new is not None else None))
            if require_bump and new is None:
                findings.append(Finding(Severity.ERROR, "new prompt has no `version`: add one, e.g. version: 1.0.0",
                                        rule="PG301", **where))
            continue
        elif _same_bytes(p.path, blob):
            rows.append(dict(file=p.display, change="unchanged", old=_version_of(p.data), new=str(new) if new is not None else None))
            continue
        else:
            old_data = _parse(blob, relpath or p.display)
        old = _version_of(old_data)
        if old_data is not None and _content(old_data) == _content(p.data):
            rows.append(dict(file=p.display, change="unchanged", old=old, new=str(new) if new is not None else None))
            old_v = semver.parse(old) if old else None
            if old_v and new_v and new_v < old_v:
                findings.append(Finding(Severity.ERROR, f"version went down from {old} to {new}", rule="PG300", **where))
            continue
        row = dict(file=p.display, change="changed", old=old, new=str(new) if new is not None else None)
        rows.append({**row, "previous": previous} if previous else row)
        if not require_bump:
            continue
        what = f"prompt renamed from {previous} and changed" if previous else "prompt changed"
        if new_v is None:
            findings.append(Finding(Severity.ERROR, f"{what} but has no `version` (was {old or 'unversioned'})",
                                    rule="PG301", **where))
            continue
        old_v = semver.parse(old) if old else None
        if old_v is not None and not new_v > old_v:
            findings.append(Finding(Severity.ERROR,
                                    f"{what} but its version {new} is not higher than {old} on the base ref",
                                    rule="PG300", **where))
    for f in removed:
        rows.append(dict(file=f, change="removed", old=_version_of(removed_data.get(f)), new=None))
        findings.append(Finding(Severity.NOTICE, f"prompt removed (was version {_version_of(removed_data.get(f)) or 'unversioned'})",
                                file=f, rule="PG302"))
    return findings, rows


# A removed prompt is the one an added prompt was renamed from when they share their `name:`, or, failing that,
# when most of their messages' text is the same (git's own rename rule is 50% similar). Texts shorter than
# MIN_RENAME_TEXT say too little to tell a rename from two small prompts alike.
RENAME_SIMILARITY = 0.6
MIN_RENAME_TEXT = 40
# Pairs compared by text at most: a change that adds and removes hundreds of prompts is not a set of renames.
MAX_RENAME_PAIRS = 400


def _renamed_from(data: Mapping[str, Any], removed: Mapping[str, Any]) -> str | None:
    name = data.get("name")
    if isinstance(name, str) and name:
        same = [f for f, d in removed.items() if isinstance(d, dict) and d.get("name") == name]
        if len(same) == 1:
            return same[0]
    text = _messages_text(data)
    if len(text) < MIN_RENAME_TEXT or not removed or len(removed) > MAX_RENAME_PAIRS:
        return None
    best, best_ratio = None, RENAME_SIMILARITY
    for f, d in removed.items():
        matcher = difflib.SequenceMatcher(None, text, _messages_text(d), autojunk=False)
        if matcher.real_quick_ratio() >= best_ratio and matcher.quick_ratio() >= best_ratio \
                and (ratio := matcher.ratio()) >= best_ratio:
            best, best_ratio = f, ratio
    return best


def _messages_text(data: Any) -> str:
    """The prompt proper: its messages' text, in order (what a reader recognises a prompt by)."""
    messages = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(messages, list):
        return ""
    return "\n".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))


def _same_bytes(path: Path, blob: bytes) -> bool:
    """The common case, an untouched prompt, without parsing the base copy."""
    try:
        return path.stat().st_size == len(blob) and path.read_bytes() == blob
    except OSError:
        return False


def _version_of(data: Any) -> str | None:
    if isinstance(data, dict) and data.get("version") is not None:
        return str(data["version"])
    return None
