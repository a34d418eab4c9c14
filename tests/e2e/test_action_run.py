"""The composite action end to end, step by step as the runner runs it, against the fake GitHub.

A real git repository holding the example (base commit on main, the pull request's commits on a
branch), real webhook payloads, the real `gate` CLI, and the runner's files. The install step is
replaced by this environment's installation of prodgate (see tests/e2e/test_action_runner.py).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gate.registry import discover
from tests.conftest import EXAMPLE, GitRepo
from tests.e2e.test_action_runner import ActionRun, Runner, runner_env
from tests.servers.github_fake import FakeGitHub, serve

EVENTS = Path(__file__).resolve().parent.parent / "fixtures" / "github-events"
QUICK = {"skip": "load,regression"}


@pytest.fixture
def workspace(repo: GitRepo) -> GitRepo:
    """The example as a user's repository: main (with its regression and retrieval baselines: a base that runs a check
    and keeps no baseline for it warns), then a pull-request branch with one change. The load baseline stays out (its
    latencies are another machine's), and with it the load limit it would be judged against."""
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("load-baseline.json", "__pycache__"))
    config, limit = repo.path / "gate.yaml", "  max_p95_increase: {latency: 50%, ttft: 50%}\n"
    text = config.read_text(encoding="utf-8")
    assert limit in text
    config.write_text(text.replace(limit, ""), encoding="utf-8")
    repo.commit("the support bot")
    repo.git("checkout", "-q", "-b", "changes")
    readme = repo.write("NOTES.md", "A change that does not touch the prompts.\n")
    assert readme.exists()
    repo.commit("notes")
    return repo


class Workflow:
    def __init__(self, repo: GitRepo, tmp_path: Path, fake: FakeGitHub) -> None:
        self.repo = repo
        self.fake = fake
        self.temp = tmp_path / "runner-temp"
        self.temp.mkdir()
        self.runs = 0

    def run(self, event: str = "pull_request.opened", *, fork: bool = False, event_name: str = "pull_request",
            sha: str | None = None, **inputs: str) -> ActionRun:
        self.runs += 1
        payload: dict[str, Any] = json.loads((EVENTS / f"{event}.json").read_text())
        pr = payload["pull_request"]
        pr["head"]["sha"] = self.repo.git("rev-parse", "HEAD")
        pr["base"]["ref"] = "main"
        if fork:
            pr["head"]["repo"]["full_name"] = "forker/Hello-World"
        event_path = self.temp / f"event-{self.runs}.json"
        event_path.write_text(json.dumps(payload))
        env = runner_env(self.repo.path, self.temp, event_path, event_name, self.fake.url, self.fake.token,
                         GITHUB_BASE_REF="main", GITHUB_HEAD_REF="changes", GITHUB_RUN_ID=str(9000 + self.runs),
                         GITHUB_SHA=sha or pr["head"]["sha"], GITHUB_REF="refs/pull/2/merge",
                         PRODGATE_GITHUB_RETRY_BASE_S="0.01")
        return Runner(self.repo.path, self.temp, inputs, env).run()


