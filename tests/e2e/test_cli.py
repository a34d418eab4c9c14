"""The gate CLI end to end: verbs, outputs, exit codes, start-up imports, determinism."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema

from tests.conftest import EXAMPLE, REPO, GitRepo, gate, gate_subprocess


def test_cli_version_prints_package_version() -> None:
    import gate as pkg

    res = gate_subprocess("--version")
    assert res.exit_code == 0
    assert res.stdout.strip() == f"prodgate, version {pkg.__version__}"


def test_cli_help_imports_no_heavy_library() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gate", "--help"], capture_output=True,
                          text=True, check=True)
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    roots = {name.split(".")[0] for name in imported}
    assert "gate" in roots and "click" in roots
    for heavy in ("deepeval", "locust", "scipy", "numpy", "gevent", "genai_prices", "markdown_it", "requests",
                  "jsonschema", "yaml", "prodgate_checks"):
        assert heavy not in roots, heavy
    # The plugin verbs are listed, with their help, without importing their modules.
    assert not {"gate.github.cli", "gate.run", "gate.config"} & imported
    listed = dict(re.findall(r"^  (\w+)\s+(.+)$", proc.stdout.split("Commands:")[1], re.M))
    assert sorted(listed) == ["baseline", "check", "comment", "cost", "docs", "init", "merge", "schema", "validate"]
    assert listed["merge"].startswith("Combine the JSON reports of `gate check --shard")
    assert listed["docs"] == "Check the failure-mode documentation alone (the docs check)."


def test_cli_validate_with_every_engine_configured_imports_none(tmp_path: Path) -> None:
    """Whether an extra is installed is found, not imported: locust patches the process, deepeval takes seconds."""
    shutil.copytree(EXAMPLE, tmp_path / "ex", ignore=shutil.ignore_patterns(".gate"))
    config = tmp_path / "ex" / "gate.yaml"
    anchor = "      metrics:\n        - name: no secrets\n"
    assert anchor in config.read_text()
    config.write_text(config.read_text().replace(anchor, anchor.replace(
        "metrics:\n", "metrics:\n        - {name: correct, deepeval: GEval, params: {criteria: right}}\n"), 1))
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gate", "validate", "-c", config],
                          capture_output=True, text=True, check=False, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    roots = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "prodgate_checks" in roots
    # Nor the run-time engines of the checks it only prepares: the resilience proxy, the retrieval measures.
    assert not {"locust", "gevent", "deepeval", "aiohttp", "ir_measures", "pytrec_eval"} & roots


def test_cli_builtin_verb_help_table_matches_each_command() -> None:
    from click import Command

    from gate.registry import BUILTIN_COMMAND_HELP, command_entries

    entries = {e.target: e for e in command_entries().values()}
    assert set(BUILTIN_COMMAND_HELP) <= set(entries)
    for target, text in BUILTIN_COMMAND_HELP.items():
        command = entries[target].load()
        assert isinstance(command, Command)
        assert command.get_short_help_str(10_000) == text, target


PLUGIN_VERBS = """
import click

@click.command("hello")
@click.option("--name", default="world")
def hello(name):
    \"\"\"Say hello from a third-party distribution.\"\"\"
    click.echo(f"hello {name}")
