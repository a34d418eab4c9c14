"""What `gate check` hands the action: step outputs it writes itself, and stdout no runner can take as a command."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, GitRepo, gate_subprocess
from tests.e2e.test_action_runner import parse_outputs


@pytest.fixture
def example(repo: GitRepo) -> GitRepo:
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".gate", "__pycache__"))
    repo.commit("the support bot")
    return repo


def test_action_check_format_json_stdout_has_no_workflow_command_yet_parses_the_same(example: GitRepo) -> None:
    prompt = example.path / "prompts" / "answer.prompt.yml"
    prompt.write_text(prompt.read_text() + '\n"::add-mask::leak": 1\n"##[error]x": 2\n"::stop-commands::t": 3\n')
    res = gate_subprocess("check", "--only", "schema", "--format", "json", cwd=example.path)
    assert res.exit_code == 1, res.stderr  # changed without a version bump
    assert "::" not in res.stdout and "##[" not in res.stdout
    messages = [f["message"] for f in res.json()["checks"][0]["findings"]]
    assert "unknown key '::add-mask::leak': gh-models ignores it" in messages
    assert "unknown key '##[error]x': gh-models ignores it" in messages


def test_action_check_github_output_writes_verdict_and_report_path(example: GitRepo, tmp_path: Path) -> None:
    output = tmp_path / "output"
    output.write_text("earlier=1\n")
    report = tmp_path / "out" / "gate-report.json"
    res = gate_subprocess("check", "--only", "schema", "--report-json", report, "--github-output",
                          cwd=example.path, env={"GITHUB_OUTPUT": str(output)})
    assert res.exit_code == 0, res.stderr
    assert parse_outputs(output.read_text()) == {"earlier": "1", "verdict": "pass", "report-path": str(report)}
    assert json.loads(report.read_text())["verdict"] == "pass"


def test_action_check_github_output_of_a_failing_gate_says_fail(example: GitRepo, tmp_path: Path) -> None:
    prompt = example.path / "prompts" / "classify.prompt.yml"
    prompt.write_text(prompt.read_text().replace("temperature: 0\n", "temperature: 0.2\n"))
    output = tmp_path / "output"
    res = gate_subprocess("check", "--only", "schema", "--github-output", cwd=example.path,
                          env={"GITHUB_OUTPUT": str(output), "GITHUB_BASE_REF": "main"})
    assert res.exit_code == 1, res.stderr
    assert parse_outputs(output.read_text()) == {"verdict": "fail", "report-path": ""}


def test_action_check_github_output_without_the_runner_file_is_a_usage_error(example: GitRepo) -> None:
    res = gate_subprocess("check", "--only", "schema", "--github-output", cwd=example.path)
    assert res.exit_code == 2
    assert "--github-output: GITHUB_OUTPUT is not set" in res.stderr
    assert "Traceback" not in res.stderr and res.stdout == ""
