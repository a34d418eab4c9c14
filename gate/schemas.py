"""The JSON Schemas shipped with prodgate, and validation errors that point at file:line:col."""

from __future__ import annotations

import difflib
import importlib.util
import json
import reprlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.conforms import Check, compile_schema
from gate.installed import version
from gate.redact import redact, secret_env_values
from gate.usercache import remembered_verdict, safe_name
from gate.yamlfile import JsonPath, Position, YamlDocument, format_path

if TYPE_CHECKING:  # imported where a document fails the quick check: most runs never need them
    import jsonschema
    from referencing import Registry

BASE_URI = "https://prodgate.dev/schemas/"
_SUFFIX = ".schema.json"


def _schema_dir() -> Path:
    # The installed package's folder, found by the import system (importlib.resources costs more to import
    # than every schema costs to read).
    spec = importlib.util.find_spec("gate._schemas")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        if Path(location).is_dir():
            return Path(location)
    # Running from a source tree that was never installed.
    return Path(__file__).resolve().parent.parent / "schemas"


def schema_names() -> list[str]:
    return sorted(p.name[: -len(_SUFFIX)] for p in _schema_dir().glob("*" + _SUFFIX))


@cache
def load_schema(name: str) -> dict[str, Any]:
    path = _schema_dir() / f"{name}{_SUFFIX}"
    if not path.is_file():
        raise KeyError(name)
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return schema


def bundled(name: str) -> dict[str, Any]:
    """The schema with every shipped schema it refers to inlined under `$defs`: one self-contained
    file an editor can use without fetching anything."""
    defs: dict[str, Any] = {}

    def rewrite(node: Any, prefix: str) -> Any:
        if isinstance(node, list):
            return [rewrite(v, prefix) for v in node]
        if not isinstance(node, dict):
            return node
        out = {k: rewrite(v, prefix) for k, v in node.items()}
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#"):
            out["$ref"] = prefix + ref[1:]
        elif isinstance(ref, str):
            file, _, pointer = ref.partition("#")
            if file.endswith(_SUFFIX) and file[: -len(_SUFFIX)] in schema_names():
                if file not in defs:
                    defs[file] = {}  # placed first, so a schema that refers back to itself terminates
                    inner = {k: v for k, v in load_schema(file[: -len(_SUFFIX)]).items() if k not in ("$id", "$schema")}
                    defs[file] = rewrite(inner, f"#/$defs/{file}")
                out["$ref"] = f"#/$defs/{file}{pointer}"
        return out

    root: dict[str, Any] = rewrite(load_schema(name), "#")
    if defs:
        root["$defs"] = {**root.get("$defs", {}), **defs}
    return root


@cache
def _registry() -> Registry:
    from referencing import Registry, Resource

    resources_ = [(BASE_URI + n + _SUFFIX, Resource.from_contents(load_schema(n))) for n in schema_names()]
    return Registry().with_resources(resources_)


@dataclass(frozen=True)
class Violation:
    path: JsonPath
    position: Position
    message: str

    def format(self, display: str) -> str:
        return f"{display}:{self.position.line}:{self.position.column}: {format_path(self.path)}: {self.message}"


_short = reprlib.Repr()
_short.maxstring = 60
_short.maxother = 60


@cache
def quick_check(name: str) -> Check | None:
    """A predicate that is true only for documents the shipped schema `name` accepts (see gate.conforms)."""
    return compile_schema(load_schema(name), load_schema)


@cache
def _jsonschema_release() -> str:
    return "-".join(safe_name(version(p) or "none") for p in ("jsonschema", "referencing", "jsonschema-specifications"))


def remembered_problem(kind: str, schema: Any, judge: Callable[[Any], str | None]) -> str | None:
    """judge(schema): why jsonschema cannot use a schema the gate was given, or None; remembered in the user's
    cache by the schema's content (per kind of judgement and jsonschema release), so a later run judging the
    same schema need not import jsonschema."""
    return remembered_verdict(f"{kind}-schemas-{_jsonschema_release()}.json", schema, judge)


def validate(doc: YamlDocument, schema: Mapping[str, Any] | str) -> list[Violation]:
    """Every violation of schema by doc.data, sorted by position."""
    quick = quick_check(schema) if isinstance(schema, str) else compile_schema(schema, load_schema)
    if quick is not None and quick(doc.data):
        return []
    if isinstance(schema, str):
        schema = load_schema(schema)
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema, registry=_registry())
    out = [_violation(doc, err) for err in _leaves(validator.iter_errors(doc.data))]
    unique = {(v.path, v.message): v for v in out}
    return sorted(unique.values(), key=lambda v: (v.position.line, v.position.column, v.message))


def _leaves(errors: Iterable[jsonschema.ValidationError]) -> Iterator[jsonschema.ValidationError]:
    for err in errors:
        if err.context and err.validator in ("anyOf", "oneOf") and not _worded(err):
            # The alternative whose type matched says most about what the user meant.
            typed = [e for e in err.context if not (e.validator == "type" and not e.relative_path)]
            if typed:
                yield from _leaves([max(typed, key=lambda e: len(e.relative_path))])
                continue
        yield err


def _worded(err: jsonschema.ValidationError) -> str | None:
    """What a schema says in words of a value it rejects (its `errorMessage`), rather than a regular expression."""
    message = err.schema.get("errorMessage") if isinstance(err.schema, dict) else None
    return message if isinstance(message, str) else None


def _violation(doc: YamlDocument, err: jsonschema.ValidationError) -> Violation:
    path: JsonPath = tuple(err.absolute_path)
    if err.validator == "additionalProperties" and isinstance(err.instance, dict):
        allowed = list((err.schema.get("properties") or {}) if isinstance(err.schema, dict) else [])
        extras = [k for k in err.instance if k not in allowed]
        key = extras[0] if extras else ""
        message = f"unknown key {key!r}"
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        if close:
            message += f" (did you mean {close[0]!r}?)"
        elif allowed:
            message += " (allowed: " + ", ".join(sorted(allowed)) + ")"
        return Violation(path + (key,), doc.locate(path + (key,), key=True), message)
    if err.validator == "required":
        return Violation(path, doc.locate(path), err.message.replace("is a required property", "is required"))
    if isinstance(err.instance, str) and any(str(p).endswith("_env") for p in path):
        # Likely a credential pasted where a variable's name belongs: never echoed, not even shortened.
        return Violation(path, doc.locate(path), "must name an environment variable (letters, digits, _), "
                                                 "not hold its value; the value is not shown")
    worded = _worded(err)
    if worded is not None:
        return Violation(path, doc.locate(path), f"{worded}, not {_short.repr(redact(err.instance, secret_env_values()))}")
    message = err.message
    if err.validator in ("type", "enum", "const", "minimum", "maximum", "exclusiveMinimum", "pattern", "format"):
        # Redacted before reprlib shortens it: a shortened key matches neither its shape nor its value.
        message = message.replace(repr(err.instance), _short.repr(redact(err.instance, secret_env_values())), 1)
    return Violation(path, doc.locate(path), message)
