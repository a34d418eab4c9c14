"""The quick yes of gate.conforms against jsonschema itself: on valid documents and on mutated ones, a yes is
only ever given to a document jsonschema accepts, and the documents the project ships get the yes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from gate.conforms import compile_schema
from gate.schemas import _registry, load_schema, quick_check, schema_names

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "support-bot"


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _samples() -> dict[str, list[Any]]:
    gate = _yaml(EXAMPLE / "gate.yaml")
    out: dict[str, list[Any]] = {name: [] for name in schema_names()}
    out["gate"].append(gate)
    for section, value in gate.items():
        if f"gate-{section}" in out:
            out[f"gate-{section}"].append(value)
    out["models"].append(_yaml(EXAMPLE / "models.yaml"))
    out["traffic"].append(_yaml(EXAMPLE / "traffic.yaml"))
    out["prompt"].extend(_yaml(p) for p in sorted((EXAMPLE / "prompts").glob("*.prompt.yml")))
    # The reference report stands its clock readings in with `<clock>`: numbers again here.
    report = json.loads((REPO / "tests/fixtures/example-report/report.json").read_text().replace('"<clock>"', "1.5"))
    out["report"].append({**report, "started_at": "2026-12-01T00:00:00Z"})
    for line in (EXAMPLE / "datasets" / "answers.jsonl").read_text().splitlines()[:3]:
        out["dataset-case"].append(json.loads(line))
    return out


SAMPLES = _samples()


def _valid(name: str, value: Any) -> bool:
    validator = jsonschema.Draft202012Validator(load_schema(name), registry=_registry())
    return next(iter(validator.iter_errors(value)), None) is None


@pytest.mark.parametrize("name", schema_names())
def test_every_shipped_schema_has_a_quick_check(name: str) -> None:
    assert quick_check(name) is not None, f"{name}.schema.json uses a keyword gate.conforms does not judge"


@pytest.mark.parametrize("name", [n for n in schema_names() if SAMPLES.get(n)])
def test_the_shipped_documents_get_the_quick_yes(name: str) -> None:
    quick = quick_check(name)
    assert quick is not None
    for value in SAMPLES[name]:
        assert _valid(name, value)
        assert quick(value), f"a valid {name} document went the slow way"


@pytest.mark.parametrize(("schema", "value", "expected"), [
    ({"enum": [1, "a"]}, True, False),            # true is not 1
    ({"enum": [1, "a"]}, 1.0, True),              # 1.0 is 1
    ({"const": False}, 0, False),
    ({"type": "integer"}, 2.5, False),
    ({"type": "integer"}, 2.0, False),            # an integer to the draft: unsure, so no (jsonschema decides)
    ({"type": "number"}, True, False),
    ({"oneOf": [{"type": "string"}, {"minLength": 1}]}, "ab", False),  # both match: not exactly one
    ({"oneOf": [{"type": "string"}, {"type": "number"}]}, "ab", True),
    ({"not": {"type": "integer"}}, 3.0, False),   # unsure inside `not` stays a no, never a yes
    ({"uniqueItems": True}, ["a", "a"], False),
    ({"uniqueItems": True}, [1, True], False),    # unsure: left to jsonschema
    ({"additionalProperties": False, "properties": {"a": {}}}, {"a": 1, "b": 2}, False),
    ({"required": ["a"]}, {"b": 1}, False),
    ({"pattern": "^x"}, "yx", False),
    # Extension fields: a key a pattern names is checked by its schema and is not an "additional" one.
    ({"additionalProperties": False, "patternProperties": {"^x-": {}}}, {"x-anchors": {"a": 1}}, True),
    ({"additionalProperties": False, "patternProperties": {"^x-": {}}}, {"xanchors": 1}, False),
    ({"patternProperties": {"^n-": {"type": "integer"}}}, {"n-a": "one"}, False),
    ({"additionalProperties": {"type": "string"}, "patternProperties": {"^n-": {}}}, {"n-a": 1, "b": "s"}, True),
    ({"additionalProperties": {"type": "string"}, "patternProperties": {"^n-": {}}}, {"b": 1}, False),
    ({"minimum": 1}, "not a number", True),
])
def test_edge_cases_agree_with_the_draft(schema: dict[str, Any], value: Any, expected: bool) -> None:
    quick = compile_schema(schema, load_schema)
    assert quick is not None
    assert quick(value) is expected
    if expected:
        assert next(iter(jsonschema.Draft202012Validator(schema).iter_errors(value)), None) is None


def test_an_unknown_keyword_means_no_quick_check() -> None:
    assert compile_schema({"properties": {"a": {"dependentSchemas": {}}}}, load_schema) is None
    assert compile_schema({"$ref": "https://example.com/x.json"}, load_schema) is None


REPLACEMENTS: list[Any] = [None, True, False, 0, -1, 7, 1.0, 2.5, "", "x", "openai/gpt-4o", "p(95) < 3s", [], ["x"],
                           [1, 1], {}, {"a": 1}]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, prefix + (key,)))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            out.extend(_paths(child, prefix + (i,)))
    return out


def _mutants(value: Any) -> list[Any]:
    """Every place in the document replaced by each of REPLACEMENTS, deleted, and given an unknown sibling key
    (every place of a small document, a spread of 50 of a big one)."""
    out = []
    paths = _paths(value)
    for path in paths[:: max(1, len(paths) // 50)]:
        for new in [*REPLACEMENTS, "<delete>", "<add>"]:
            doc = copy.deepcopy(value)
            if not path:
                out.append(new)
                continue
            parent = doc
            for part in path[:-1]:
                parent = parent[part]
            if new == "<delete>":
                if not isinstance(parent, dict):
                    continue
                del parent[path[-1]]
            elif new == "<add>":
                if not isinstance(parent, dict):
                    continue
                parent[f"{path[-1]}_unknown"] = 1
            else:
                parent[path[-1]] = new
            out.append(doc)
    return out


@pytest.mark.parametrize("name", [n for n in schema_names() if SAMPLES.get(n)])
def test_a_quick_yes_is_always_a_jsonschema_yes(name: str) -> None:
    quick = quick_check(name)
    assert quick is not None
    valid = quick_yes = 0
    for original in SAMPLES[name]:
        for document in _mutants(original):
            ok = _valid(name, document)
            yes = quick(document)
            assert ok or not yes, f"the quick check accepted a {name} document jsonschema rejects: {document!r:.300}"
            valid += ok
            quick_yes += yes
    # Most valid variants go the quick way (the rest hold 1.0 where an integer is due, and the like).
    assert quick_yes >= 0.8 * valid
