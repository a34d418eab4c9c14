"""Third-party checks through the `prodgate.checks` entry points: a real installed distribution."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import gate_subprocess

PLUGINS = '''
import os
from gate.report import CheckResult, Status

class Crashy:
    name = "crashy"
    section = "crashy"
    description = "always crashes"
    def run(self, ctx):
        raise RuntimeError("boom")

class Nothing:
    name = "nothing"
    section = "nothing"
    description = "forgets to return its result"
    def run(self, ctx):
        return None

class Loose:
    name = "loose"
    section = "loose"
    description = "plain strings for enums, values JSON cannot hold"
    def run(self, ctx):
        from pathlib import PurePosixPath
        from gate.report import Finding
        return CheckResult(self.name, "warn", "loose", metrics={"ratio": float("nan"), "at": PurePosixPath("a/b")},
                           findings=(Finding("warning", "odd"),), details={(1, 2): float("inf")})

class Picky:
    name = "picky"
    section = "picky"
    description = "its prepare() has a bug"
    def prepare(self, config):
        raise KeyError("threshold")
    def run(self, ctx):
        raise AssertionError("never run after a failed prepare")

class Chatty:
    name = "chatty"
    section = "chatty"
    description = "prints to stdout, as some libraries do"
    def run(self, ctx):
        print("Evaluating 3 test cases... done!")
        return CheckResult(self.name, Status.PASS, "said hello")

class Exposer:
    name = "exposer"
    section = "exposer"
    description = "echoes a credential its section names with an *_env key, and a lone surrogate"
    config_schema = {"type": "object", "properties": {"target": {"type": "object"}}}
    def run(self, ctx):
        from gate.report import Finding
        value = os.environ[ctx.config.section("exposer")["target"]["headers_env"]["X-Auth"]]
        return CheckResult(self.name, Status.FAIL, "server said: " + value + " \\ud800",
                           findings=(Finding("error", "echo", file="f-" + value, case_id="c-" + value),))

class Leaky:
    name = "leaky"
    section = "leaky"
    description = "puts a secret in its summary"
    config_schema = {"type": "object", "additionalProperties": False, "properties": {"level": {"type": "integer"}}}
    def run(self, ctx):
        return CheckResult(self.name, Status.PASS, "token is " + os.environ["MY_SERVICE_TOKEN"],
                           details={"level": ctx.config.section("leaky")["level"]})
'''


def install_plugin(site: Path, extra: str = "") -> None:
    site.mkdir()
    (site / "demo_checks.py").write_text(PLUGINS)
    dist = site / "demo_checks-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-checks\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[prodgate.checks]\ncrashy = demo_checks:Crashy\nleaky = demo_checks:Leaky\n" + extra)


def test_plugin_crash_is_its_error_and_others_survive(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site", "broken = demo_checks:Missing\n")
    (tmp_path / "gate.yaml").write_text("version: 1\ncrashy: {}\nleaky: {level: 3}\n")
    env = {"PYTHONPATH": str(tmp_path / "site"), "MY_SERVICE_TOKEN": "s3cr3t-value-123"}
    res = gate_subprocess("check", "--format", "json", cwd=tmp_path, env=env)
    assert res.exit_code == 3, res.stderr
    checks = {c["name"]: c for c in res.json()["checks"]}
    assert checks["crashy"]["status"] == "error"
    assert checks["crashy"]["summary"] == "check crashed: RuntimeError: boom"
    assert checks["broken"]["status"] == "error" and "could not load" in checks["broken"]["summary"]
    assert checks["leaky"]["status"] == "pass" and checks["leaky"]["details"] == {"level": 3}
    assert checks["leaky"]["summary"] == "token is [redacted]"
    assert "s3cr3t-value-123" not in res.stdout + res.stderr


def test_plugin_section_schema_rejects_unknown_key(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site")
    (tmp_path / "gate.yaml").write_text("version: 1\nleaky: {levl: 3}\n")
    res = gate_subprocess("check", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: gate.yaml:2:9: $.leaky.levl: unknown key 'levl' (did you mean 'level'?)"


def test_plugin_missing_section_is_skipped_with_reason(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site")
    (tmp_path / "gate.yaml").write_text("version: 1\n")
    res = gate_subprocess("check", "--format", "json", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert res.exit_code == 0
    checks = {c["name"]: c for c in res.json()["checks"]}
    assert checks["crashy"]["status"] == "skip"
    assert checks["crashy"]["summary"] == "skipped: no `crashy:` section in gate.yaml"


def test_plugin_result_of_the_wrong_shape_never_loses_the_report(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site", "nothing = demo_checks:Nothing\nloose = demo_checks:Loose\n")
    (tmp_path / "gate.yaml").write_text("version: 1\nnothing: {}\nloose: {}\n")
    out = tmp_path / "r.json"
    res = gate_subprocess("check", "--format", "json", "--report-json", out, "--junit", tmp_path / "r.xml",
                          "--markdown", tmp_path / "r.md", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert res.exit_code == 3, res.stderr
    assert json.loads(out.read_text()) == res.json()  # strict JSON: no NaN, no Infinity
    checks = {c["name"]: c for c in res.json()["checks"]}
    assert checks["nothing"]["status"] == "error"
    assert checks["nothing"]["summary"] == "check crashed: TypeError: run() returned NoneType, not a CheckResult"
    assert checks["loose"]["status"] == "warn"
    assert checks["loose"]["metrics"] == {"ratio": None, "at": "a/b"}
    assert checks["loose"]["details"] == {"(1, 2)": None}
    assert checks["loose"]["findings"] == [
        {"severity": "warning", "message": "not a finite number, reported as null: metrics.ratio: nan, details.(1, 2): inf"},
        {"severity": "warning", "message": "odd"}]


def test_plugin_prepare_crash_is_its_error_and_others_survive(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site", "picky = demo_checks:Picky\n")
    (tmp_path / "gate.yaml").write_text("version: 1\npicky: {}\nleaky: {level: 1}\n")
    res = gate_subprocess("check", "--format", "json", cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path / "site"), "MY_SERVICE_TOKEN": "t0ken-value-42"})
    assert res.exit_code == 3, res.stderr
    checks = {c["name"]: c for c in res.json()["checks"]}
    assert checks["picky"]["status"] == "error"
    assert checks["picky"]["summary"] == "check crashed: KeyError: 'threshold'"
    assert checks["leaky"]["status"] == "pass"


def test_plugin_prepare_crash_traceback_only_with_debug(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site", "picky = demo_checks:Picky\n")
    (tmp_path / "gate.yaml").write_text("version: 1\npicky: {}\ncrashy: {}\n")
    env = {"PYTHONPATH": str(tmp_path / "site")}
    plain = gate_subprocess("check", "--format", "json", cwd=tmp_path, env=env)
    debug = gate_subprocess("check", "--format", "json", "--debug", cwd=tmp_path, env=env)
    assert plain.exit_code == debug.exit_code == 3, debug.stderr
    assert "Traceback" not in plain.stderr and "demo_checks.py" not in plain.stderr
    for res in (plain, debug):  # the one line stays the summary either way
        checks = {c["name"]: c for c in res.json()["checks"]}
        assert checks["picky"]["summary"] == "check crashed: KeyError: 'threshold'"
    # With --debug, where each check crashed: prepare() of one, run() of the other.
    prepare_line = PLUGINS.splitlines().index("        raise KeyError(\"threshold\")") + 1
    run_line = PLUGINS.splitlines().index("        raise RuntimeError(\"boom\")") + 1
    assert debug.stderr.count("Traceback (most recent call last):") == 2
    assert f'demo_checks.py", line {prepare_line}, in prepare' in debug.stderr
    assert f'demo_checks.py", line {run_line}, in run' in debug.stderr
    assert "picky: check crashed: KeyError: 'threshold'" in debug.stderr
    assert "Traceback" in {c["name"]: c for c in debug.json()["checks"]}["picky"]["details"]["traceback"]


def test_plugin_printing_to_stdout_leaves_the_json_report_parseable(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site", "chatty = demo_checks:Chatty\n")
    (tmp_path / "gate.yaml").write_text("version: 1\nchatty: {}\n")
    res = gate_subprocess("check", "--format", "json", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site")})
    assert res.exit_code == 0, res.stderr
    assert {c["name"]: c["status"] for c in res.json()["checks"]}["chatty"] == "pass"
    assert "Evaluating 3 test cases... done!" in res.stderr


def test_plugin_credentials_named_by_any_env_key_never_reach_any_output(tmp_path: Path) -> None:
    install_plugin(tmp_path / "site", "exposer = demo_checks:Exposer\n")
    (tmp_path / "gate.yaml").write_text("version: 1\nexposer:\n  target: {headers_env: {X-Auth: SVC_AUTH}}\n")
    out = tmp_path / "out"
    res = gate_subprocess("check", "--format", "json", "--report-json", out / "r.json", "--markdown", out / "r.md",
                          "--junit", out / "r.xml", cwd=tmp_path,
                          env={"PYTHONPATH": str(tmp_path / "site"), "SVC_AUTH": "plain-looking-value-42"})
    assert res.exit_code == 1, res.stderr
    check = {c["name"]: c for c in res.json()["checks"]}["exposer"]
    assert check["summary"] == "server said: [redacted] \ufffd"
    assert (check["findings"][0]["file"], check["findings"][0]["case_id"]) == ("f-[redacted]", "c-[redacted]")
    written = "".join((out / name).read_text(encoding="utf-8") for name in ("r.json", "r.md", "r.xml"))
    assert "plain-looking-value-42" not in res.stdout + res.stderr + written
