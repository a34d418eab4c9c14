"""Safe YAML loading that keeps the line and column of every value and refuses hostile input."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from gate.files import FileError, read_text

# After alias expansion: bounds time and memory against "billion laughs" documents. A document may expand to
# EXPANSION times its own size (plus SLACK), never more than MAX_NODES: a 7-line prompt cannot become a million.
MAX_NODES = 1_000_000
EXPANSION = 10
SLACK = 10_000
# Nesting deeper than this is an error at its line: the builder recurses, and so do the checks reading the data.
MAX_DEPTH = 100
# Documents kept per process: a repository of a few thousand prompts is parsed once, whichever check reads it.
_CACHE_SIZE = 4096

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

JsonPath = tuple[str | int, ...]
# libyaml's parser is ~10x faster and gives the same nodes and marks; the pure one is the fallback.
_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Core12Loader(_BASE_LOADER):  # type: ignore[misc,valid-type]
    """Plain scalars resolved by YAML 1.2's core schema, as gh-models (Go's yaml.v3) and GitHub Actions read
    them: `yes`, `no`, `on`, `off` and `NO` stay text, `12:30` is no base-60 number, `010` is ten, dates stay
    text; only true/false, null/~, decimal, 0o and 0x integers and floats are anything but a string."""

    yaml_implicit_resolvers: dict[str | None, list[tuple[str, re.Pattern[str]]]] = {}


for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    ("tag:yaml.org,2002:float", r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                                r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+.0123456789")),
    (_MERGE_TAG, r"^<<$", ["<"]),
):
    _Core12Loader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
_LOADER = _Core12Loader
_INT_TAG = "tag:yaml.org,2002:int"
_STR_TAG = "tag:yaml.org,2002:str"


class Position(NamedTuple):
    # A tuple: a prompt file has a few dozen of them, and a frozen dataclass costs twice as much to make.
    line: int
    column: int


# A YAML problem is a problem of the file: one error type for reading and parsing, with file:line:col.
YamlError = FileError


@dataclass(frozen=True)
class YamlDocument:
    display: str
    data: Any
    positions: Mapping[JsonPath, Position]
    key_positions: Mapping[JsonPath, Position]
    # The text of each plain scalar that is not read as a string (`equals: 3.10`, `contains: true`): what a
    # reader that wants text (gh-models decoding into a string field) sees, where str() of the value differs.
    texts: Mapping[JsonPath, str] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int], *, key: bool = False) -> Position:
        """Position of the value at path (or of its key), else of its nearest located parent."""
        p = tuple(path)
        if key and p in self.key_positions:
            return self.key_positions[p]
        while p:
            if p in self.positions:
                return self.positions[p]
            p = p[:-1]
        return self.positions.get((), Position(1, 1))


def format_path(path: Sequence[str | int]) -> str:
    out = "$"
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += "[" + repr(part) + "]"
    return out


def load_yaml(path: Path, display: str | None = None, *, max_nodes: int = MAX_NODES) -> YamlDocument:
    display = display or str(path)
    return parse_yaml(read_text(path, display), display, max_nodes=max_nodes)


_cache: dict[tuple[bytes, int], YamlDocument | YamlError] = {}


def parse_yaml(text: str, display: str, *, max_nodes: int = MAX_NODES) -> YamlDocument:
    """The document, or a YamlError at file:line:col. The same text is parsed once per process, however many
    checks read it and under whatever name (the result, and its data, are shared: read-only)."""
    key = (hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest(), max_nodes)
    found = _cache.get(key)
    if found is None:
        try:
            found = _parse(text, display, max_nodes)
        except YamlError as exc:
            found = exc
        if len(_cache) >= _CACHE_SIZE:
            del _cache[next(iter(_cache))]
        _cache[key] = found
    if isinstance(found, YamlError):
        raise YamlError(display, found.problem, found.line, found.column)
    return found if found.display == display else replace(found, display=display)


def _parse(text: str, display: str, max_nodes: int) -> YamlDocument:
    node = _compose(text, display)
    if node is None:
        return YamlDocument(display, None, {}, {})
    if "&" in text:
        # Only anchors make a node count twice: without one, the document is a tree no larger than its text,
        # and the builder's own depth check is enough.
        _measure(node, display, max_nodes)
    builder = _Builder(display)
    try:
        data = builder.build(node, ())
    except RecursionError:  # _measure bounds the depth; this is the last line of defence
        raise _error(display, node, f"nested deeper than {MAX_DEPTH} levels") from None
    return YamlDocument(display, data, builder.positions, builder.key_positions, builder.texts)


def _compose(text: str, display: str) -> yaml.Node | None:
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=_LOADER)
        return node
    except yaml.MarkedYAMLError as exc:
        problem = exc.problem or exc.context or "invalid YAML"
        mark = exc.problem_mark or exc.context_mark
        if exc.context and exc.context.startswith("while scanning") and exc.context_mark is not None \
                and exc.problem_mark is not None and exc.context_mark.line < exc.problem_mark.line:
            # The scanner gives up where it noticed (often the next line); the token it was reading starts at
            # the context mark, which is the line to fix (e.g. an unindented line that ended a `|` block).
            gave_up = f"{exc.problem_mark.line + 1}:{exc.problem_mark.column + 1}"
            problem = f"{problem} ({exc.context} that starts here; the parser gave up at {gave_up})"
            mark = exc.context_mark
        if mark is None:
            raise YamlError(display, f"invalid YAML: {problem}") from None
        raise YamlError(display, f"invalid YAML: {problem}", mark.line + 1, mark.column + 1) from None
    except yaml.reader.ReaderError as exc:
        line, column = _line_col(text, exc.position)
        what = f"character #x{exc.character:04x}" if isinstance(exc.character, int) else "a byte"
        raise YamlError(display, f"invalid YAML: {what} is not allowed (a control or non-printable character)", line,
                        column) from None
    except yaml.YAMLError as exc:
        raise YamlError(display, f"invalid YAML: {exc}") from None
    except RecursionError:
        raise YamlError(display, f"invalid YAML: nested deeper than {MAX_DEPTH} levels") from None


def _line_col(text: str, position: int) -> tuple[int, int]:
    line = text.count("\n", 0, position) + 1
    return line, position - (text.rfind("\n", 0, position) + 1) + 1


def _error(display: str, node: yaml.Node, message: str) -> YamlError:
    return YamlError(display, message, node.start_mark.line + 1, node.start_mark.column + 1)


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def _measure(root: yaml.Node, display: str, max_nodes: int) -> None:
    """Check depth and size after alias expansion on the node graph, before anything is built: a shared
    (aliased) node is measured once, so a billion-laughs document costs no more than its own length."""
    measured: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)
    open_nodes: set[int] = set()  # ancestors of the node being measured: an alias to one is a cycle
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        key = id(node)
        if done:
            open_nodes.discard(key)
            sizes = [measured[id(c)] for c in _children(node)]
            measured[key] = (1 + sum(s for s, _ in sizes), 1 + max((h for _, h in sizes), default=0))
            continue
        if key in measured:
            if depth + measured[key][1] - 1 > MAX_DEPTH:
                raise _error(display, node, f"nested deeper than {MAX_DEPTH} levels (through an alias)")
            continue
        if key in open_nodes:
            raise _error(display, node, "an alias refers to the value that contains it (a recursive alias)")
        if depth > MAX_DEPTH:
            raise _error(display, node, f"nested deeper than {MAX_DEPTH} levels")
        open_nodes.add(key)
        stack.append((node, depth, True))
        stack.extend((child, depth + 1, False) for child in _children(node))
    limit = min(max_nodes, SLACK + EXPANSION * len(measured))
    if measured[id(root)][0] <= limit:
        return
    # Point at the innermost value that is too large on its own: the line that multiplies.
    node = root
    while True:
        bigger = [c for c in _children(node) if measured[id(c)][0] > limit]
        if not bigger:
            break
        node = bigger[0]
    raise _error(display, node, f"more than {limit:,} values after expanding aliases (an alias bomb?)")


class _Builder:
    def __init__(self, display: str) -> None:
        self.display = display
        self.positions: dict[JsonPath, Position] = {}
        self.key_positions: dict[JsonPath, Position] = {}
        self.texts: dict[JsonPath, str] = {}
        self.constructor = yaml.constructor.SafeConstructor()

    def _error(self, node: yaml.Node, message: str) -> YamlError:
        return _error(self.display, node, message)

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        if len(path) >= MAX_DEPTH:
            raise self._error(node, f"nested deeper than {MAX_DEPTH} levels")
        self.positions[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        value = self._scalar(node)
        if value is not None and not isinstance(value, str) and not getattr(node, "style", None):  # plain: None or ""
            self.texts[path] = str(node.value)
        return value

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _STR_TAG:  # most values: the text itself, as the constructor would return it
            return node.value
        if node.tag == _TIMESTAMP_TAG:
            # Dates stay the text the user wrote: every consumer here expects JSON types.
            return node.value
        if node.tag == _INT_TAG and isinstance(node.value, str):
            return self._int(node)
        try:
            value = self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise self._error(node, f"invalid YAML: {exc.problem}") from None
        except (ValueError, KeyError, IndexError, TypeError, OverflowError):
            # PyYAML's constructors trust the tag: `!!int x`, `!!bool x`, `!!int ''` fail inside them.
            raise self._error(node, f"invalid YAML: {str(node.value)[:40]!r} is not a valid {node.tag.rsplit(':', 1)[-1]}") \
                from None
        if isinstance(value, float) and not math.isfinite(value):
            # `.nan` and `.inf` compare false with every bound a schema sets: a gate would silently pass.
            raise self._error(node, f"{node.value} is not a finite number")
        return value

    def _int(self, node: yaml.Node) -> int:
        # YAML 1.2: a leading zero is decimal (PyYAML would read `010` as octal 8), 0o is octal, 0x hex.
        text = str(node.value)
        try:
            if text[:2] in ("0o", "0x"):
                return int(text[2:], 8 if text[1] == "o" else 16)
            return int(text, 10)
        except ValueError:
            raise self._error(node, f"invalid YAML: {str(node.value)[:40]!r} is not a valid int") from None

    def _key(self, node: yaml.Node) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self._error(node, "a mapping key must be a plain value, not a list or mapping")
        # YAML 1.1 turns `on:`/`yes:`/`1:` into bools and ints; keep the text as written.
        return str(node.value)

    def _mapping(self, node: yaml.MappingNode, path: JsonPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        merged: list[dict[str, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                value = self.build(value_node, path)
                items = value if isinstance(value, list) else [value]
                if not all(isinstance(v, dict) for v in items):
                    raise self._error(value_node, "a `<<` merge needs a mapping or a list of mappings")
                merged.extend(items)
                continue
            key = self._key(key_node)
            if key in out:
                raise self._error(key_node, f"duplicate key {key!r}")
            self.key_positions[path + (key,)] = Position(key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = self.build(value_node, path + (key,))
        for source in merged:
            for key, value in source.items():
                out.setdefault(key, value)
        return out
