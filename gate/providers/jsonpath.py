"""A small JSON path: `$.a.b[0].c`, `a.b.0.c` or `$['a key'][0]`, enough to find an answer in a body."""

from __future__ import annotations

import re
from typing import Any

_TOKEN = re.compile(r"""\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[['"]([^'"]*)['"]\]|\.(\d+)""")


class PathError(ValueError):
    pass


def parse(path: str) -> tuple[str | int, ...]:
    """The steps of a path; raises PathError naming the first character it cannot read."""
    text = path.strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[str | int] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise PathError(f"cannot read JSON path {path!r} at {text[pos:]!r}")
        name, index, quoted, dotted_index = m.groups()
        if index is not None or dotted_index is not None:
            steps.append(int(index if index is not None else dotted_index))
        elif quoted is not None:
            steps.append(quoted)
        else:
            steps.append(name)
        pos = m.end()
    return tuple(steps)


_MISSING = object()


def find(data: Any, steps: tuple[str | int, ...]) -> Any:
    """The value at the path, or raises KeyError naming where the path stopped matching."""
    node = data
    for i, step in enumerate(steps):
        if isinstance(step, int) and isinstance(node, list) and -len(node) <= step < len(node):
            node = node[step]
        elif isinstance(node, dict) and str(step) in node:
            node = node[str(step)]
        else:
            raise KeyError(format_path(steps[: i + 1]))
    return node


def format_path(steps: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in steps)
