"""Literal credentials in gate-managed files: reported by kind and place, never by value."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gate.files import FileError, read_bytes
from gate.redact import SECRETS, find_secrets, may_hold_secret
from gate.report import Finding, Severity

from .markers import covered_lines

ALLOW_MARKER = "gate: allow-secret"
_ALLOW = re.compile(re.escape(ALLOW_MARKER))
# The fixed part of each credential shape; what follows it is the secret proper.
_PREFIX = re.compile(r"(?i:bearer\s+)|sk-ant-(?:api\d+-)?|sk-(?:proj-|svcacct-|admin-)?|gh[pousr]_|github_pat_|AKIA|ASIA")
# Documented example keys (AWS's AKIAIOSFODNN7EXAMPLE) and obvious stand-ins (sk-your-key-here...).
_EXAMPLE_WORDS = re.compile(r"EXAMPLE|(?i:your|placeholder|dummy|redacted|changeme)")


def is_placeholder(value: str) -> bool:
    """A credential-shaped string that is obviously not a credential: `ghp_` and a row of x's, or an example key."""
    body = value[m.end():] if (m := _PREFIX.match(value)) else value
    return len(set(body) - set("-_")) <= 1 or _EXAMPLE_WORDS.search(body) is not None
MAX_SCAN_BYTES = 5 * 1024 * 1024


def referenced_files(root: Path, data: Any) -> Iterator[Path]:
    """Files under root that gate.yaml names anywhere (datasets, traffic profiles, docs...)."""
    if isinstance(data, str):
        if len(data) < 256 and "\n" not in data:
            try:
                # A glob (e.g. docs.failure_modes: docs/*.md) names every file it matches; one that starts
                # outside gate.yaml's folder is not walked at all (`../../**` would walk the machine).
                if any(c in data for c in "*?[") and (Path(data).is_absolute() or ".." in Path(data).parts):
                    return
                candidates = root.glob(data) if any(c in data for c in "*?[") else [root / data]
                for candidate in candidates:
                    # One stat first: most strings of gate.yaml name no file, and resolving walks every part.
                    if candidate.is_file() and (resolved := candidate.resolve()).is_relative_to(root):
                        yield resolved
            except (OSError, ValueError, NotImplementedError):
                return
    elif isinstance(data, Mapping):
        for value in data.values():
            yield from referenced_files(root, value)
    elif isinstance(data, list):
        for value in data:
            yield from referenced_files(root, value)


def scan_file(path: Path, display: str) -> list[Finding]:
    try:
        text = read_bytes(path, display, max_bytes=MAX_SCAN_BYTES).decode("utf-8", "replace")
    except FileError:
        return []  # too large, not a regular file, unreadable: the check that reads it says so
    if not may_hold_secret(text) or not SECRETS.search(text):
        return []  # one pass over the whole file: most hold no credential shape, and need no line-by-line look
    findings = []
    allowed = covered_lines(text, _ALLOW) if ALLOW_MARKER in text else {}
    # "\n" only: str.splitlines() also breaks at U+2028/U+2029/U+0085 and would shift every later line.
    for number, line in enumerate(text.split("\n"), start=1):
        if number in allowed:
            continue
        for kind, offset in find_secrets(line):
            match = kind.pattern.match(line, offset)
            if match and is_placeholder(match.group()):
                continue
            findings.append(Finding(
                Severity.ERROR,
                f"literal {kind.name} in a file: move it to an environment variable (models.yaml: api_key_env) "
                f"and rotate it; mark a false positive with `# {ALLOW_MARKER}`",
                display, number, offset + 1, category="secret", rule="PG400"))
    return findings


def scan_files(paths: Iterable[tuple[Path, str]]) -> list[Finding]:
    out: list[Finding] = []
    for path, display in paths:
        out += scan_file(path, display)
    return out