def test_action_pull_request_posts_one_comment_and_a_second_push_updates_it(
        workspace: GitRepo, tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        flow = Workflow(workspace, tmp_path, fake)
        first = flow.run()
        first_report = json.loads(Path(first.outputs["report-path"]).read_text())
        # The second push edits a prompt without bumping its version: the schema check fails.
        prompt = workspace.path / "prompts" / "classify.prompt.yml"
        prompt.write_text(prompt.read_text().replace("temperature: 0\n", "temperature: 0.2\n"))
        workspace.commit("warmer classifier")
        second = flow.run("pull_request.synchronize", **QUICK)

    check = first.step("check")
    assert check.outputs["exit-code"] == "0", check.stdout + check.stderr
    assert not first.failed and first.outputs["verdict"] == "pass"
    assert Path(first.outputs["report-path"]).is_file()
    assert first.outputs["comment-url"].startswith("https://github.com/Codertocat/Hello-World/pull/2#issuecomment-")
    assert first.outputs["monthly-cost"] != "" and float(first.outputs["monthly-cost"]) > 0
    names = {c["name"] for c in first_report["checks"]}
    assert names == {c.name for c in discover()[0]}  # every registered check ran on the example
    assert "## ✅ prodgate: **pass**" in first.summary

    assert second.failed and second.outputs["verdict"] == "fail"
    assert second.step("check").outputs["exit-code"] == "1"
    assert "::error title=prodgate::verdict fail (fail-on: fail)" in second.step("Apply fail-on").stdout
    assert [r.method for r in fake.writes()] == ["POST", "PATCH"]
    assert len(fake.comments[2]) == 1
    body = fake.comments[2][0]["body"]
    assert body.startswith("<!-- prodgate:report -->\n## ❌ prodgate: **fail**")
    head = workspace.git("rev-parse", "HEAD")
    assert f"https://github.com/Codertocat/Hello-World/blob/{head}/prompts/classify.prompt.yml#L" in body
    assert "::error file=prompts/classify.prompt.yml" in second.step("comment").stdout
    # The token reached `gate comment` through env: only, and no output carries it.
    assert fake.requests[0].headers["authorization"] == f"Bearer {fake.token}"
    assert all(fake.token not in s.stdout + s.stderr + s.summary for s in first.steps + second.steps)


def test_action_fork_pull_request_degrades_to_summary_with_verdict_unchanged(
        workspace: GitRepo, tmp_path: Path) -> None:
    with serve(read_only=True) as fake:
        fake.open_pull(2)
        run = Workflow(workspace, tmp_path, fake).run(fork=True, **QUICK)
    assert not run.failed and run.outputs["verdict"] == "pass"
    comment = run.step("comment")
    assert comment.exit_code == 0
    assert "::warning title=prodgate::no pull request comment: GitHub refused" in comment.stdout
    assert "fork gets a read-only token" in comment.stdout
    assert "## ✅ prodgate: **pass**" in run.summary and fake.comments[2] == []
    assert run.outputs["comment-url"] == ""


@pytest.mark.parametrize(("fail_on", "failed"), [("fail", False), ("warn", True), ("never", False)])
def test_action_fail_on_decides_the_step_for_a_warning(workspace: GitRepo, tmp_path: Path, fail_on: str,
                                                       failed: bool) -> None:
    prompt = workspace.path / "prompts" / "answer.prompt.yml"
    # A key gh-models ignores is a warning unless strict; the version is bumped, as a changed prompt needs.
    text = re.sub(r"(?m)^version: .*$", "version: 99.0.0", prompt.read_text())
    prompt.write_text(text + "\nunknown_key: 1\n")
    workspace.commit("typo")
    with serve() as fake:
        fake.open_pull(2)
        run = Workflow(workspace, tmp_path, fake).run(**{"fail-on": fail_on, "checks": "schema",
                                                         "extra-args": "--verbose", "comment": "new"})
    assert run.step("check").outputs["exit-code"] == "0"
    assert run.outputs["verdict"] == "warn"
    assert run.failed is failed
    assert len(fake.ours(2)) == 1 and "## ⚠️ prodgate: **warn**" in fake.ours(2)[0]["body"]


def test_action_config_error_posts_error_comment_and_fails_even_with_never(
        workspace: GitRepo, tmp_path: Path) -> None:
    (workspace.path / "gate.yaml").write_text("version: 1\nschema:\n  strickt: true\n")
    workspace.commit("broken gate.yaml")
    with serve() as fake:
        fake.open_pull(2)
        run = Workflow(workspace, tmp_path, fake).run(**{"fail-on": "never"})
    assert run.failed and run.step("check").outputs["exit-code"] == "2"
    assert run.outputs["verdict"] == "error" and run.outputs["report-path"] == ""
    body = fake.comments[2][0]["body"]
    assert "## 🛑 prodgate: **error**" in body and "unknown key 'strickt'" in body


def test_action_inputs_are_data_never_shell(workspace: GitRepo, tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    hostile = f"schema$(touch {marker});touch {marker}`touch {marker}`"
    with serve() as fake:
        fake.open_pull(2)
        run = Workflow(workspace, tmp_path, fake).run(checks=hostile, skip="'\"; touch " + str(marker),
                                                      **{"extra-args": f"--verbose $(touch {marker})"})
    assert not marker.exists()
    check = run.step("check")
    assert check.outputs["exit-code"] == "2"
    # The text reached the CLI as it was written: as data.
    assert f"unexpected extra arguments ($(touch {marker}))" in check.stdout


def test_action_invalid_fail_on_input_stops_before_installing(workspace: GitRepo, tmp_path: Path) -> None:
    with serve() as fake:
        run = Workflow(workspace, tmp_path, fake).run(**{"fail-on": "sometimes"})
    assert run.failed and run.steps[0].exit_code == 2
    assert "input fail-on must be fail, warn or never" in run.steps[0].stdout
    assert not run.step("install").ran and fake.requests == []


def test_action_cache_key_follows_the_prompts(workspace: GitRepo, tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        flow = Workflow(workspace, tmp_path, fake)
        before = flow.run(cache="true", checks="schema", comment="off")
        prompt = workspace.path / "prompts" / "answer.prompt.yml"
        prompt.write_text(prompt.read_text() + "\n# a comment\n")
        after = flow.run(cache="true", checks="schema", comment="off")
        off = flow.run(cache="false", checks="schema", comment="off")
    restore, save = before.step("restore"), before.step("Save the response cache")
    # Relative to the workspace, as actions/cache reads it: beside gate.yaml.
    assert restore.with_["path"] == ".gate/cache" == save.with_["path"]
    assert restore.with_["key"] == save.with_["key"] and restore.with_["key"].endswith("-9001")
    assert restore.with_["key"].startswith("prodgate-Linux-")
    assert after.step("restore").with_["key"].rsplit("-", 1)[0] != restore.with_["key"].rsplit("-", 1)[0]
    assert not off.step("restore").ran and not off.step("Save the response cache").ran
    assert fake.writes() == []


def test_action_extra_args_on_several_lines_all_reach_gate_check(workspace: GitRepo, tmp_path: Path) -> None:
    # A YAML block scalar (`extra-args: |`) gives one argument a line: every line counts.
    with serve() as fake:
        fake.open_pull(2)
        run = Workflow(workspace, tmp_path, fake).run(checks="schema", comment="off",
                                                      **{"extra-args": "--verbose\n--junit gate.xml\n"})
    assert run.step("check").outputs["exit-code"] == "0"
    junit = workspace.path / "gate.xml"
    assert junit.is_file() and '<testcase classname="prodgate" name="schema"' in junit.read_text()


# (fail-on, exit code of gate check, verdict gate wrote) -> (the step fails, the action's verdict). The exit
# code decides; exit 2: no gate ran, whatever fail-on says; no exit code at all: the gate step never ran.
FAIL_ON_MATRIX = [
    *[(f, "0", "pass", False, "pass") for f in ("fail", "warn", "never")],
    *[(f, "0", "skip", False, "skip") for f in ("fail", "warn", "never")],
    ("fail", "0", "warn", False, "warn"), ("warn", "0", "warn", True, "warn"), ("never", "0", "warn", False, "warn"),
    ("fail", "1", "fail", True, "fail"), ("warn", "1", "fail", True, "fail"), ("never", "1", "fail", False, "fail"),
    ("fail", "3", "error", True, "error"), ("warn", "3", "error", True, "error"),
    ("never", "3", "error", False, "error"),
    ("fail", "130", "error", True, "error"), ("never", "130", "error", False, "error"),
    # The report was written, then the gate broke (an internal error is exit 3): not a pass.
    ("fail", "3", "pass", True, "error"), ("warn", "137", "warn", True, "error"), ("never", "3", "pass", False, "error"),
    *[(f, "2", "error", True, "error") for f in ("fail", "warn", "never")],
    *[(f, "", "", True, "error") for f in ("fail", "warn", "never")],
    # A verdict that disagrees with the exit code, or is no verdict at all, never passes a gate.
    ("fail", "1", "pass", True, "fail"), ("fail", "0", "fail", True, "error"), ("fail", "0", "", True, "error"),
    ("fail", "0", "pass\nverdict=pass", True, "error"), ("warn", "0", "Pass", True, "error"),
    ("fail", "0", "pass; exit 0", True, "error"),
]


def test_action_fail_on_matrix_against_every_exit_code(tmp_path: Path) -> None:
    from tests.e2e.test_action_runner import load_action, parse_outputs

    script = next(s for s in load_action()["runs"]["steps"] if s.get("name") == "Apply fail-on")["run"]
    output = tmp_path / "output"
    for fail_on, code, verdict, fails, decided in FAIL_ON_MATRIX:
        output.write_text("")
        env = {"PATH": "/usr/bin:/bin", "FAIL_ON": fail_on, "EXIT_CODE": code, "VERDICT": verdict,
               "GITHUB_OUTPUT": str(output)}
        proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env,
                              capture_output=True, text=True, check=False, cwd=tmp_path)
        case = (fail_on, code, verdict, proc.stdout, proc.stderr)
        assert (proc.returncode != 0) is fails, case
        assert ("::error" in proc.stdout) is fails, case
        assert parse_outputs(output.read_text()) == {"verdict": decided}, case


@pytest.mark.parametrize(("working_directory", "config", "expected"), [
    (".", "gate.yaml", {"config": "gate.yaml", "folder": "", "path": ".gate/cache"}),
    (".", "./ci/gate.yaml", {"config": "ci/gate.yaml", "folder": "ci/", "path": "ci/.gate/cache"}),
    ("./sub/", "../gate.yaml", {"config": "gate.yaml", "folder": "", "path": ".gate/cache"}),
    ("sub/./bot", "web/gate.yml", {"config": "sub/bot/web/gate.yml", "folder": "sub/bot/web/",
                                   "path": "sub/bot/web/.gate/cache"}),
])
def test_action_cache_path_is_normalised_for_hash_files(tmp_path: Path, working_directory: str, config: str,
                                                        expected: dict[str, str]) -> None:
    from tests.e2e.test_action_runner import load_action, parse_outputs

    script = next(s for s in load_action()["runs"]["steps"] if s.get("id") == "cache-path")["run"]
    output = tmp_path / "output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "WORKING_DIRECTORY": working_directory, "CONFIG": config,
           "GITHUB_OUTPUT": str(output)}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env,
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert parse_outputs(output.read_text()) == expected


def test_action_cache_path_outside_the_workspace_is_a_usage_error(tmp_path: Path) -> None:
    from tests.e2e.test_action_runner import load_action, parse_outputs

    script = next(s for s in load_action()["runs"]["steps"] if s.get("id") == "cache-path")["run"]
    output = tmp_path / "output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "WORKING_DIRECTORY": ".", "CONFIG": "../other/gate.yaml",
           "GITHUB_OUTPUT": str(output)}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env,
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout.startswith("::error title=prodgate::config ../other/gate.yaml is outside the workspace")
    assert parse_outputs(output.read_text()) == {}


