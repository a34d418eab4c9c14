"""A quick yes for JSON Schema validation: most documents are valid, and proving that need not cost what
jsonschema's error reporting costs (it builds a validator object for every subschema it enters).

`compile_schema` turns a schema that uses only the common keywords into one predicate that answers as the
draft 2020-12 rules do. Where this module would be unsure (an `integer` written 1.0, an `enum` of lists), the
predicate answers no, and so does it for a schema with a keyword it does not know (it is then None): the
caller asks jsonschema, which gives the exact errors. So a yes skips jsonschema safely, and a no costs what
validation always cost.
tests/fuzz/test_conforms.py holds every shipped schema to that on generated documents."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sized
from typing import Any

Check = Callable[[Any], bool]

# Keywords that never make a document invalid (annotations), and `format`, which jsonschema only asserts when
# it is given a format checker (validation here never is).
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "definitions", "title", "description", "default",
                          "examples", "deprecated", "readOnly", "writeOnly", "format", "markdownDescription",
                          "errorMessage"})


class Unsupported(Exception):
    """The schema uses something this module does not judge: no quick path for it."""


class _Unsure(Exception):
    """This value is one the checks here do not judge exactly (raised inside, so that every yes and every no
    below is exact and `not` and `oneOf` can be judged too)."""


def _integer(v: Any) -> bool:
    if type(v) is float and v.is_integer():
        raise _Unsure  # an integer to the draft, and jsonschema words its errors about it best
    return type(v) is int


_TYPES: dict[str, Check] = {
    "null": lambda v: v is None,
    "boolean": lambda v: v is True or v is False,
    "object": lambda v: type(v) is dict,
    "array": lambda v: type(v) is list,
    "string": lambda v: type(v) is str,
    "integer": _integer,
    "number": lambda v: type(v) is int or type(v) is float,
}


# Size keywords: the JSON type each bounds (by len: code points, items, members), and whether from below.
_SIZES: dict[str, tuple[type[Sized], bool]] = {
    "minProperties": (dict, True), "maxProperties": (dict, False), "minItems": (list, True),
    "maxItems": (list, False), "minLength": (str, True), "maxLength": (str, False)}


def _size(key: str, value: Any) -> Check:
    if type(value) is not int:
        raise Unsupported(key)
    kind, floor = _SIZES[key]
    if floor:
        return lambda v: type(v) is not kind or len(v) >= value
    return lambda v: type(v) is not kind or len(v) <= value


def compile_schema(schema: Mapping[str, Any] | bool, resolve: Callable[[str], Mapping[str, Any]]) -> Check | None:
    """A predicate that is true only for documents the schema accepts, or None when the schema uses a keyword
    this module does not know. `resolve(name)` returns the shipped schema a `$ref` to `name.schema.json` means."""
    try:
        check = _Compiler(resolve).compile(schema, schema)
    except Unsupported:
        return None

    def conforms(value: Any) -> bool:
        try:
            return check(value)
        except (_Unsure, RecursionError):
            return False
    return conforms


def _pointer(root: Any, pointer: str) -> Any:
    node = root
    for raw in pointer.lstrip("/").split("/") if pointer.strip("/") else []:
        part = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise Unsupported(f"$ref #{pointer} points at nothing")
    return node


def _number(v: Any) -> bool:
    return type(v) is int or type(v) is float


def _same(a: Any, b: Any) -> bool:
    """Equal as JSON values: `true` is not 1, 1 is 1.0; containers are left to jsonschema."""
    if isinstance(a, (dict, list)) or isinstance(b, (dict, list)):
        raise _Unsure
    if _number(a) and _number(b):
        return bool(a == b)
    return type(a) is type(b) and bool(a == b)


def _regex(pattern: Any, keyword: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except (re.error, TypeError):
        raise Unsupported(keyword) from None


class _Compiler:
    def __init__(self, resolve: Callable[[str], Mapping[str, Any]]) -> None:
        self.resolve = resolve
        # (root's id, pointer) -> its check; a placeholder list first, so recursive references terminate.
        self.refs: dict[tuple[int, str], list[Check]] = {}
        self.roots: list[Any] = []  # kept alive, so their ids stay theirs

    def compile(self, schema: Any, root: Any) -> Check:
        if schema is True:
            return lambda v: True
        if schema is False:
            return lambda v: False
        if not isinstance(schema, Mapping):
            raise Unsupported("a schema is an object or a boolean")
        checks: list[Check] = []
        for key, value in schema.items():
            if key in _ANNOTATIONS:
                continue
            checks.append(self._keyword(key, value, schema, root))
        if not checks:
            return lambda v: True
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    def _keyword(self, key: str, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if key in _SIZES:
            return _size(key, value)
        method = getattr(self, "_kw_" + key.lstrip("$"), None)
        if method is None:
            raise Unsupported(key)
        check: Check = method(value, schema, root)
        return check

    def _kw_ref(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if not isinstance(value, str):
            raise Unsupported("$ref")
        file, _, pointer = value.partition("#")
        if file:
            if not file.endswith(".schema.json") or "/" in file:
                raise Unsupported(f"$ref {value}")
            try:
                root = self.resolve(file[: -len(".schema.json")])
            except KeyError:
                raise Unsupported(f"$ref {value}") from None
        key = (id(root), pointer)
        if key not in self.refs:
            self.roots.append(root)
            slot: list[Check] = []
            self.refs[key] = slot
            slot.append(self.compile(_pointer(root, pointer), root))
        target = self.refs[key]
        return lambda v: target[0](v)

    def _kw_type(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(n, str) and n in _TYPES for n in names):
            raise Unsupported("type")
        tests = [_TYPES[n] for n in names]
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(test(v) for test in tests)

    def _kw_properties(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if not isinstance(value, Mapping):
            raise Unsupported("properties")
        props = {name: self.compile(sub, root) for name, sub in value.items()}

        def check(v: Any) -> bool:
            if type(v) is not dict:
                return True
            for name, sub in props.items():
                if name in v and not sub(v[name]):
                    return False
            return True
        return check

    def _kw_patternProperties(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if not isinstance(value, Mapping):
            raise Unsupported("patternProperties")
        pairs = [(_regex(pattern, "patternProperties"), self.compile(sub, root)) for pattern, sub in value.items()]

        def check(v: Any) -> bool:
            if type(v) is not dict:
                return True
            for name, item in v.items():
                if type(name) is not str:
                    raise _Unsure  # a YAML key that JSON would not have: left to jsonschema
                if not all(sub(item) for rx, sub in pairs if rx.search(name)):
                    return False
            return True
        return check

    def _kw_additionalProperties(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        known = frozenset(schema.get("properties") or ())
        patterns = [_regex(p, "patternProperties") for p in schema.get("patternProperties") or ()]

        def other(name: Any) -> bool:
            if name in known:
                return False
            if patterns and type(name) is not str:
                raise _Unsure
            return not any(rx.search(name) for rx in patterns)
        if value is False:
            if not patterns:
                return lambda v: type(v) is not dict or known.issuperset(v)
            return lambda v: type(v) is not dict or not any(other(name) for name in v)
        sub = self.compile(value, root)
        return lambda v: type(v) is not dict or all(sub(item) for name, item in v.items() if other(name))

    def _kw_required(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if not isinstance(value, list):
            raise Unsupported("required")
        names = tuple(value)
        return lambda v: type(v) is not dict or all(name in v for name in names)

    def _kw_items(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if "prefixItems" in schema or not isinstance(value, (Mapping, bool)):
            raise Unsupported("items")
        sub = self.compile(value, root)
        return lambda v: type(v) is not list or all(sub(item) for item in v)

    def _kw_uniqueItems(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if value is not True:
            return lambda v: True

        def check(v: Any) -> bool:
            if type(v) is not list:
                return True
            if not all(type(item) is str for item in v):
                raise _Unsure  # 1 and 1.0, true and 1, equal containers: left to jsonschema
            return len(set(v)) == len(v)
        return check

    def _kw_enum(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        if not isinstance(value, list):
            raise Unsupported("enum")
        options = list(value)
        return lambda v: any(_same(v, option) for option in options)

    def _kw_const(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        return lambda v: _same(v, value)

    def _bound(self, value: Any, name: str) -> float:
        if not _number(value):
            raise Unsupported(name)
        return float(value) if type(value) is float else value

    def _kw_minimum(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        bound = self._bound(value, "minimum")
        return lambda v: not _number(v) or v >= bound

    def _kw_maximum(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        bound = self._bound(value, "maximum")
        return lambda v: not _number(v) or v <= bound

    def _kw_exclusiveMinimum(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        bound = self._bound(value, "exclusiveMinimum")
        return lambda v: not _number(v) or v > bound

    def _kw_exclusiveMaximum(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        bound = self._bound(value, "exclusiveMaximum")
        return lambda v: not _number(v) or v < bound

    def _kw_pattern(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        compiled = _regex(value, "pattern")
        return lambda v: type(v) is not str or compiled.search(v) is not None

    def _kw_allOf(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        subs = self._list(value, root, "allOf")
        return lambda v: all(sub(v) for sub in subs)

    def _kw_anyOf(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        subs = self._list(value, root, "anyOf")
        return lambda v: any(sub(v) for sub in subs)

    def _kw_oneOf(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        subs = self._list(value, root, "oneOf")
        return lambda v: sum(1 for sub in subs if sub(v)) == 1

    def _kw_not(self, value: Any, schema: Mapping[str, Any], root: Any) -> Check:
        sub = self.compile(value, root)
        return lambda v: not sub(v)

    def _list(self, value: Any, root: Any, name: str) -> list[Check]:
        if not isinstance(value, list) or not value:
            raise Unsupported(name)
        return [self.compile(sub, root) for sub in value]
