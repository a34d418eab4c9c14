"""A change to gate.yaml's own settings says so: the example in a real git repository, real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo, edit, example_repo, gate


def _schema(repo: GitRepo, bot: Path) -> tuple[int, dict[str, Any]]:
    res = gate("validate", "-c", bot / "gate.yaml", "--format", "json", "--base-ref", "main")
    check: dict[str, Any] = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "schema")
    return res.exit_code, check


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if text in line)


def test_schema_limits_loosened_in_the_change_are_warnings_at_their_lines(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "max_increase_pct: {warn: 10, fail: 25}", "max_increase_pct: {warn: 10, fail: 100}")
    edit(bot / "gate.yaml", "      RR: {max_drop: 0.05}\n", "")
    edit(bot / "gate.yaml", "        success_rate: \">= 95%\"\n        fallback: backup\n        "
                             "max_upstream_calls_per_request: 2", "        success_rate: \">= 50%\"\n"
                             "        fallback: backup\n        max_upstream_calls_per_request: 2")
    # Not a limit: a comment and the number of requests sent.
    edit(bot / "gate.yaml", "requests: 24", "requests: 30")
    repo.commit("looser gates")
    code, check = _schema(repo, bot)
    assert code == 0  # a warning: the reviewer decides
    assert {f["file"] for f in check["findings"] if f.get("rule") == "PG310"} == {"bot/gate.yaml"}  # the repo's path
    found = sorted((f["line"], f["message"]) for f in check["findings"] if f.get("rule") == "PG310")
    gate_yaml = bot / "gate.yaml"
    assert found == sorted([
        (_line(gate_yaml, "max_increase_pct"),
         "gate.yaml setting cost.budget.max_increase_pct.fail changed in this change: 25 -> 100"),
        (_line(gate_yaml, "nDCG@10: {min: 0.7"),  # where it was: in its section, still there
         "gate.yaml setting retrieval.gates.measures.RR.max_drop changed in this change: removed (was 0.05)"),
        (_line(gate_yaml, "requests: 30"), "gate.yaml setting resilience.requests changed in this change: 24 -> 30"),
        (_line(gate_yaml, "success_rate: \">= 50%\""),
         "gate.yaml setting resilience.scenarios.rate-limit.expect.success_rate changed in this change: '>= 95%' -> '>= 50%'"),
    ]), found
    assert check["status"] == "warn"


def test_schema_settings_unchanged_say_nothing_and_the_changes_own_ignores_do_not_silence_them(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "version: 1\n", "version: 1\n# a comment is no setting\n")
    repo.commit("a comment")
    code, check = _schema(repo, bot)
    assert code == 0 and check["status"] == "pass"
    assert not [f for f in check["findings"] if f.get("rule") == "PG310"]
    edit(bot / "gate.yaml", "max_increase_pct: {warn: 10, fail: 25}", "max_increase_pct: {warn: 10, fail: 100}  "
         "# gate: ignore[PG310]")
    edit(bot / "gate.yaml", "schema:\n", "schema:\n  ignore: [PG310, gate-setting-changed]\n")
    repo.commit("a looser budget, its warning ignored")
    code, check = _schema(repo, bot)
    found = sorted(f["message"] for f in check["findings"] if f.get("rule") == "PG310")
    assert found == ["gate.yaml setting cost.budget.max_increase_pct.fail changed in this change: 25 -> 100",
                     "gate.yaml setting schema.ignore changed in this change: added: ['PG310', 'gate-setting-changed']"]


def test_schema_settings_price_override_added_in_models_yaml_is_a_warning(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "models.yaml", "    model: openai/gpt-4o-mini\n", "    model: openai/gpt-4.1\n"
         "    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.6}\n")
    repo.commit("a dearer model, priced as the cheap one")
    code, check = _schema(repo, bot)
    found = [(f["file"], f["message"]) for f in check["findings"] if f.get("rule") == "PG310"]
    assert found == [("bot/models.yaml", "model price models.primary.pricing.input_per_mtok changed in this change: "
                      "added: 0.15"), ("bot/models.yaml", "model price models.primary.pricing.output_per_mtok changed "
                                       "in this change: added: 0.6")], found
    assert check["status"] == "warn"


def test_schema_settings_changed_when_gate_yaml_names_no_prompts_still_warn(repo: GitRepo) -> None:
    repo.write("gate.yaml", "version: 1\nregression:\n  gates: {min_pass_rate: 0.9}\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("gate.yaml", "version: 1\nregression:\n  gates: {min_pass_rate: 0.0}\n")
    repo.commit("no floor")
    res = gate("check", "--only", "schema", "--format", "json", "--base-ref", "main", cwd=repo.path)
    check = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "schema")
    assert check["status"] == "warn", check
    assert [f["message"] for f in check["findings"]] == [
        "gate.yaml setting regression.gates.min_pass_rate changed in this change: 0.9 -> 0.0"]
