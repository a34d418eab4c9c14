"""The base commit is read through its own gate.yaml: the loader (same limits as the change's gate.yaml, paths looked
up in the base's tree), and the baselines read where the base keeps them, whatever the change renames."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from gate.baseconfig import base_config, base_file
from gate.config import load_config
from gate.gitref import resolve_base
from tests.conftest import EXAMPLE, GitRepo, edit, example_repo, gate, gate_subprocess
from tests.e2e.support_bot_cassette import VAGUE_ANSWER, write

# 9 of the 60 `answers` cases that pass on main: a 15-point drop, a regression under the example's gates.
WORSE = ["password-1", "refund-annual-2", "rate-limit-1", "invoice-2", "seats-1", "backup-2", "sso-1",
         "logs-2", "webhooks-1"]
GATE = """\
version: 1
prompts: ["prompts/*.prompt.yml"]
models: models.yaml
cost: {traffic: traffic.yaml}
"""


def _check(stdout: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in json.loads(stdout)["checks"] if c["name"] == name)
    return found


def test_base_config_paths_are_the_base_commits_own(repo: GitRepo) -> None:
    repo.write("gate.yaml", GATE)
    repo.write("models.yaml", "version: 1\nmodels: {}\n")
    repo.write("traffic.yaml", "version: 1\n")
    repo.write("prompts/a.prompt.yml", "name: a\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.git("mv", "traffic.yaml", "cost.yaml")
    repo.git("mv", "prompts/a.prompt.yml", "prompts/b.prompt.yml")
    repo.write("gate.yaml", GATE.replace("traffic.yaml", "cost.yaml"))
    repo.commit("renamed")

    found = base_config(load_config(repo.path / "gate.yaml"), resolve_base(repo.path, "main"))
    assert found.own and found.note is None
    assert found.config.section("cost") == {"traffic": "traffic.yaml"}
    # Resolved in the base's tree: traffic.yaml is gone from the checkout, and b.prompt.yml did not exist there.
    assert found.config.resolve("traffic.yaml", "cost", "traffic") == repo.path.resolve() / "traffic.yaml"
    assert found.config.prompt_files == (repo.path.resolve() / "prompts" / "a.prompt.yml",)
    assert found.config.models_path == repo.path.resolve() / "models.yaml"


def test_base_config_without_one_at_the_base_is_the_changes_with_a_note(repo: GitRepo) -> None:
    repo.write("README.md", "before the gate\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("gate.yaml", GATE)
    repo.write("models.yaml", "version: 1\nmodels: {}\n")
    repo.write("traffic.yaml", "version: 1\n")
    repo.write("prompts/a.prompt.yml", "name: a\n")
    repo.commit("adopt the gate")

    head = load_config(repo.path / "gate.yaml")
    found = base_config(head, resolve_base(repo.path, "main"))
    assert not found.own and found.config is head
    assert found.note == "gate.yaml does not exist at main"


def test_base_config_hostile_one_is_refused_by_the_same_limits(repo: GitRepo) -> None:
    repo.write("gate.yaml", GATE.replace("models: models.yaml", "models: ../../../etc/passwd"))
    repo.commit("base names a file outside the repository")
    repo.git("checkout", "-q", "-b", "bomb")
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdef", "bcdefg", strict=True))
    repo.write("gate.yaml", "version: 1\n" + bomb)
    repo.commit("base is an alias bomb")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("gate.yaml", GATE)
    repo.write("models.yaml", "version: 1\nmodels: {}\n")
    repo.write("traffic.yaml", "version: 1\n")
    repo.write("prompts/a.prompt.yml", "name: a\n")
    repo.commit("the change")
    head = load_config(repo.path / "gate.yaml")

    outside = base_config(head, resolve_base(repo.path, "main"))
    assert not outside.own and outside.config is head
    assert outside.note is not None and outside.note.startswith("gate.yaml at main is not valid (gate.yaml at main:3:")
    assert "is outside the repository" in outside.note
    bombed = base_config(head, resolve_base(repo.path, "bomb"))
    assert not bombed.own and bombed.note is not None
    assert bombed.note.startswith("gate.yaml at bomb cannot be read (") and "alias" in bombed.note
    # A baseline the change names is read at the change's path when the base's gate.yaml cannot be used; the base may
    # well run the check (its gate.yaml is there), so a baseline missing there is worth a finding.
    at = base_file(head, resolve_base(repo.path, "bomb"), "regression", "baseline", ".gate/b.json",
                   repo.path / ".gate/mine.json", ".gate/mine.json")
    assert (at.path, at.expected) == (repo.path / ".gate/mine.json", True)


def test_regression_baseline_path_changed_in_the_change_still_compares(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "  threshold: 0.75 ", "  baseline: .gate/regression-baseline.json\n  threshold: 0.75 ")
    write(bot, {f"answers/{case}": VAGUE_ANSWER for case in WORSE})
    repo.commit("answers got vaguer; the baseline under another name")

    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    check = _check(res.stdout, "regression")
    # The base commit has a baseline (at the path its own gate.yaml names): "no baseline" is not true.
    assert check["details"]["baseline"]["compared"] is True, check["summary"]
    assert check["details"]["baseline"]["source"].startswith("bot/.gate/baseline.json at main (")
    assert res.exit_code == 1 and check["status"] == "fail"


def test_regression_base_with_the_section_but_no_baseline_warns(repo: GitRepo) -> None:
    shutil.copytree(EXAMPLE, repo.path / "bot", ignore=shutil.ignore_patterns("cache", "__pycache__"))
    (repo.path / "bot/.gate/baseline.json").unlink()
    repo.commit("the support bot, its regression baseline not yet committed")
    repo.git("checkout", "-q", "-b", "change")
    repo.commit("a change")

    res = gate("check", "-c", "bot/gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main",
               cwd=repo.path)
    check = _check(res.stdout, "regression")
    assert check["details"]["baseline"]["compared"] is False
    # Said where a reviewer sees it, at the section in gate.yaml: not a clean pass.
    assert res.exit_code == 0 and check["status"] == "warn", check["summary"]
    [warning] = [f for f in check["findings"] if f["severity"] == "warning"]
    line = next(i for i, text in enumerate((repo.path / "bot/gate.yaml").read_text().splitlines(), 1)
                if text.startswith("regression:"))
    assert (warning["file"], warning["line"]) == ("bot/gate.yaml", line)
    assert warning["message"] == ("regression: not compared with the base, which runs this check: bot/.gate/baseline.json "
                                  "does not exist at main (run `gate baseline update` on the base branch and commit the "
                                  "baseline)")


def test_retrieval_baseline_path_changed_in_the_change_still_fails(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    text = (bot / "gate.yaml").read_text(encoding="utf-8")
    head, _, tail = text.rpartition('start: "{python} app.py --port {port}"\n')
    text = head + 'start: "{python} app.py --port {port} --no-titles"\n' + tail
    (bot / "gate.yaml").write_text(text.replace("  k: 20\n", "  k: 20\n  baseline: .gate/search-baseline.json\n"),
                                   encoding="utf-8")
    repo.commit("index the article bodies only; the retrieval baseline under another name")

    res = gate_subprocess("check", "-c", "bot/gate.yaml", "--only", "retrieval", "--format", "json",
                          "--base-ref", "main", cwd=repo.path)
    check = _check(res.stdout, "retrieval")
    assert check["details"]["baseline"]["source"].startswith("bot/.gate/retrieval-baseline.json at main (")
    assert res.exit_code == 1 and check["status"] == "fail", check["summary"]
    assert "nDCG@10 regressed" in check["summary"]


def test_retrieval_base_with_the_section_but_no_baseline_warns(repo: GitRepo) -> None:
    shutil.copytree(EXAMPLE, repo.path / "bot", ignore=shutil.ignore_patterns("cache", "__pycache__"))
    (repo.path / "bot/.gate/retrieval-baseline.json").unlink()
    repo.commit("the support bot, its retrieval baseline not yet committed")
    repo.git("checkout", "-q", "-b", "change")
    repo.commit("a change")

    res = gate_subprocess("check", "-c", "bot/gate.yaml", "--only", "retrieval", "--format", "json",
                          "--base-ref", "main", cwd=repo.path)
    check = _check(res.stdout, "retrieval")
    assert res.exit_code == 0 and check["status"] == "warn", check["summary"]
    [warning] = [f for f in check["findings"] if f["severity"] == "warning"]
    assert warning["file"] == "bot/gate.yaml" and warning["message"].startswith(
        "retrieval: not compared with the base, which runs this check: bot/.gate/retrieval-baseline.json does not exist "
        "at main")
