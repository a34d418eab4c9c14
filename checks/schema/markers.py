"""Inline `# gate: ...` markers in a file and the lines each one covers."""

from __future__ import annotations

import re

# A line that opens a block scalar (`key: |`, `- >-`), possibly with a comment after the indicator.
_BLOCK_HEADER = re.compile(r"(?:^\s*-|:)\s*[|>][-+1-9]*\s*(?:#.*)?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def covered_lines(text: str, marker: re.Pattern[str]) -> dict[int, set[str]]:
    """Line number (1-based) -> the marker's first group (or "") for each line a marker covers: its own line;
    the next line when the marker stands on a comment line of its own; and the whole block scalar that a
    covered line opens (inside the block a marker would be part of the text)."""
    lines = text.split("\n")  # not splitlines(): U+2028 and friends are not line breaks in YAML
    out: dict[int, set[str]] = {}
    for i, line in enumerate(lines):
        m = marker.search(line)
        if not m:
            continue
        payload = m.group(1) if marker.groups else ""
        targets = [i, i + 1] if line.lstrip().startswith("#") and i + 1 < len(lines) else [i]
        for t in targets:
            out.setdefault(t + 1, set()).add(payload)
            if not _BLOCK_HEADER.search(lines[t]):
                continue
            j = t + 1
            while j < len(lines) and (not lines[j].strip() or _indent(lines[j]) > _indent(lines[t])):
                out.setdefault(j + 1, set()).add(payload)
                j += 1
    return out
