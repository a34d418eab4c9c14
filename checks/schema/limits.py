"""gate.yaml's own settings against the base branch's: a change to the gate itself says so where reviewers read.

gate.yaml is part of the change under review. A pull request that loosens a budget, narrows what a check looks at,
drops a suite's metric or a whole section, or picks a cheaper traffic profile is judged by settings it wrote
itself; the diff shows it, but the verdict would read as a clean pass. So every setting added, changed or removed
since the base is a warning at its line (PG310), old and new value shown, and so is a price models.yaml states for
a model (an override that makes a dearer model look cheap). No key name is trusted to mean "not a limit": the
sample sizes, the targets and the files a check reads change a verdict too. The change's own `schema.ignore` and
inline markers do not silence PG310 (see the schema check)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gate.config import GateConfig
from gate.gitref import BaseRef
from gate.report import Finding, Severity
from gate.yamlfile import YamlDocument, YamlError, parse_yaml

RULE = "PG310"
# models.yaml settings that change what the cost check reads as a model's price.
PRICE_KEYS = frozenset({"pricing", "price_ref", "gpu_hour_usd", "throughput_tokens_per_s"})
# Values shown up to this length; findings per file at most (then one that counts the rest).
SHOWN = 80
MAX_FINDINGS = 25
Path_ = tuple[str | int, ...]


def changed_settings(config: GateConfig, base: BaseRef, display: Callable[[Path], str]) -> list[Finding]:
    """A warning per setting of gate.yaml, and per price of models.yaml, that differs from the base's; none for a
    file the base does not have at this path (new, or moved: nothing to compare) or cannot parse."""
    findings = _compared(config.path, config.doc, base, display, lambda path: True, "gate.yaml setting")
    if config.models_path is not None:
        try:
            from gate.yamlfile import load_yaml

            models = load_yaml(config.models_path, display(config.models_path))
        except YamlError:
            return findings  # the schema check reports the file
        findings += _compared(config.models_path, models, base, display,
                              lambda path: len(path) > 2 and path[0] == "models" and path[2] in PRICE_KEYS,
                              "model price")
    return findings


def _compared(path: Path, doc: YamlDocument, base: BaseRef, display: Callable[[Path], str],
              counted: Callable[[Path_], bool], what: str) -> list[Finding]:
    rel = base.relpath(path) if base.available else None
    blob = base.read(rel) if rel else None
    if blob is None:
        return []
    try:
        old_doc = parse_yaml(blob.decode("utf-8-sig"), f"{rel} on the base")
    except (YamlError, UnicodeDecodeError):
        return []
    if not isinstance(old_doc.data, Mapping) or not isinstance(doc.data, Mapping):
        return []
    old = {p: v for p, _, v in _leaves(old_doc.data, (), ())}
    new = {p: (at, v) for p, at, v in _leaves(doc.data, (), ())}
    shown = display(path)
    findings = []
    for key in sorted(old.keys() | new.keys(), key=_sort_key):
        if not counted(key) or (key in old and key in new and _same(old[key], new[key][1])):
            continue
        line = doc.locate(new[key][0] if key in new else _nearest(key, new)).line
        if key not in new:
            change = f"removed (was {_text(old[key])})"
        elif key not in old:
            change = f"added: {_text(new[key][1])}"
        else:
            change = f"{_text(old[key])} -> {_text(new[key][1])}"
        findings.append(Finding(Severity.WARNING, f"{what} {_dotted(key)} changed in this change: {change}", shown,
                                line, rule=RULE))
    if len(findings) > MAX_FINDINGS:
        rest = len(findings) - MAX_FINDINGS
        findings = [*findings[:MAX_FINDINGS], Finding(
            Severity.WARNING, f"… and {rest} more {what}s changed in this change (see the file's diff)", shown, 1,
            rule=RULE)]
    return findings


def _leaves(data: Any, path: Path_, at: Path_) -> Iterator[tuple[Path_, Path_, Any]]:
    """(path, where, value) of every leaf: `where` is its place in the document. A list of mappings is walked by
    each entry's identity (its `name`, else its `prompt`, `dataset` or `path`, else its place), so an entry added
    before another does not read as every later one changed; a list of plain values is one value."""
    if isinstance(data, Mapping):
        for key, value in data.items():
            yield from _leaves(value, (*path, str(key)), (*at, str(key)))
    elif isinstance(data, list) and data and all(isinstance(x, Mapping) for x in data):
        names = [_identity(x, i) for i, x in enumerate(data)]
        unique = len(set(names)) == len(names)
        for i, item in enumerate(data):
            yield from _leaves(item, (*path, names[i] if unique else i), (*at, i))
    else:
        yield path, at, data


def _identity(item: Mapping[str, Any], index: int) -> str | int:
    for key in ("name", "prompt", "dataset", "path"):
        value = item.get(key)
        if isinstance(value, str) and value:
            return value
    return index


def _same(a: Any, b: Any) -> bool:
    """Equal as settings: `true` is not 1, 1 is 1.0."""
    return type(a) is type(b) and a == b or (isinstance(a, (int, float)) and isinstance(b, (int, float))
                                             and not isinstance(a, bool) and not isinstance(b, bool) and a == b)


def _nearest(path: Path_, new: Mapping[Path_, tuple[Path_, Any]]) -> Path_:
    """Where a removed setting was: its closest parent that is still there (or the document's start)."""
    for size in range(len(path) - 1, 0, -1):
        for named, (at, _) in new.items():
            if named[:size] == path[:size]:
                return at[:size]
    return ()


def _text(value: Any) -> str:
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= SHOWN else text[:SHOWN] + "…"


def _dotted(path: Path_) -> str:
    return ".".join(str(p) for p in path)


def _sort_key(path: Path_) -> tuple[str, ...]:
    return tuple(str(p) for p in path)
