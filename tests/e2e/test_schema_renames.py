"""A prompt file renamed in a change keeps its version rule: the example in a real git repository, real CLI."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import GitRepo, edit, example_repo, gate


def _check(result: Any, name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == name)
    return found


def test_schema_prompt_renamed_to_prompt_yaml_and_edited_needs_a_version_bump(repo: GitRepo) -> None:
    bot = example_repo(repo)
    repo.git("mv", "bot/prompts/classify.prompt.yml", "bot/prompts/classify.prompt.yaml")
    for name in ("gate.yaml", "traffic.yaml", "docs/failure-modes.md"):
        edit(bot / name, "prompts/classify.prompt.yml", "prompts/classify.prompt.yaml")
    edit(bot / "prompts/classify.prompt.yaml", "Answer with JSON only.", "Answer with JSON only, in English.")
    repo.commit("the classifier as .prompt.yaml, reworded, version kept")

    res = gate("validate", "-c", bot / "gate.yaml", "--format", "json", "--base-ref", "main")
    check = _check(res, "schema")
    # A suite's prompt file is examined like any other (.prompt.yaml is gh-models' own spelling too).
    errors = [(f["file"], f["line"], f["message"]) for f in check["findings"] if f["severity"] == "error"]
    assert errors == [("bot/prompts/classify.prompt.yaml", 3, "prompt renamed from bot/prompts/classify.prompt.yml and "
                       "changed but its version 2.0.1 is not higher than 2.0.1 on the base ref")], check["summary"]
    assert res.exit_code == 1


def test_schema_prompt_renamed_and_edited_with_its_version_bumped_passes(repo: GitRepo) -> None:
    bot = example_repo(repo)
    repo.git("mv", "bot/prompts/classify.prompt.yml", "bot/prompts/route.prompt.yml")
    for name in ("gate.yaml", "traffic.yaml", "docs/failure-modes.md"):
        edit(bot / name, "prompts/classify.prompt.yml", "prompts/route.prompt.yml")
    edit(bot / "prompts/route.prompt.yml", "Answer with JSON only.", "Answer with JSON only, in English.")
    edit(bot / "prompts/route.prompt.yml", "version: 2.0.1", "version: 2.1.0")
    repo.commit("the classifier renamed, reworded, its version bumped")

    res = gate("validate", "-c", bot / "gate.yaml", "--format", "json", "--base-ref", "main")
    check = _check(res, "schema")
    assert res.exit_code == 0, check["summary"]
    row = next(r for r in check["details"]["prompts"] if r["file"].endswith("route.prompt.yml"))
    assert row == {"file": "bot/prompts/route.prompt.yml", "change": "changed", "old": "2.0.1", "new": "2.1.0",
                   "previous": "bot/prompts/classify.prompt.yml"}
    # The old name is the same prompt, not a removed one.
    assert not [f for f in check["findings"] if f.get("rule") == "PG302"]
