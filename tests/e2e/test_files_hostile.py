"""Hostile JSON and odd line breaks in the files the regression check reads, through the real CLI: a finding or
an error at the file's line with the contract's exit code, never a RecursionError, and U+2028 is only text."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.providers.base import ChatMessage, Request, Response
from gate.providers.cassette import entry, write_cassette
from tests.conftest import gate

PROMPT = "name: p\nmodel: m\nmessages:\n  - role: user\n    content: '{{q}}'\n"
DEEP = "[" * 100_000 + "]" * 100_000
SUITE = "  target: {replay: c.jsonl}\n  suites:\n    - prompt: p.prompt.yml\n      dataset: d.jsonl\n"


def _repo(tmp_path: Path, answer: str = "hello", note: str | None = None) -> Path:
    (tmp_path / "p.prompt.yml").write_text(PROMPT, encoding="utf-8")
    variables = {"q": "hi"} if note is None else {"q": "hi", "note": note}
    (tmp_path / "d.jsonl").write_text(json.dumps({"id": "a", **variables}, ensure_ascii=False) + "\n", encoding="utf-8")
    asked = Request(messages=(ChatMessage("user", "hi"),), variables=variables, case_id="p/a")
    write_cassette(tmp_path / "c.jsonl", [entry(asked, Response(answer), "m")])
    config = tmp_path / "gate.yaml"
    config.write_text("version: 1\nregression:\n" + SUITE, encoding="utf-8")
    return config


def _deep_dataset(tmp_path: Path) -> str:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "q": "hi"}\n{"id": "b", "q": ' + DEEP + "}\n", encoding="utf-8")
    return "d.jsonl:2: invalid JSON: nested deeper than 100 levels"


def _nan_dataset(tmp_path: Path) -> str:
    (tmp_path / "d.jsonl").write_text('{"id": "a", "q": "hi", "metadata": {"w": NaN}}\n', encoding="utf-8")
    return "d.jsonl:1: invalid JSON: NaN is not a finite number"


def _deep_baseline(tmp_path: Path) -> str:
    (tmp_path / ".gate").mkdir()
    (tmp_path / ".gate" / "baseline.json").write_text('{"suites": ' + DEEP + "}", encoding="utf-8")
    return ".gate/baseline.json:None: .gate/baseline.json: not valid JSON: nested deeper than 100 levels"


def _deep_cassette(tmp_path: Path) -> str:
    (tmp_path / "c.jsonl").write_text('{"key": "k", "response": {"content": ' + DEEP + "}}\n", encoding="utf-8")
    return "c.jsonl:1: not a JSON object (nested deeper than 100 levels"


def _deep_schema_file(tmp_path: Path) -> str:
    (tmp_path / "s.json").write_text(DEEP, encoding="utf-8")
    config = tmp_path / "gate.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "      metrics: [{json_schema: s.json}]\n", encoding="utf-8")
    return "gate.yaml:7:31: s.json: not a JSON file: nested deeper than 100 levels"


# (file kind, how it is spoilt, the exit code its defect gives): examined files (a cassette too) are findings (1),
# a file gate.yaml names for the gate's own use is exit 2.
KINDS = [
    ("dataset-deep", _deep_dataset, 1),
    ("dataset-nan", _nan_dataset, 1),
    ("baseline-deep", _deep_baseline, 1),
    ("cassette-deep", _deep_cassette, 1),
    ("schema-file-deep", _deep_schema_file, 2),
]


@pytest.mark.parametrize(("kind", "spoil", "code"), KINDS, ids=[k[0] for k in KINDS])
def test_files_hostile_json_is_reported_at_its_file_and_line(tmp_path: Path, kind: str,
                                                             spoil: Callable[[Path], str], code: int) -> None:
    config = _repo(tmp_path)
    expected = spoil(tmp_path)
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == code, res.stdout + res.stderr
    assert "Traceback" not in res.stderr and "RecursionError" not in res.stdout + res.stderr
    if code == 2:
        assert res.stderr.splitlines()[0] == f"error: {expected}: line 1 column 101 (char 100)"
        return
    check = res.json()["checks"][0]
    said = [f"{f.get('file')}:{f.get('line')}: {f['message']}" for f in check["findings"]] + [check["summary"]]
    assert any(expected in s for s in said), said


def test_files_line_separators_in_a_recorded_answer_replay(tmp_path: Path) -> None:
    # The gate writes cassettes with ensure_ascii=False: U+2028 is written raw, inside a JSON string.
    answer = "one\u2028two\u2029three\x85four"
    config = _repo(tmp_path, answer=answer, note="x\u2028y")
    assert "\u2028" in (tmp_path / "c.jsonl").read_text(encoding="utf-8")
    assert "\u2028" in (tmp_path / "d.jsonl").read_text(encoding="utf-8")
    # Passes only if the answer replays whole (YAML's own escapes name the three characters).
    config.write_text(config.read_text(encoding="utf-8") + '      metrics: [{contains: "one\\u2028two\\u2029three\\x85four"}]\n',
                      encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", "--full-report", cwd=tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    check = res.json()["checks"][0]
    assert check["findings"] == [] and check["metrics"]["passed"] == 1
    [case] = check["details"]["suites"]["p"]["cases"]
    assert case["id"] == "a" and case["repeats"][0]["pass"] is True


def test_files_app_answer_nested_100000_deep_is_a_server_error(tmp_path: Path) -> None:
    from gate.providers.base import Category, ProviderError
    from gate.providers.command import CommandProvider

    (tmp_path / "app.py").write_text(f"print({DEEP!r})\n", encoding="utf-8")
    provider = CommandProvider([sys.executable, "app.py"], tmp_path, dict(os.environ))
    with pytest.raises(ProviderError) as info:
        provider.complete(Request(messages=(ChatMessage("user", "hi"),), variables={"q": "hi"}, case_id="a"))
    assert info.value.category is Category.SERVER_ERROR and "did not write JSON" in info.value.message
