"""action.yml, the example workflows and the pre-commit hook: valid, pinned, least privilege, zizmor-clean."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.test_action_runner import ACTION, ROOT, load_action

BIN = Path(sys.executable).parent
EXAMPLE_WORKFLOW = ROOT / "examples" / "workflows" / "gate.yml"
COMMENT_WORKFLOW = ROOT / "examples" / "workflows" / "gate-comment.yml"
INIT_WORKFLOW = ROOT / "gate" / "templates" / "init" / "github" / "workflows" / "gate.yml"
HOOKS = ROOT / ".pre-commit-hooks.yaml"
WORKFLOWS = (EXAMPLE_WORKFLOW, INIT_WORKFLOW, COMMENT_WORKFLOW)
# Third-party actions and the commits their tags named when pinned (read from each repository's tags).
VERIFIED = {
    "actions/checkout": ("3d3c42e5aac5ba805825da76410c181273ba90b1", "v7.0.1"),
    "actions/setup-python": ("5fda3b95a4ea91299a34e894583c3862153e4b97", "v7.0.0"),
    "actions/cache/restore": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/cache/save": ("27d5ce7f107fe9357f9df03efb73ab90386fccae", "v5.0.5"),
    "actions/upload-artifact": ("bbbca2ddaa5d8feaa63e36b76fdaad77386f024f", "v7.0.0"),
    "actions/download-artifact": ("3e5f45b2cfb9172054b4087a40e8e0b5a5461e7c", "v8.0.1"),
    "github/codeql-action/upload-sarif": ("8aad20d150bbac5944a9f9d289da16a4b0d87c1e", "v4.36.2"),
}


def tool(name: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    exe = BIN / name
    assert exe.exists(), f"{name} is a test dependency: pip install -e '.[test]'"
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=120, check=False,
                          cwd=ROOT)


def workflow(path: Path) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def uses_lines(path: Path) -> list[str]:
    return re.findall(r"^\s*(?:-\s+)?uses:\s*(.+)$", path.read_text(encoding="utf-8"), re.MULTILINE)


def test_action_metadata_validates_against_github_actions_schema() -> None:
    res = tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", ACTION)
    assert res.returncode == 0 and "ok -- validation done" in res.stdout, res.stdout + res.stderr


def test_action_metadata_schema_rejects_a_misspelt_key(tmp_path: Path) -> None:
    broken = tmp_path / "action.yml"
    broken.write_text(ACTION.read_text().replace("\nruns:\n", "\nrunz:\n"))
    res = tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", broken)
    assert res.returncode == 1 and "runs" in res.stdout


def test_action_workflows_validate_against_github_workflows_schema() -> None:
    res = tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    assert res.returncode == 0 and "ok -- validation done" in res.stdout, res.stdout + res.stderr


def test_action_zizmor_reports_nothing() -> None:
    res = tool("zizmor", "--offline", "--strict-collection", "--no-progress", ACTION, *WORKFLOWS, HOOKS)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "No findings to report" in res.stdout


def test_action_zizmor_would_catch_an_expression_in_a_script(tmp_path: Path) -> None:
    bad = tmp_path / "action.yml"
    bad.write_text(ACTION.read_text().replace('args=(check --config "$CONFIG"', 'args=(check --config "${{ inputs.config }}"'))
    res = tool("zizmor", "--offline", "--no-progress", bad)
    assert res.returncode != 0 and "template-injection" in res.stdout


def test_action_run_scripts_have_no_expressions_and_parse_as_bash() -> None:
    for step in load_action()["runs"]["steps"]:
        if "run" not in step:
            continue
        assert "${{" not in step["run"], step["name"]
        assert step["shell"] == "bash"
        res = subprocess.run(["bash", "-n"], input=step["run"], capture_output=True, text=True, check=False)
        assert res.returncode == 0, f"{step['name']}: {res.stderr}"


def test_action_third_party_actions_pinned_to_verified_commits() -> None:
    for path in (ACTION, *WORKFLOWS):
        for line in uses_lines(path):
            m = re.fullmatch(r"([\w.-]+/[\w./-]+)@([0-9a-f]{40}) # (\S+).*", line.strip())
            assert m, f"{path.name}: not pinned to a full commit SHA with its tag: {line}"
            name, sha, tag = m.groups()
            if name == "prodgate/prodgate":
                continue
            assert VERIFIED[name] == (sha, tag), f"{path.name}: {name}@{sha} # {tag}"


def test_action_inputs_and_outputs_are_documented() -> None:
    action = load_action()
    assert set(action["inputs"]) == {"config", "checks", "skip", "working-directory", "base-ref", "python-version",
                                     "github-token", "comment", "fail-on", "cache", "extras", "extra-args",
                                     "allow-untrusted-code", "sarif"}
    assert set(action["outputs"]) == {"verdict", "report-path", "comment-url", "monthly-cost"}
    for spec in [*action["inputs"].values(), *action["outputs"].values()]:
        assert len(spec["description"]) > 20
    assert action["inputs"]["github-token"]["default"] == "${{ github.token }}"
    check = next(s for s in action["runs"]["steps"] if s.get("id") == "check")
    assert check["env"]["DEEPEVAL_TELEMETRY_OPT_OUT"] == "1"


def test_action_workflows_least_privilege_full_history() -> None:
    for path in (EXAMPLE_WORKFLOW, INIT_WORKFLOW):
        flow = workflow(path)
        assert flow["permissions"] == {}
        job = flow["jobs"]["gate"]
        assert job["permissions"] == {"contents": "read", "pull-requests": "write"}
        checkout = job["steps"][0]
        assert checkout["with"] == {"fetch-depth": 0, "persist-credentials": False}
        assert set(flow[True]) == {"pull_request"}  # YAML 1.1 reads the key `on` as True
        # The action hands the token to its comment step alone; the gate step gets none by default.
        gate_step = next(s for s in job["steps"] if s.get("id") == "gate")
        assert "env" not in gate_step and "github.token" not in str(gate_step)


def test_action_comment_workflow_never_touches_the_pull_requests_code() -> None:
    flow = workflow(COMMENT_WORKFLOW)
    assert flow[True] == {"workflow_run": {"workflows": ["prodgate"], "types": ["completed"]}}
    assert flow["permissions"] == {}
    job = flow["jobs"]["comment"]
    assert job["permissions"] == {"actions": "read", "pull-requests": "write"}
    steps = job["steps"]
    checkout = next(s for s in steps if s.get("uses", "").startswith("actions/checkout@"))
    # prodgate's own code at the commit gate.yml pins: never the triggering run's head.
    pinned = next(s for s in workflow(EXAMPLE_WORKFLOW)["jobs"]["gate"]["steps"] if s.get("id") == "gate")["uses"]
    assert checkout["with"]["repository"] == "prodgate/prodgate"
    assert checkout["with"]["ref"] == pinned.split("@", 1)[1]
    assert "head" not in str(steps)  # no step reads the triggering run's head (the concurrency group may)
    with_token = [s["name"] for s in steps if "GITHUB_TOKEN" in (s.get("env") or {})]
    assert with_token == ["Comment on the pull request"]
    comment = steps[-1]["run"]
    assert "-I -X utf8 -m gate comment --report gate-report/gate-report.json" in comment
    upload = next(s for s in workflow(EXAMPLE_WORKFLOW)["jobs"]["gate"]["steps"]
                  if s.get("uses", "").startswith("actions/upload-artifact@"))
    download = next(s for s in steps if s.get("uses", "").startswith("actions/download-artifact@"))
    assert upload["with"]["name"] == download["with"]["name"] == "gate-report"


def test_action_init_workflow_is_the_example() -> None:
    def body(path: Path) -> list[str]:
        return [line for line in path.read_text().splitlines() if not line.startswith("#")]

    assert body(INIT_WORKFLOW) == body(EXAMPLE_WORKFLOW)


def test_action_example_pins_a_commit_of_this_repository_with_the_inputs_it_uses() -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    step = next(s for s in workflow(EXAMPLE_WORKFLOW)["jobs"]["gate"]["steps"] if s.get("id") == "gate")
    sha = step["uses"].split("@", 1)[1]
    shown = subprocess.run(["git", "show", f"{sha}:action.yml"], cwd=ROOT, capture_output=True, text=True,
                           check=False)
    if shown.returncode != 0 and ("bad object" in shown.stderr or "unknown revision" in shown.stderr):
        pytest.skip("shallow clone: the pinned commit is not here")
    assert shown.returncode == 0, shown.stderr
    pinned = yaml.safe_load(shown.stdout)
    assert set(step["with"]) <= set(pinned["inputs"])
    assert {"report-path"} <= set(pinned["outputs"])


def test_action_pre_commit_hook_runs_gate_validate_on_gate_files() -> None:
    hooks = yaml.safe_load(HOOKS.read_text())
    assert [h["id"] for h in hooks] == ["gate-validate"]
    hook = hooks[0]
    assert hook["entry"] == "gate validate" and hook["language"] == "python" and hook["pass_filenames"] is False
    files = re.compile(hook["files"])
    assert all(files.search(p) for p in ("gate.yaml", "sub/gate.yml", "models.yaml", "prompts/a.prompt.yml"))
    assert not any(files.search(p) for p in ("README.md", "notgate.yaml", "prompts/a.yml"))
