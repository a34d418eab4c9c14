"""Safe YAML loading that keeps the line and column of every value and refuses hostile input."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

MAX_BYTES = 10 * 1024 * 1024
# After alias expansion: bounds time and memory against "billion laughs" documents.
MAX_NODES = 1_000_000

_MERGE_TAG = "tag:yaml.org,2002:merge"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"

JsonPath = tuple[str | int, ...]
# libyaml's parser is ~10x faster and gives the same nodes and marks; the pure one is the fallback.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Position:
    line: int
    column: int


class YamlError(Exception):
    """A file that cannot be read as YAML; str() is the one-line message with file:line:col."""

    def __init__(self, file: str, message: str, line: int | None = None, column: int | None = None):
        self.file = file
        self.line = line
        self.column = column
        self.problem = message
        where = file if line is None else f"{file}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class YamlDocument:
    display: str
    data: Any
    positions: Mapping[JsonPath, Position]
    key_positions: Mapping[JsonPath, Position]

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


def read_text(path: Path, display: str, *, max_bytes: int = MAX_BYTES) -> str:
    """Read a UTF-8 text file, turning every OS and encoding problem into a YamlError."""
    try:
        if path.is_dir():
            raise YamlError(display, "is a directory, not a file")
        size = path.stat().st_size
        if size > max_bytes:
            raise YamlError(display, f"file is {size / 1e6:.1f} MB, larger than the {max_bytes // 2**20} MiB limit")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise YamlError(display, "file not found") from None
    except PermissionError:
        raise YamlError(display, "permission denied") from None
    except OSError as exc:
        raise YamlError(display, exc.strerror or str(exc)) from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise YamlError(display, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", line, column) from None


def load_yaml(path: Path, display: str | None = None, *, max_nodes: int = MAX_NODES) -> YamlDocument:
    display = display or str(path)
    return parse_yaml(read_text(path, display), display, max_nodes=max_nodes)


def parse_yaml(text: str, display: str, *, max_nodes: int = MAX_NODES) -> YamlDocument:
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if mark is None:
            raise YamlError(display, f"invalid YAML: {problem}") from None
        raise YamlError(display, f"invalid YAML: {problem}", mark.line + 1, mark.column + 1) from None
    except yaml.YAMLError as exc:
        raise YamlError(display, f"invalid YAML: {exc}") from None
    builder = _Builder(display, max_nodes)
    data = None if node is None else builder.build(node, ())
    return YamlDocument(display, data, builder.positions, builder.key_positions)


class _Builder:
    def __init__(self, display: str, max_nodes: int) -> None:
        self.display = display
        self.max_nodes = max_nodes
        self.count = 0
        self.positions: dict[JsonPath, Position] = {}
        self.key_positions: dict[JsonPath, Position] = {}
        self.constructor = yaml.constructor.SafeConstructor()

    def _error(self, node: yaml.Node, message: str) -> YamlError:
        return YamlError(self.display, message, node.start_mark.line + 1, node.start_mark.column + 1)

    def build(self, node: yaml.Node, path: JsonPath) -> Any:
        self.count += 1
        if self.count > self.max_nodes:
            raise self._error(node, f"more than {self.max_nodes:,} values after expanding aliases (alias bomb?)")
        self.positions[path] = Position(node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
        return self._scalar(node)

    def _scalar(self, node: yaml.Node) -> Any:
        if node.tag == _TIMESTAMP_TAG:
            # Dates stay the text the user wrote: every consumer here expects JSON types.
            return node.value
        try:
            return self.constructor.construct_object(node, deep=True)
        except yaml.constructor.ConstructorError as exc:
            raise self._error(node, f"invalid YAML: {exc.problem}") from None

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
