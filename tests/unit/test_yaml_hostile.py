"""Hostile YAML in every kind of file the gate reads: an error at its line (exit 2 for the gate's own inputs,
a finding of the owning check for examined files), never a traceback, a hang or a silently passing gate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import gate

GATE = """version: 1
prompts: ["*.prompt.yml"]
models: models.yaml
cost:
  traffic: traffic.yaml
regression:
  target: {replay: c.jsonl}
  suites:
    - prompt: a.prompt.yml
      dataset: d.yaml
"""
FILES = {
    "gate.yaml": GATE,
    "a.prompt.yml": 'name: a\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n    content: "{{q}}"\n',
    "models.yaml": "models:\n  m:\n    provider: openai\n    model: gpt-4o-mini\n",
    "traffic.yaml": "profiles:\n  expected:\n    routes:\n      a: {prompt: a.prompt.yml, requests_per_month: 1000}\n",
    "d.yaml": "cases:\n  - id: a\n    q: hi\n",
    "c.jsonl": "",
}
# kind -> (the check that reads it, the exit code its defects give)
KINDS = {
    "gate.yaml": ("schema", 2),
    "traffic.yaml": ("cost", 2),
    "models.yaml": ("schema", 1),
    "a.prompt.yml": ("schema", 1),
    "d.yaml": ("regression", 1),
}
_BOMB = "".join(f"b{i}: &b{i} [" + ", ".join([f"*b{i - 1}"] * 10) + "]\n" for i in range(1, 7))
# (id, lines appended to the file, line of the block the error points at, a phrase of the message)
HOSTILE = [
    ("nested-500", "zz: " + "[" * 500 + "]" * 500 + "\n", 1, "nested deeper than 100 levels"),
    ("tag-int", "zz: !!int x\n", 1, "'x' is not a valid int"),
    ("tag-bool", "zz: !!bool x\n", 1, "'x' is not a valid bool"),
    ("tag-empty-int", "zz: !!int ''\n", 1, "'' is not a valid int"),
    ("nan", "zz: .nan\n", 1, ".nan is not a finite number"),
    ("minus-inf", "zz: {deep: [-.inf]}\n", 1, "-.inf is not a finite number"),
    ("alias-bomb", "b0: &b0 [x, x, x, x, x, x, x, x, x, x]\n" + _BOMB, 4, "alias bomb"),
    ("recursive-alias", "zz: &r [1, *r]\n", 1, "recursive alias"),
    ("control-character", 'zz: "a\x07"\n', 1, "#x0007 is not allowed"),
]


def _repo(tmp_path: Path, kind: str, block: str) -> int:
    """Writes the repository with block appended to kind; returns the line the block starts on."""
    for name, text in FILES.items():
        (tmp_path / name).write_text(text + (block if name == kind else ""), encoding="utf-8")
    return FILES[kind].count("\n") + 1


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize(("case", "block", "offset", "phrase"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_yaml_hostile_input_error_at_its_line(tmp_path: Path, kind: str, case: str, block: str, offset: int,
                                              phrase: str) -> None:
    line = _repo(tmp_path, kind, block) + offset - 1
    check, code = KINDS[kind]
    res = gate("check", "-c", "gate.yaml", "--only", check, "--format", "json", cwd=tmp_path)
    assert res.exit_code == code, res.stdout + res.stderr
    assert "Traceback" not in res.stderr
    if code == 2:
        lines = res.stderr.splitlines()
        assert lines[0].startswith(f"error: {kind}:{line}:"), lines[0]
        assert phrase in lines[0]
        return
    result = res.json()["checks"][0]
    assert result["name"] == check and result["status"] == "fail"
    found: list[dict[str, Any]] = [f for f in result["findings"] if f.get("file") == kind]
    assert found, result["findings"]
    assert found[0]["line"] == line and phrase in found[0]["message"]
    assert "\n" not in found[0]["message"]


def test_yaml_error_points_at_the_line_that_ended_a_block(tmp_path: Path) -> None:
    # An unindented `{system_content}` ends the `|` block; the scanner notices only on the next line.
    prompt = ("name: a\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: system\n    content: |\n      Be kind.\n"
              "{system_content}\n  - role: user\n    content: hi\n")
    _repo(tmp_path, "gate.yaml", "")
    (tmp_path / "a.prompt.yml").write_text(prompt, encoding="utf-8")
    res = gate("check", "-c", "gate.yaml", "--only", "schema", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1
    found = [f for f in res.json()["checks"][0]["findings"] if f.get("file") == "a.prompt.yml"]
    assert found[0]["line"] == 7 and "gave up at 8:" in found[0]["message"], found