"""


def _verb_plugin(site: Path) -> dict[str, str]:
    site.mkdir()
    (site / "demo_verbs.py").write_text(PLUGIN_VERBS)
    dist = site / "demo_verbs-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-verbs\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[prodgate.commands]\nhello = demo_verbs:hello\n"
                                           "broken = demo_verbs_missing:command\n")
    return {"PYTHONPATH": str(site)}


def test_cli_third_party_verb_is_listed_and_runs(tmp_path: Path) -> None:
    env = _verb_plugin(tmp_path / "site")
    listing = gate_subprocess("--help", env=env)
    assert listing.exit_code == 0, listing.stderr
    rows = dict(re.findall(r"^  (\w+)\s+(.+)$", listing.stdout.split("Commands:")[1], re.M))
    assert rows["hello"] == "Say hello from a third-party distribution."
    assert rows["broken"] == "(could not load: ModuleNotFoundError)"
    assert rows["check"] == "Run every configured check (the release gate)."
    res = gate_subprocess("hello", "--name", "gate", env=env)
    assert (res.exit_code, res.stdout) == (0, "hello gate\n")


def test_cli_third_party_verb_that_cannot_load_is_one_line_exit_3(tmp_path: Path) -> None:
    res = gate_subprocess("broken", "--help", env=_verb_plugin(tmp_path / "site"))
    assert res.exit_code == 3
    assert res.stderr == ("error: the `broken` command (demo_verbs_missing:command) could not load: "
                          "ModuleNotFoundError: No module named 'demo_verbs_missing'\n")


def test_cli_example_passes_offline() -> None:
    res = gate_subprocess("check", "-c", EXAMPLE / "gate.yaml", "--format", "json", cwd=REPO)
    assert res.exit_code == 0, res.stdout + res.stderr
    report = res.json()
    assert report["verdict"] in ("pass", "warn")
    assert {c["name"]: c["status"] for c in report["checks"]}["schema"] == "pass"


def test_cli_outputs_are_written_and_valid(tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = gate("check", "-c", EXAMPLE / "gate.yaml", "--only", "schema", "--report-json", out / "r.json",
               "--markdown", out / "r.md", "--junit", out / "r.xml", cwd=REPO)
    assert res.exit_code == 0, res.stderr
    report = json.loads((out / "r.json").read_text())
    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(report)
    assert [c["name"] for c in report["checks"]] == ["schema"]
    assert "prodgate" in (out / "r.md").read_text()
    suite = ET.parse(out / "r.xml").getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == "1" and suite.get("failures") == "0"
    assert "schema" in res.stdout and "verdict: PASS" in res.stdout


def test_cli_report_is_deterministic_apart_from_times(tmp_path: Path) -> None:
    def strip(report: dict) -> dict:
        report.pop("started_at"), report.pop("duration_s")
        for c in report["checks"]:
            c.pop("duration_s")
        return report

    runs = [gate("check", "-c", EXAMPLE / "gate.yaml", "--only", "schema", "--format", "json", cwd=REPO) for _ in range(2)]
    assert strip(runs[0].json()) == strip(runs[1].json())


def test_cli_unknown_check_name_is_usage_error() -> None:
    res = gate("check", "-c", EXAMPLE / "gate.yaml", "--only", "schma", cwd=REPO)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: unknown check 'schma' (known: ")


def test_cli_skip_removes_check_from_report() -> None:
    res = gate("check", "-c", EXAMPLE / "gate.yaml", "--skip", "schema,load,regression", "--format", "json", cwd=REPO)
    assert res.exit_code == 0
    assert "schema" not in [c["name"] for c in res.json()["checks"]]


def test_cli_schema_prints_each_shipped_schema_self_contained() -> None:
    listed = gate("schema").stdout.split()
    assert {"gate", "prompt", "models", "report"} <= set(listed)
    for name in listed:
        res = gate("schema", name)
        assert res.exit_code == 0
        printed = json.loads(res.stdout)
        jsonschema.Draft202012Validator.check_schema(printed)
        assert printed["title"] == json.loads((REPO / "schemas" / f"{name}.schema.json").read_text())["title"]
        assert not re.search(r'"\$ref": "[^#]', res.stdout), name  # an editor has nothing to fetch
    bad = gate("schema", "nope")
    assert bad.exit_code == 2 and "unknown schema 'nope'" in bad.stderr


def test_cli_schema_gate_judges_like_the_gate_itself() -> None:
    from gate.yamlfile import load_yaml

    printed = jsonschema.Draft202012Validator(json.loads(gate("schema", "gate").stdout))
    data = load_yaml(EXAMPLE / "gate.yaml").data
    assert list(printed.iter_errors(data)) == []
    bad = {**data, "load": {**data["load"], "users": "many"}, "cost": {**data["cost"], "budget": {"statistic": "p96"}}}
    assert sorted(e.json_path for e in printed.iter_errors(bad)) == ["$.cost.budget.statistic", "$.load.users"]


def test_cli_init_scaffold_passes_check_in_new_repo(repo: GitRepo) -> None:
    res = gate("init", cwd=repo.path)
    assert res.exit_code == 0, res.stderr
    for rel in ("gate.yaml", "models.yaml", "prompts/assistant.prompt.yml", "datasets/assistant.jsonl",
                "docs/failure-modes.md", ".github/workflows/gate.yml"):
        assert (repo.path / rel).is_file(), rel
    repo.commit("scaffold")
    check = gate_subprocess("check", "--format", "json", cwd=repo.path)
    assert check.exit_code == 0, check.stdout + check.stderr
    assert check.json()["verdict"] == "pass"


def test_cli_init_then_check_passes_before_the_first_commit(repo: GitRepo) -> None:
    res = gate("init", cwd=repo.path)
    assert res.exit_code == 0, res.stderr
    assert "owner of every failure mode in docs/failure-modes.md: dev@example.com" in res.stdout
    assert res.stdout.splitlines()[-1] == "next: gate check -c gate.yaml, then commit every file written"
    check = gate_subprocess("check", "--format", "json", cwd=repo.path)
    assert check.exit_code == 0, check.stdout + check.stderr
    report = check.json()
    assert report["verdict"] == "pass"
    checks = {c["name"]: c for c in report["checks"]}
    assert sorted(checks["regression"]["details"]["suites"]) == ["assistant", "examples"]
    assert [f["severity"] for f in checks["schema"]["findings"]] == ["notice"]
    assert "**Owner:** dev@example.com" in (repo.path / "docs/failure-modes.md").read_text()


def test_cli_init_in_a_repository_with_commits_passes_check(repo: GitRepo) -> None:
    repo.write("app.py", "print('hi')\n")
    repo.commit("app")
    assert gate("init", cwd=repo.path).exit_code == 0
    check = gate_subprocess("check", "--format", "json", cwd=repo.path)
    assert check.exit_code == 0, check.stdout + check.stderr
    assert check.json()["verdict"] == "pass", [c["summary"] for c in check.json()["checks"]]


def test_cli_init_ignores_the_cache_once_in_an_existing_gitignore(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/")
    res = gate("init", tmp_path, "--owner", "@acme/ml")
    assert res.exit_code == 0, res.stderr
    assert f"updated {tmp_path / '.gitignore'} (ignores .gate/cache/)" in res.stdout.splitlines()
    assert gate("init", tmp_path, "--force", "--owner", "@acme/ml").exit_code == 0
    lines = (tmp_path / ".gitignore").read_text().splitlines()
    assert lines[0] == "node_modules/" and lines.count(".gate/cache/") == 1


def test_cli_init_without_an_owner_leaves_a_placeholder_the_docs_check_flags(tmp_path: Path) -> None:
    env = {"GIT_CONFIG_GLOBAL": str(tmp_path / "none"), "GIT_CONFIG_NOSYSTEM": "1", "HOME": str(tmp_path)}
    folder = tmp_path / "svc"
    res = gate("init", folder, env=env)
    assert res.exit_code == 0, res.stderr
    assert f"todo: {folder / 'docs/failure-modes.md'}: replace @your-org/your-team with a real owner " \
           "(or run gate init --owner)" in res.stdout.splitlines()
    docs = gate("check", "-c", folder / "gate.yaml", "--only", "docs", "--format", "json", env=env)
    assert docs.exit_code == 1, docs.stdout + docs.stderr
    findings = docs.json()["checks"][0]["findings"]
    assert len(findings) == 9 and {f["file"] for f in findings} == {str(folder / "docs/failure-modes.md")}
    assert findings[0]["message"] == ("'Provider outage': owner @your-org/your-team is a template placeholder: "
                                      "name the team or person who answers for this failure")


def test_cli_init_owner_comes_from_the_github_remote_before_the_email(repo: GitRepo) -> None:
    repo.git("remote", "add", "origin", "git@github.com:acme-corp/support-bot.git")
    res = gate("init", "svc", cwd=repo.path)
    assert res.exit_code == 0, res.stderr
    owners = {line for line in (repo.path / "svc/docs/failure-modes.md").read_text().splitlines()
              if line.startswith("**Owner:**")}
    assert owners == {"**Owner:** @acme-corp"}
    assert gate("init", "other", "--owner", "@acme-corp/ml", "--force", cwd=repo.path).exit_code == 0
    assert "**Owner:** @acme-corp/ml\n" in (repo.path / "other/docs/failure-modes.md").read_text()


def test_cli_init_owner_that_is_not_a_handle_is_usage_error(tmp_path: Path) -> None:
    res = gate("init", tmp_path, "--owner", "the ML team")
    assert res.exit_code == 2
    assert res.stderr == "error: --owner 'the ML team': expected @org/team, @user or an email address\n"
    assert not (tmp_path / "gate.yaml").exists()


def test_cli_baseline_update_says_what_it_wrote_and_what_to_commit(repo: GitRepo) -> None:
    assert gate("init", cwd=repo.path).exit_code == 0
    repo.commit("scaffold")
    res = gate("baseline", "update", "--format", "json", cwd=repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    regression = res.json()["checks"][0]
    assert regression["summary"] == "4 of 4 cases pass (100.0%) in 2 suites; wrote .gate/baseline.json"
    assert "no baseline" not in res.stdout + res.stderr
    assert res.stderr.splitlines()[-2:] == [
        "baseline: wrote .gate/baseline.json — commit it",
        "next: git add .gate/baseline.json && git commit (on the base branch: pull requests compare with the "
        "committed copy)"]
    assert json.loads((repo.path / ".gate/baseline.json").read_text())
    assert repo.git("status", "--porcelain") == "?? .gate/"


def test_cli_init_refuses_to_overwrite(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\n")
    res = gate("init", tmp_path)
    assert res.exit_code == 2 and "gate.yaml: already exists" in res.stderr
    assert (tmp_path / "gate.yaml").read_text() == "version: 1\n"
    assert gate("init", tmp_path, "--force").exit_code == 0
    assert (tmp_path / "gate.yaml").read_text() != "version: 1\n"


def test_cli_unwritable_output_is_usage_error_and_the_report_survives(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    res = gate("check", "-c", EXAMPLE / "gate.yaml", "--only", "schema", "--report-json", tmp_path / "file" / "r.json",
               "--junit", tmp_path / "r.xml", "--format", "json", cwd=REPO)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {tmp_path / 'file' / 'r.json'}: cannot write: ")
    assert res.json()["checks"][0]["name"] == "schema"
    assert ET.parse(tmp_path / "r.xml").getroot().find("testsuite") is not None


def test_cli_bad_flag_is_usage_error() -> None:
    res = gate_subprocess("check", "--formt", "json")
    assert res.exit_code == 2 and "No such option" in res.stderr and "Traceback" not in res.stderr


def test_cli_init_in_a_subfolder_puts_the_workflow_at_the_repository_root(repo: GitRepo) -> None:
    res = gate("init", "services/bot", cwd=repo.path)
    assert res.exit_code == 0, res.stderr
    assert (repo.path / "services/bot/gate.yaml").is_file()
    assert not (repo.path / "services/bot/.github").exists()
    workflow = (repo.path / ".github/workflows/gate.yml").read_text()
    assert "config: services/bot/gate.yaml" in workflow
    assert res.stdout.splitlines()[-1] == "next: gate check -c services/bot/gate.yaml, then commit every file written"
    repo.commit("scaffold")
    check = gate_subprocess("check", "-c", "services/bot/gate.yaml", "--format", "json", cwd=repo.path)
    assert check.exit_code == 0, check.stdout + check.stderr


def test_cli_validate_refuses_only_and_skip() -> None:
    res = gate("validate", "-c", EXAMPLE / "gate.yaml", "--only", "docs", cwd=REPO)
    assert res.exit_code == 2
    assert "--only and --skip do not apply" in res.stderr


DATASET_GATE = """version: 1
prompts: ["*.prompt.yml"]
regression:
  target: {http: {url: "http://127.0.0.1:9/answer"}}
  suites:
    - {name: faq, prompt: ask.prompt.yml, dataset: faq.jsonl}
