"""The failure taxonomy is one module: report.schema.json and every check's categories agree with it."""

from __future__ import annotations

import json
import re

from gate.taxonomy import PREFIXES, SECRET, Category, is_failure
from tests.conftest import REPO

SCHEMA = json.loads((REPO / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
# A category written out in a check's source (the locustfile too, which cannot import the gate).
_LITERAL = re.compile(r"""["']((?:[a-z]+)\.[a-z_]+)["']""")


def test_taxonomy_schema_enum_equals_the_module() -> None:
    assert SCHEMA["$defs"]["failure_category"]["enum"] == [c.value for c in Category]


def test_taxonomy_schema_pattern_takes_the_module_prefixes_and_secret_only() -> None:
    pattern = SCHEMA["$defs"]["finding"]["properties"]["category"]["pattern"]
    named = re.fullmatch(r"\^\((\w+)\|\(([\w|]+)\)\\\.\[a-z0-9_.-\]\+\)\$", pattern)
    assert named is not None, pattern
    assert named[1] == SECRET and tuple(f"{p}." for p in named[2].split("|")) == PREFIXES
    assert all(re.fullmatch(pattern, c.value) for c in Category)
    assert re.fullmatch(pattern, "output.tool_error") and not re.fullmatch(pattern, "network.timeout")


def test_taxonomy_every_category_a_check_writes_is_built_in() -> None:
    written = set()
    for path in (REPO / "checks").rglob("*.py"):
        written |= {m for m in _LITERAL.findall(path.read_text(encoding="utf-8")) if m.startswith(PREFIXES)}
    assert written and written <= {c.value for c in Category}, sorted(written - {c.value for c in Category})


def test_taxonomy_is_failure_prefixes_not_secret() -> None:
    assert is_failure("quality.judge") and is_failure("output.tool_error")
    assert not is_failure(SECRET) and not is_failure("qualityx.judge")