def test_action_sarif_input_writes_the_file_and_hands_it_to_code_scanning(workspace: GitRepo, tmp_path: Path) -> None:
    prompt = workspace.path / "prompts" / "answer.prompt.yml"
    prompt.write_text(prompt.read_text().replace("temperature: 0.2", "temperature: 0.2\n  tempurature: 1"))
    workspace.commit("a misspelt parameter")
    with serve() as fake:
        fake.open_pull(2)
        workflow = Workflow(workspace, tmp_path, fake)
        run = workflow.run(checks="schema", comment="off", sarif="true")
        sarif = run.step("check").outputs["sarif"]
        results = json.loads(Path(sarif).read_text())["runs"][0]["results"]
        quiet = workflow.run(checks="schema", comment="off")
    assert any(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "prompts/answer.prompt.yml"
               for r in results)
    upload = next(s for s in run.steps if s.name == "Upload findings to code scanning")
    assert upload.ran and upload.with_ == {"sarif_file": sarif, "category": "prodgate"}
    assert "sarif" not in quiet.step("check").outputs
    assert not next(s for s in quiet.steps if s.name == "Upload findings to code scanning").ran


PLANTING_APP = '''\
import json, os, sys
json.load(sys.stdin)
# The gate withholds the runner's file commands from this process; its ancestors' /proc entries still name them.
pid = os.getppid()
for _ in range(8):
    try:
        raw = open(f"/proc/{pid}/environ", encoding="utf-8", errors="replace").read()
        env = dict(kv.split("=", 1) for kv in raw.split("\\0") if "=" in kv)
        stat = open(f"/proc/{pid}/stat", encoding="utf-8").read()
    except OSError:
        break
    for name in ("GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY", "GITHUB_ENV"):
        if env.get(name):
            with open(env[name], "a", encoding="utf-8") as f:
                f.write("planted=1\\nverdict=pass\\n")
    pid = int(stat.rsplit(")", 1)[1].split()[1])
print(json.dumps({"output": "ok"}))
'''


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="reads ancestors' environments from /proc")
def test_action_code_the_gate_runs_cannot_write_the_runners_file_commands(workspace: GitRepo, tmp_path: Path) -> None:
    (workspace.path / "plant.py").write_text(PLANTING_APP, encoding="utf-8")
    (workspace.path / "d.jsonl").write_text('{"id": "a", "q": "hi"}\n', encoding="utf-8")
    (workspace.path / "gate.yaml").write_text(
        "version: 1\nregression:\n  suites:\n    - dataset: d.jsonl\n"
        f"      target: {{command: [{sys.executable!r}, plant.py]}}\n", encoding="utf-8")
    workspace.commit("a target that plants step outputs")
    with serve() as fake:
        fake.open_pull(2)
        run = Workflow(workspace, tmp_path, fake).run(**{"fail-on": "never"})
    check = run.step("check")
    assert check.outputs["exit-code"] == "3" and check.outputs["verdict"] == "error", check.stdout[-2000:]
    assert "code the gate ran wrote to the runner's file commands while it ran" in check.stdout
    assert "planted" not in check.outputs and "planted" not in check.summary
    assert run.failed  # fail-on never does not pass a run whose outputs were forged
