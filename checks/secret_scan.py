"""Literal credentials in gate-managed files: reported by kind and place, never by value."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gate.redact import find_secrets
from gate.report import Finding, Severity

ALLOW_MARKER = "gate: allow-secret"
MAX_SCAN_BYTES = 5 * 1024 * 1024


def referenced_files(root: Path, data: Any) -> Iterator[Path]:
    """Files under root that gate.yaml names anywhere (datasets, traffic profiles, docs...)."""
    if isinstance(data, str):
        if len(data) < 256 and "\n" not in data:
            try:
                # A glob (e.g. docs.failure_modes: docs/*.md) names every file it matches.
                candidates = root.glob(data) if any(c in data for c in "*?[") else [root / data]
                for candidate in candidates:
                    resolved = candidate.resolve()
                    if resolved.is_file() and resolved.is_relative_to(root):
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
        if path.stat().st_size > MAX_SCAN_BYTES:
            return []
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return []
    findings = []
    for number, line in enumerate(text.splitlines(), start=1):
        if ALLOW_MARKER in line:
            continue
        for kind, offset in find_secrets(line):
            findings.append(Finding(
                Severity.ERROR,
                f"literal {kind.name} in a file: move it to an environment variable (models.yaml: api_key_env) "
                f"and rotate it; mark a false positive with `# {ALLOW_MARKER}`",
                display, number, offset + 1, category="secret"))
    return findings


def scan_files(paths: Iterable[tuple[Path, str]]) -> list[Finding]:
    out: list[Finding] = []
    for path, display in paths:
        out += scan_file(path, display)
    return out
