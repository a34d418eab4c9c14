"""A JSON Schema the gate was given is judged by jsonschema once per content: a later process takes the verdict
from the user's cache without importing jsonschema; a planted verdict of the wrong type is judged again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from prodgate_checks.regression.config import schema_value

from gate.usercache import cache_dir, content_key, remembered_verdict, verdict_key

SCRIPT = """
import json, sys
from prodgate_checks.regression.config import schema_value
out = [schema_value(json.loads(s), None)[1] for s in sys.argv[1:]]
print(json.dumps({"problems": out, "imported": "jsonschema" in sys.modules}))
"""
SCHEMAS = [{"type": "object", "required": ["route"]}, {"type": 5}, {"$ref": "#/$defs/missing"}]


def test_schema_verdict_second_process_needs_no_jsonschema(tmp_path: Path) -> None:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run() -> dict[str, object]:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, *map(json.dumps, SCHEMAS)], env=env, capture_output=True,
                              text=True, check=True, timeout=120)
        result: dict[str, object] = json.loads(proc.stdout)
        return result

    first, second = run(), run()
    assert first["imported"] is True and second["imported"] is False
    assert first["problems"] == second["problems"]
    valid, invalid, dangling = second["problems"]  # type: ignore[misc]
    assert valid is None
    assert str(invalid).startswith("not a valid JSON Schema: 5 is not valid under any of the given schemas")
    assert str(dangling) == "$ref '#/$defs/missing' points to nothing in the schema"


def test_schema_verdict_key_ignores_key_order_not_content() -> None:
    assert content_key({"a": 1, "b": [2]}) == content_key({"b": [2], "a": 1}) != content_key({"a": 1, "b": [3]})
    # A key JSON would write as a string: two different values would share a verdict, so neither is cached.
    assert content_key({"properties": {1: {}}}) is None and content_key([{True: 1}]) is None
    deep: list[object] = []
    for _ in range(5000):
        deep = [deep]
    assert content_key(deep) is None and content_key({"x": float("nan")}) is None


@pytest.mark.parametrize("planted", [5, [], {"x": 1}, True])
def test_schema_verdict_planted_wrong_type_is_judged_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                          planted: object) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    schema = {"type": "string"}
    folder = cache_dir()
    assert folder is not None
    folder.mkdir(parents=True)
    calls: list[object] = []

    def judge(value: object) -> str | None:
        calls.append(value)
        return "judged"

    (folder / "v.json").write_text(json.dumps({verdict_key(schema, judge): planted}))

    assert remembered_verdict("v.json", schema, judge) == "judged" and calls == [schema]
    assert remembered_verdict("v.json", schema, judge) == "judged" and calls == [schema]  # now from the cache


def test_schema_verdict_same_problem_from_the_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = schema_value({"type": "nonsense"}, None)
    again = schema_value({"type": "nonsense"}, None)
    assert first == again and first[0] is None and "not a valid JSON Schema" in str(first[1])


def test_schema_verdict_given_by_other_code_is_judged_again(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    schema = {"type": "string", "$defs": {"a": {"$ref": "#/$defs/a"}}}
    folder = cache_dir()
    assert folder is not None
    folder.mkdir(parents=True)

    def judge(value: object) -> str | None:
        return "a loop"

    key = verdict_key(schema, judge)
    assert key is not None and key.endswith(str(content_key(schema)))
    # The verdict an older release (another size or time of the judging module) gave on the same content.
    stale = key.replace(key.split(":", 1)[0], f"{judge.__qualname__}@1.1")
    (folder / "v.json").write_text(json.dumps({stale: None}))
    assert remembered_verdict("v.json", schema, judge) == "a loop"
