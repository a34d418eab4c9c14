"""The example's report, JSON and pull-request comment, equals a stored copy (times and commit ids aside): a change
of layout that changes what a user reads fails here. The real CLI as a subprocess, on a real git repository.

A change that means to alter the report regenerates the copy: PRODGATE_WRITE_REFERENCE=1 with this file."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE, REPO, GitRepo, gate_subprocess

REFERENCE = REPO / "tests" / "fixtures" / "example-report"
# What differs between two runs of the same code: the clock and the commits' ids.
_CLOCK = frozenset({"started_at", "duration_s"})


def _scrub(value: Any, shas: dict[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: ("<clock>" if k in _CLOCK else _scrub(v, shas)) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, shas) for v in value]
    if isinstance(value, str):
        return _unsha(value, shas)
    return value


def _unsha(text: str, shas: dict[str, str]) -> str:
    for sha, name in shas.items():  # the full id or any abbreviation of it
        text = re.sub(rf"\b{sha[:7]}[0-9a-f]{{0,33}}\b", name, text)
    return re.sub(r"· \d+\.\d s</sub>", "· <clock></sub>", text)  # the footer ends with the run's time


def _run_example(repo: GitRepo, tmp_path: Path) -> tuple[Any, str]:
    shutil.copytree(EXAMPLE, repo.path / "bot", ignore=shutil.ignore_patterns("cache"))
    base = repo.commit("the support bot, with its baseline")
    repo.git("checkout", "-q", "-b", "change")
    md = tmp_path / "comment.md"
    # load and resilience measure a live service (their figures vary run to run); every other check is
    # deterministic offline
    res = gate_subprocess("check", "-c", "bot/gate.yaml", "--skip", "load", "--skip", "resilience", "--format", "json",
                          "--base-ref", "main", "--markdown", md, cwd=repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    shas = {base: "<base>"}
    return _scrub(res.json(), shas), _unsha(md.read_text(encoding="utf-8"), shas)


def test_example_report_offline_run_equals_stored_reference(repo: GitRepo, tmp_path: Path) -> None:
    report, comment = _run_example(repo, tmp_path)
    if os.environ.get("PRODGATE_WRITE_REFERENCE") == "1":
        REFERENCE.mkdir(parents=True, exist_ok=True)
        (REFERENCE / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        (REFERENCE / "comment.md").write_text(comment, encoding="utf-8")
    assert [c["name"] for c in report["checks"]] == ["schema", "regression", "retrieval", "cost", "docs"]
    assert report == json.loads((REFERENCE / "report.json").read_text(encoding="utf-8"))
    assert comment == (REFERENCE / "comment.md").read_text(encoding="utf-8")
