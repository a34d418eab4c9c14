"""The Action takes the gate's outputs only as the gate writes them (gate/action_guard.py)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from gate.action_guard import main, outputs_of
from gate.github.workflow import write_outputs


def _written(tmp_path: Path, values: dict[str, str]) -> Path:
    path = tmp_path / "outputs"
    path.write_text("", encoding="utf-8")
    write_outputs(path, values)  # the gate's own writer
    return path


@pytest.mark.parametrize(("code", "verdict"), [("0", "pass"), ("0", "warn"), ("1", "fail"), ("3", "error")])
def test_action_guard_gate_outputs_agreeing_with_the_exit_code_give_the_verdict(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], code: str, verdict: str) -> None:
    path = _written(tmp_path, {"verdict": verdict, "report-path": "/t/r.json"})
    assert main([str(path), code]) == 0
    assert capsys.readouterr().out == f"{verdict}\n/t/r.json\n"


def test_action_guard_anything_else_in_the_file_is_refused(tmp_path: Path) -> None:
    path = _written(tmp_path, {"verdict": "fail", "report-path": "/t/r.json"})
    text = path.read_text(encoding="utf-8")
    assert outputs_of(text, "1") == ("fail", "/t/r.json")
    assert outputs_of(text + "verdict=pass\n", "1") is None  # a line appended by code the gate ran
    assert outputs_of("verdict=pass\n" + text, "1") is None
    delim = f"ghadelimiter_{uuid.uuid4()}"
    assert outputs_of(text + f"verdict<<{delim}\npass\n{delim}\n", "1") is None  # a second verdict
    assert outputs_of(text, "0") is None  # a failing verdict with a passing exit code
    assert outputs_of(text.replace("fail", "pass"), "1") is None
    assert main([str(tmp_path / "missing"), "0"]) == 1


def test_action_guard_a_gate_that_wrote_nothing_before_it_stopped_is_an_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "outputs"
    path.write_text("", encoding="utf-8")
    assert main([str(path), "2"]) == 0 and capsys.readouterr().out == "error\n\n"
    assert main([str(path), "0"]) == 1  # a pass must come with the gate's own words
