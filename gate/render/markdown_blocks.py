"""Cuts and repairs markdown at block boundaries, so a shortened section still renders whole."""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from typing import Any

_OPEN = re.compile(r"<details\b", re.IGNORECASE)
_CLOSE = re.compile(r"</details\s*>", re.IGNORECASE)
# What repair() may append to a cut: a closing fence and a few </details>.
_REPAIR_SLACK = 64


def _tokens(text: str) -> Sequence[Any]:
    from markdown_it import MarkdownIt  # heavy: only when a comment is rendered

    return MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(text)


def _cut_points(tokens: Sequence[Any]) -> list[int]:
    """Line numbers after which the rest can be dropped without leaving a construct half-open."""
    points: set[int] = set()
    in_tbody = False
    for t in tokens:
        if t.type == "tbody_open":
            in_tbody = True
        elif t.type == "tbody_close":
            in_tbody = False
        if not t.map or t.nesting == -1:
            continue
        # Whole top-level blocks; single list items and body rows, so a long list or table
        # can keep its first part.
        if t.level == 0 or t.type == "list_item_open" or (t.type == "tr_open" and in_tbody):
            points.add(t.map[1])
    return sorted(points)


def _unclosed_fence(tokens: Sequence[Any], lines: list[str]) -> str | None:
    """The fence to append when the text ends inside a code block (which would swallow the rest)."""
    fences = [t for t in tokens if t.type == "fence" and t.map]
    if not fences:
        return None
    last = fences[-1]
    start, end = last.map
    closing = lines[end - 1].strip() if end - 1 > start and end - 1 < len(lines) else ""
    char = last.markup[0]
    if closing and set(closing) == {char} and len(closing) >= len(last.markup):
        return None
    if end < len(lines):
        return None
    return str(last.markup)


def _details_balance(text: str, tokens: Sequence[Any]) -> int:
    """How many <details> are open at the end (counted only in HTML, never inside code)."""
    opened = closed = 0
    for t in tokens:
        if t.type in ("html_block", "inline"):
            html = t.content if t.type == "html_block" else "".join(
                c.content for c in (t.children or []) if c.type == "html_inline")
            opened += len(_OPEN.findall(html))
            closed += len(_CLOSE.findall(html))
    return opened - closed


def repair(text: str) -> str:
    """Close what a section left open (a fence, a <details>), so it cannot swallow what follows."""
    text = text.rstrip("\n")
    tokens = _tokens(text + "\n")
    lines = (text + "\n").splitlines(keepends=True)
    fence = _unclosed_fence(tokens, lines)
    if fence:
        text += "\n" + fence
        tokens = _tokens(text + "\n")
    missing = _details_balance(text, tokens)
    if missing > 0:
        text += "\n\n" + "\n\n".join(["</details>"] * missing)
    return text


def truncate(text: str, budget: int, note: str, measure: Callable[[str], int] = len) -> str | None:
    """The longest prefix that ends on a block boundary and fits budget with note; None if none does."""
    repaired = repair(text)
    if measure(repaired) <= budget:
        return repaired
    lines = (repaired + "\n").splitlines(keepends=True)
    points = [p for p in _cut_points(_tokens(repaired + "\n")) if 0 < p < len(lines)]
    # Size of the first n lines, so the right cut point is found without rendering each candidate.
    sizes = [0]
    for line in lines:
        sizes.append(sizes[-1] + measure(line))
    room = budget - measure("\n\n" + note) - _REPAIR_SLACK
    fitting = bisect.bisect_right([sizes[p] for p in points], room)
    # Repair may add a closing fence or </details>: confirm, stepping back a few points at most.
    for point in reversed(points[max(fitting - 5, 0):fitting]):
        head = repair("".join(lines[:point]))
        if not head.strip():
            return None
        candidate = f"{head}\n\n{note}"
        if measure(candidate) <= budget:
            return candidate
    return None
