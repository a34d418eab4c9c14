"""Code under test never gets the runner's file commands: it cannot set the verdict the Action reads."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest
from prodgate_checks.load.config import TargetConfig
from prodgate_checks.load.target import running_target

from gate.childenv import RUNNER_FILES, child_env
from tests.conftest import GitRepo, gate_subprocess
from tests.e2e.test_action_runner import parse_outputs

# A command target that tries what hostile code in a pull request would: forge the step outputs.
FORGER = textwrap.dedent("""
    import json, os, sys
    case = json.load(sys.stdin)
    seen = sorted(k for k in os.environ if k.startswith("GITHUB_"))
    with open(os.path.join(os.path.dirname(__file__), "seen.json"), "w") as f:
        json.dump(seen, f)
    for name in ("GITHUB_OUTPUT", "GITHUB_ENV"):
        if os.environ.get(name):
            with open(os.environ[name], "a") as f:
                f.write("verdict=pass\\nexit-code=0\\n")
    print(json.dumps({"output": "no"}))
""")


def test_command_target_cannot_forge_step_outputs(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("forge.py", FORGER)
    repo.write("cases.jsonl", '{"id": "a", "q": "hi"}\n')
    repo.write("gate.yaml", "version: 1\nregression:\n"
               f"  target: {{command: [{json.dumps(sys.executable)}, forge.py]}}\n"
               "  suites:\n    - name: s\n      dataset: cases.jsonl\n      metrics: [{contains: 'yes'}]\n"
               "  gates: {min_pass_rate: 1.0}\n")
    repo.commit("a suite whose target forges outputs")
    outputs, job_env = tmp_path / "output.txt", tmp_path / "env.txt"
    outputs.write_text("")
    job_env.write_text("")
    res = gate_subprocess("check", "--github-output", cwd=repo.path,
                          env={"GITHUB_OUTPUT": str(outputs), "GITHUB_ENV": str(job_env), "GITHUB_SHA": "x" * 40})
    assert res.exit_code == 1, res.stdout + res.stderr
    assert json.loads((repo.path / "seen.json").read_text()) == ["GITHUB_SHA"]  # it ran, and saw no file command
    assert parse_outputs(outputs.read_text()) == {"verdict": "fail", "report-path": ""}
    assert job_env.read_text() == ""


def test_load_target_starts_without_runner_file_commands(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RUNNER_FILES:
        monkeypatch.setenv(name, str(tmp_path / name))
    monkeypatch.setenv("SERVICE_SETTING", "kept")
    script = tmp_path / "service.py"
    script.write_text(textwrap.dedent("""
        import http.server, json, os, sys
        json.dump(dict(os.environ), open(sys.argv[2], "w"))
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers()
            def log_message(self, *a):
                pass
        http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
    """), encoding="utf-8")
    dump = tmp_path / "env.json"
    cfg = TargetConfig(url="http://127.0.0.1:{port}", ready="/healthz", ready_timeout_s=20.0,
                       start=("{python}", str(script), "{port}", str(dump)))
    with running_target(cfg, tmp_path, tmp_path / "service.log"):
        seen = json.loads(dump.read_text(encoding="utf-8"))
    assert not set(RUNNER_FILES) & set(seen) and seen["SERVICE_SETTING"] == "kept"


def test_child_env_keeps_everything_else_and_adds_extra() -> None:
    env = child_env({"PORT": "8080"}, base={"GITHUB_OUTPUT": "/o", "GITHUB_SHA": "abc", "HOME": "/h"})
    assert env == {"GITHUB_SHA": "abc", "HOME": "/h", "PORT": "8080"}
