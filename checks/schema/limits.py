"""gate.yaml's own limits against the base branch's: a change that moves a gate says so where reviewers read.

gate.yaml is part of the change under review. A pull request that loosens a budget or a threshold passes by the
limits it wrote itself; the diff shows it, but the verdict would read as a clean pass. So each limit changed or
removed since the base is a warning at its line, with the old and the new value."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gate.config import GateConfig
from gate.gitref import BaseRef
from gate.report import Finding, Severity
from gate.yamlfile import YamlError, parse_yaml

# A setting that decides a verdict: under one of these keys, or a key of these names or prefixes.
LIMIT_SECTIONS = frozenset({"gates", "budget", "thresholds", "expect", "faults"})
LIMIT_KEYS = frozenset({"threshold", "alpha", "tolerance", "warn", "fail", "strict", "require_version_bump"})
LIMIT_PREFIXES = ("min_", "max_")
# Values shown up to this length: a limit is a number or a short expression.
SHOWN = 80


def changed_limits(config: GateConfig, base: BaseRef, display: Callable[[Path], str]) -> list[Finding]:
    """A warning per limit of the base's gate.yaml that this change altered or removed; none when the base has
    no gate.yaml at this path (new, or moved: nothing to compare) or it does not parse."""
    rel = base.relpath(config.path) if base.available else None
    blob = base.read(rel) if rel else None
    if blob is None:
        return []
    try:
        old_doc = parse_yaml(blob.decode("utf-8-sig"), f"{rel} on the base")
    except (YamlError, UnicodeDecodeError):
        return []
    if not isinstance(old_doc.data, Mapping):
        return []
    old = {path: value for path, _, value in _leaves(old_doc.data, (), ())}
    new = {path: (at, value) for path, at, value in _leaves(config.data, (), ())}
    findings = []
    for path in sorted(old, key=_sort_key):
        if not _is_limit(path) or (path in new and new[path][1] == old[path]):
            continue
        line = config.doc.locate(new[path][0] if path in new else _nearest(path, new)).line
        shown = ".".join(str(p) for p in path)
        what = f"{_text(old[path])} -> {_text(new[path][1])}" if path in new else f"removed (was {_text(old[path])})"
        findings.append(Finding(Severity.WARNING, f"gate limit {shown} changed in this change: {what}",
                                display(config.path), line, rule="PG310"))
    return findings


def _leaves(data: Any, path: tuple[str | int, ...],
            at: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], tuple[str | int, ...], Any]]:
    """(path, where, value) of every leaf: `where` is its place in the document. A list of named entries (suites,
    scenarios, metrics) is walked by their names, so an entry added before another does not read as every later
    one changed; any other list is one value."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _leaves(value, (*path, str(key)), (*at, str(key)))
    elif isinstance(data, list) and data and all(isinstance(x, Mapping) and isinstance(x.get("name"), str)
                                                 for x in data) and len({x["name"] for x in data}) == len(data):
        for i, item in enumerate(data):
            for key, value in item.items():
                if key != "name":
                    yield from _leaves(value, (*path, item["name"], str(key)), (*at, i, str(key)))
    else:
        yield path, at, data


Placed = Mapping[tuple[str | int, ...], tuple[tuple[str | int, ...], Any]]


def _nearest(path: tuple[str | int, ...], new: Placed) -> tuple[str | int, ...]:
    """Where a removed limit was: its closest parent that is still there (or the document's start)."""
    for size in range(len(path) - 1, 0, -1):
        for named, (at, _) in new.items():
            if named[:size] == path[:size]:
                return at[:size]
    return ()


def _is_limit(path: tuple[str | int, ...]) -> bool:
    return any(isinstance(p, str) and (p in LIMIT_SECTIONS or p in LIMIT_KEYS or p.startswith(LIMIT_PREFIXES))
               for p in path)


def _text(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _sort_key(path: tuple[str | int, ...]) -> tuple[str, ...]:
    return tuple(str(p) for p in path)
