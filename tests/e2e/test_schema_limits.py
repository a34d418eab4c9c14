"""A change that moves gate.yaml's own limits says so: the example in a real git repository, real CLI."""

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
         "gate limit cost.budget.max_increase_pct.fail changed in this change: 25 -> 100"),
        (_line(gate_yaml, "nDCG@10: {min: 0.7"),  # where it was: in its section, still there
         "gate limit retrieval.gates.measures.RR.max_drop changed in this change: removed (was 0.05)"),
        (_line(gate_yaml, "success_rate: \">= 50%\""),
         "gate limit resilience.scenarios.rate-limit.expect.success_rate changed in this change: '>= 95%' -> '>= 50%'"),
    ]), found
    assert check["status"] == "warn"


def test_schema_limits_unchanged_or_tightened_elsewhere_say_nothing(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "requests: 24", "requests: 30")
    repo.commit("more requests")
    code, check = _schema(repo, bot)
    assert code == 0 and check["status"] == "pass"
    assert not [f for f in check["findings"] if f.get("rule") == "PG310"]
