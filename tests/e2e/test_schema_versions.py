"""Prompt version bumps against the base ref, with real git repositories (base branch + feature branch)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import GitRepo, gate, gate_subprocess

PROMPT = """name: Answer
version: {version}
model: openai/gpt-4o-mini
messages:
  - role: system
    content: {system}
"""
GATE = "version: 1\nprompts: ['prompts/**/*.prompt.yml']\n"


def prompt(version: str = "1.0.0", system: str = "Be brief.") -> str:
    return PROMPT.format(version=version, system=system)


def base_repo(repo: GitRepo, **files: str) -> GitRepo:
    repo.write("gate.yaml", GATE)
    repo.write("prompts/answer.prompt.yml", prompt())
    for rel, text in files.items():
        repo.write(rel, text)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    return repo


def validate(repo: GitRepo, *extra: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    res = gate("validate", "--format", "json", *extra, cwd=repo.path, env=env)
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, res.json()["checks"][0]


def errors(check: dict) -> list[tuple[str, int, str]]:
    return [(f["file"], f.get("line", 0), f["message"]) for f in check["findings"] if f["severity"] == "error"]


def test_versions_change_without_bump_fails_at_version_line(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(system="Be brief and kind."))
    repo.commit("reword")
    code, check = validate(repo)
    assert code == 1
    assert errors(check) == [("prompts/answer.prompt.yml", 2,
                              "prompt changed but its version 1.0.0 is not higher than 1.0.0 on the base ref")]
    assert check["details"]["prompts"] == [
        {"file": "prompts/answer.prompt.yml", "change": "changed", "old": "1.0.0", "new": "1.0.0"}]


def test_versions_change_with_bump_passes_and_lists_old_to_new(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(version="1.1.0", system="Be brief and kind."))
    repo.commit("reword")
    code, check = validate(repo)
    assert code == 0 and check["status"] == "pass"
    assert "answer.prompt.yml 1.0.0 -> 1.1.0" in check["summary"]
    assert check["metrics"]["changed_prompts"] == 1


def test_versions_uncommitted_change_is_compared_too(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(system="Edited, not committed."))
    code, check = validate(repo)
    assert code == 1 and "not higher than 1.0.0" in errors(check)[0][2]


def test_versions_formatting_and_comments_are_not_a_change(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", "# a comment\n" + prompt().replace("name: Answer", "name:   Answer"))
    repo.commit("format")
    code, check = validate(repo)
    assert code == 0
    assert check["details"]["prompts"][0]["change"] == "unchanged"


def test_versions_new_prompt_needs_a_version(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/extra/new.prompt.yml", prompt().replace("version: 1.0.0\n", ""))
    repo.commit("new")
    code, check = validate(repo)
    assert code == 1
    assert errors(check) == [("prompts/extra/new.prompt.yml", 1,
                              "new prompt has no `version`: add one, e.g. version: 1.0.0")]


def test_versions_removed_prompt_is_reported(repo: GitRepo) -> None:
    base_repo(repo, **{"prompts/old.prompt.yml": prompt(version="3.2.1", system="Old.")})
    (repo.path / "prompts/old.prompt.yml").unlink()
    repo.commit("remove")
    code, check = validate(repo)
    assert code == 0
    notices = [(f["file"], f["message"]) for f in check["findings"] if f["severity"] == "notice"]
    assert notices == [("prompts/old.prompt.yml", "prompt removed (was version 3.2.1)")]


def test_versions_moved_file_is_a_rename_not_a_new_prompt(repo: GitRepo) -> None:
    base_repo(repo)
    (repo.path / "prompts/support").mkdir()
    repo.git("mv", "prompts/answer.prompt.yml", "prompts/support/answer.prompt.yml")
    repo.commit("move")
    code, check = validate(repo)
    assert code == 0 and check["findings"] == []
    assert check["details"]["prompts"] == [{"file": "prompts/support/answer.prompt.yml", "change": "renamed",
                                            "old": "1.0.0", "new": "1.0.0", "previous": "prompts/answer.prompt.yml"}]


def test_versions_lowered_version_fails(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(version="0.9.0"))
    repo.commit("lower")
    code, check = validate(repo)
    assert code == 1 and errors(check)[0][2] == "version went down from 1.0.0 to 0.9.0"


def test_versions_prerelease_precedence(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(version="1.0.0-rc.1", system="Changed."))
    repo.commit("rc")
    code, _ = validate(repo)
    assert code == 1  # 1.0.0-rc.1 sorts before 1.0.0
    repo.write("prompts/answer.prompt.yml", prompt(version="1.0.1-rc.1", system="Changed."))
    repo.commit("rc2")
    code, _ = validate(repo)
    assert code == 0


def test_versions_bump_not_required_when_disabled(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("gate.yaml", GATE + "schema: {require_version_bump: false}\n")
    repo.write("prompts/answer.prompt.yml", prompt(system="Changed."))
    repo.commit("change")
    code, check = validate(repo)
    assert code == 0 and check["details"]["prompts"][0]["change"] == "changed"


def test_versions_github_base_ref_uses_origin_branch(repo: GitRepo, tmp_path: Path) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(system="Changed."))
    repo.commit("change")
    # A clone, as actions/checkout makes one: the base branch only as origin/main.
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", "--branch", "feature", str(repo.path), str(clone)], check=True)
    res = gate("validate", "--format", "json", cwd=clone, env={"GITHUB_BASE_REF": "main"})
    assert res.exit_code == 1
    report = res.json()
    assert report["git"]["base_ref"] == "origin/main"
    assert report["git"]["base"] == repo.git("rev-parse", "main")


def test_versions_shallow_clone_says_what_it_could_not_compare(repo: GitRepo, tmp_path: Path) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(system="Changed."))
    repo.commit("change")
    clone = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "1", "--branch", "feature", f"file://{repo.path}", str(clone)],
                   check=True)
    res = gate_subprocess("validate", "--format", "json", cwd=clone, env={"GITHUB_BASE_REF": "main"})
    assert res.exit_code == 0, res.stderr
    check = res.json()["checks"][0]
    assert check["status"] == "warn"
    message = check["findings"][0]["message"]
    assert message.startswith("prompt versions not compared with the base ref: base ref origin/main or main not found")
    assert "shallow clone" in message


def test_versions_explicit_base_ref_and_config_in_subfolder(repo: GitRepo) -> None:
    repo.write("svc/gate.yaml", GATE)
    repo.write("svc/prompts/a.prompt.yml", prompt())
    repo.write("svc/prompts/b.prompt.yml", prompt(system="B."))
    first = repo.commit("base")
    (repo.path / "svc/prompts/b.prompt.yml").unlink()
    repo.write("svc/prompts/a.prompt.yml", prompt(version="2.0.0", system="A2."))
    repo.commit("on main directly")
    res = gate("validate", "--format", "json", "-c", "svc/gate.yaml", "--base-ref", first, cwd=repo.path)
    assert res.exit_code == 0, res.stdout
    rows = res.json()["checks"][0]["details"]["prompts"]
    assert rows == [
        {"file": "svc/prompts/a.prompt.yml", "change": "changed", "old": "1.0.0", "new": "2.0.0"},
        {"file": "svc/prompts/b.prompt.yml", "change": "removed", "old": "1.0.0", "new": None},
    ]


def test_versions_explicit_base_ref_that_does_not_exist_is_usage_error(repo: GitRepo) -> None:
    base_repo(repo)
    repo.write("prompts/answer.prompt.yml", prompt(system="Changed."))
    res = gate("validate", "--base-ref", "mian", cwd=repo.path)
    assert res.exit_code == 2, res.stdout
    assert res.stderr.startswith("error: --base-ref mian: no such commit, branch or tag in ")


def test_versions_repository_without_commits_says_so(repo: GitRepo) -> None:
    repo.write("gate.yaml", GATE)
    repo.write("prompts/answer.prompt.yml", prompt())
    code, check = validate(repo)
    assert code == 0
    assert [f["message"] for f in check["findings"]] == [
        "prompt versions not compared with the base ref: the repository has no commit yet"]


def test_versions_comment_section_lists_moved_versions_and_findings(repo: GitRepo) -> None:
    from gate.render.markdown import render_comment
    from gate.report import Report

    base_repo(repo, **{"prompts/old.prompt.yml": prompt(version="3.2.1", system="Old.")})
    (repo.path / "prompts/old.prompt.yml").unlink()
    repo.write("prompts/answer.prompt.yml", prompt(version="1.1.0", system="Changed."))
    # Another prompt (its own name and text), not old.prompt.yml renamed.
    repo.write("prompts/new.prompt.yml", prompt(system="Route the ticket.").replace("version: 1.0.0\n", "")
               .replace("name: Answer", "name: Triage"))
    repo.commit("change")
    res = gate("validate", "--format", "json", cwd=repo.path)
    assert res.exit_code == 1
    report = Report.from_dict(res.json())
    check = report.checks[0]
    # The row says what the problem is, in words, not "1 problem(s)".
    assert check.details["headline"] == {"value": "new.prompt.yml: new prompt has no `version`: add one, e.g. "
                                                  "version: 1.0.0", "change": "3 prompts changed"}
    from prodgate_checks.schema.check import SchemaCheck

    body = render_comment(report, checks={"schema": SchemaCheck()})
    assert "`1.0.0` → `1.1.0`" in body and "`3.2.1` → `—`" in body
    assert "new prompt has no `version`" in body and "(s)" not in body


def test_versions_short_forms_compare_numerically(repo: GitRepo) -> None:
    repo.write("gate.yaml", GATE)
    repo.write("prompts/answer.prompt.yml", prompt(version="'1.9'"))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("prompts/answer.prompt.yml", prompt(version="'1.10'", system="Be brief and kind."))
    code, check = validate(repo)
    assert code == 0, check["findings"]
    assert check["details"]["prompts"][0] == {"file": "prompts/answer.prompt.yml", "change": "changed",
                                              "old": "1.9", "new": "1.10"}
    repo.write("prompts/answer.prompt.yml", prompt(version="2", system="Be brief and kind."))
    assert validate(repo)[0] == 0
    repo.write("prompts/answer.prompt.yml", prompt(version="'1.9.0'", system="Be brief and kind."))
    code, check = validate(repo)
    assert code == 1
    assert [(f["rule"], f["message"]) for f in check["findings"]] == [
        ("PG300", "prompt changed but its version 1.9.0 is not higher than 1.9 on the base ref")]


def test_default_glob_finds_dot_github_and_yaml_but_skips_git_and_gate_folders(repo: GitRepo) -> None:
    good = prompt()
    repo.write("gate.yaml", "version: 1\nprompts: ['**/*.prompt.y*ml']\nschema: {require_version_bump: false}\n")
    repo.write(".github/prompts/review.prompt.yml", good)
    repo.write("ai/summarise.prompt.yaml", good)
    repo.commit("base")
    # Neither git's own folder nor the gate's state holds the team's prompts.
    repo.write(".git/stash.prompt.yml", "name: [broken\n")
    repo.write(".gate/old.prompt.yml", "name: [broken\n")
    code, check = validate(repo)
    assert code == 0, check["findings"]
    assert sorted(r["file"] for r in check["details"]["prompts"]) == [
        ".github/prompts/review.prompt.yml", "ai/summarise.prompt.yaml"]


SARIF_SCHEMA = Path(__file__).resolve().parent.parent / "fixtures" / "sarif" / "sarif-schema-2.1.0.json"


def test_sarif_holds_every_check_finding_with_a_line_and_validates_against_the_official_schema(repo: GitRepo) -> None:
    import json

    import jsonschema

    repo.write("gate.yaml", GATE + "regression:\n  target: {replay: c.jsonl}\n  suites:\n    - dataset: d.jsonl\n")
    repo.write("c.jsonl", "")
    repo.write("d.jsonl", '{"id": "a", "q": "hi"}\n{"q": "no id"}\n')
    repo.write("prompts/answer.prompt.yml", prompt().replace("model: openai/gpt-4o-mini", "model: openai//gpt-4o")
               + "tags: [x]\n")
    repo.commit("base")
    res = gate_subprocess("check", "--sarif", "out/gate.sarif", cwd=repo.path)
    assert res.exit_code == 1, res.stderr
    sarif = json.loads((repo.path / "out" / "gate.sarif").read_text(encoding="utf-8"))
    jsonschema.Draft4Validator(json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))).validate(sarif)
    [run] = sarif["runs"]
    got = [(r["ruleId"], r["level"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in run["results"]]
    assert got == [("PG110", "error", "prompts/answer.prompt.yml", 3),
                   ("PG108", "warning", "prompts/answer.prompt.yml", 7),
                   ("regression", "error", "d.jsonl", 2)]
    rules = {r["id"]: r for r in run["tool"]["driver"]["rules"]}
    assert rules["PG110"]["name"] == "model-invalid" and "publisher/model" in rules["PG110"]["fullDescription"]["text"]
    assert [r["ruleIndex"] for r in run["results"]] == [0, 1, 2]