"""
ASK = "name: Ask\nmodel: openai/gpt-4o-mini\nmessages:\n  - {role: user, content: '{{q}}'}\n"


def test_cli_validate_reports_a_dataset_defect_at_its_line_without_running(repo: GitRepo) -> None:
    repo.write("gate.yaml", DATASET_GATE)
    repo.write("ask.prompt.yml", ASK)
    repo.write("faq.jsonl", '{"id": "a", "q": "Hi?"}\n{"q": "No id?"}\n')
    res = gate("validate", "--format", "json", cwd=repo.path)
    assert res.exit_code == 1, res.stdout + res.stderr
    checks = {c["name"]: c for c in res.json()["checks"]}
    assert checks["schema"]["status"] == "pass"
    assert checks["regression"]["status"] == "fail"
    assert [(f["file"], f["line"], f["message"]) for f in checks["regression"]["findings"]] == [
        ("faq.jsonl", 2, "$: 'id' is required")]


def test_cli_validate_reads_valid_suites_and_sends_nothing(repo: GitRepo) -> None:
    repo.write("gate.yaml", DATASET_GATE)  # the target's port has no server: a request would fail the run
    repo.write("ask.prompt.yml", ASK)
    repo.write("faq.jsonl", '{"id": "a", "q": "Hi?"}\n{"id": "b", "q": "Bye?"}\n')
    res = gate("validate", "--format", "json", cwd=repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    regression = {c["name"]: c for c in res.json()["checks"]}["regression"]
    assert (regression["status"], regression["summary"]) == ("pass", "1 suite, 2 cases valid; not run "
                                                                     "(gate check runs them)")
    assert "usage_by_suite" not in regression["details"]


def test_cli_validate_checks_every_section_of_gate_yaml(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\nload:\n  target: {url: 'http://127.0.0.1:9'}\n"
                                        "  thresholds:\n    latency: ['p(95) < soon']\n")
    res = gate("validate", cwd=tmp_path)
    assert res.exit_code == 2, res.stdout
    assert res.stderr.startswith("error: gate.yaml:5:15: ")
