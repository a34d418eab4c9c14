"""The example's suites run offline from its cassette; a worse branch fails with the flipped cases listed,
a branch that changes nothing but noise passes. Real git repositories, the real CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from gate.providers.cassette import write_cassette
from tests.conftest import EXAMPLE, GitRepo, example_repo, gate
from tests.e2e.support_bot_cassette import VAGUE_ANSWER, build, default_answer, write

# 9 of the 60 `answers` cases (15%) that pass on main.
WORSE = ["password-1", "refund-annual-2", "rate-limit-1", "invoice-2", "seats-1", "backup-2", "sso-1",
         "logs-2", "webhooks-1"]


def _regression(result: Any) -> dict[str, Any]:
    report = result.json()
    check: dict[str, Any] = next(c for c in report["checks"] if c["name"] == "regression")
    return check


def test_regression_example_offline_passes_against_its_baseline(repo: GitRepo) -> None:
    bot = example_repo(repo)
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _regression(res)
    assert check["status"] == "pass"
    assert check["details"]["baseline"]["compared"] is True
    assert check["metrics"]["cases"] == 104 and 0.85 < check["metrics"]["pass_rate"] < 1.0
    assert check["metrics"]["failure_categories"] == {"quality.assertion": 7}
    assert all(not c["regression"] for c in check["details"]["comparisons"])
    assert check["details"]["headline"]["change"] == "+0.0 pts (p=1.00)"
    usage = check["details"]["usage_by_suite"]["answers"]
    assert usage["cases"] == 60 and usage["input_tokens"]["mean"] > usage["output_tokens"]["mean"] > 0


def test_regression_example_answers_worse_on_15_percent_fails_with_flips(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    write(bot, {f"answers/{case}": VAGUE_ANSWER for case in WORSE})
    repo.commit("a shorter system prompt (answers got vaguer)")
    md = tmp_path / "comment.md"
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main",
               "--markdown", md)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _regression(res)
    assert check["status"] == "fail"
    rate = next(c for c in check["details"]["comparisons"] if c["suite"] == "answers" and c["metric"] == "pass_rate")
    assert rate["regression"] is True
    assert rate["pass_to_fail"] == sorted(WORSE) and rate["fail_to_pass"] == []
    assert rate["delta"] == -0.15 and rate["p_adjusted"] < 0.05 and rate["ci95"][1] < 0
    flipped = sorted(f["case_id"] for f in check["findings"] if f["severity"] == "error" and f.get("case_id"))
    assert flipped == sorted(f"answers/{c}" for c in WORSE)
    assert check["summary"].startswith("88 of 104 cases pass (84.6%) in 4 suites; 104 of 104 baseline cases compared; "
                                       "answers: pass rate regressed")
    assert rate["verdict"] == "regression" and rate["ci95"][1] < -rate["tolerance"]  # beyond the 5-pt tolerance
    assert check["details"]["headline"]["change"].startswith("-15.0 pts (p=")
    # The gate it broke, where gate.yaml sets it.
    gate_line = next(i for i, line in enumerate((bot / "gate.yaml").read_text(encoding="utf-8").splitlines(), 1)
                     if "max_pass_rate_drop:" in line)
    broken = [(f["file"], f["line"]) for f in check["findings"] if "pass rate regressed" in f["message"]]
    assert broken == [("bot/gate.yaml", gate_line)], broken


def test_regression_example_noise_only_passes(repo: GitRepo) -> None:
    bot = example_repo(repo)
    entries = {}
    for case in ("password-2", "invoice-1", "cancel-1", "export-2", "cli-install-1"):  # reworded, still right
        key = f"answers/{case}"
        entries[key] = "Here's how: " + default_answer(key, _vars(bot, case))
    entries["answers/scaling-2"] = default_answer("answers/scaling-1", _vars(bot, "scaling-2"))  # fail -> pass
    entries["answers/storage-limit-1"] = VAGUE_ANSWER  # pass -> fail: one sampling flip each way
    write_cassette(bot / "cassettes" / "support-bot.jsonl", build(bot, entries))
    repo.commit("re-recorded: the model's answers vary run to run")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _regression(res)
    rate = next(c for c in check["details"]["comparisons"] if c["suite"] == "answers" and c["metric"] == "pass_rate")
    assert rate["pass_to_fail"] == ["storage-limit-1"] and rate["fail_to_pass"] == ["scaling-2"]
    assert rate["regression"] is False and rate["p_adjusted"] == 1.0
    assert check["status"] == "pass"


def test_regression_example_same_inputs_same_report_bytes(repo: GitRepo) -> None:
    bot = example_repo(repo)
    runs = []
    for _ in range(2):
        res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
        check = _regression(res)
        check.pop("duration_s")
        runs.append(json.dumps(check, sort_keys=True))
    assert runs[0] == runs[1]


def test_regression_example_chunks_of_any_size_give_the_same_report(repo: GitRepo,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Cases are answered, judged and summed up a chunk at a time (a run never holds every answer at once): the
    report is the same whatever the chunk, with judged suites, flips and cases split across chunks."""
    from prodgate_checks.regression import execute

    bot = example_repo(repo)
    write(bot, {f"answers/{case}": VAGUE_ANSWER for case in WORSE})
    repo.commit("answers got vaguer")
    runs = []
    for size in (execute.CHUNK_CASES, 7, 1):
        monkeypatch.setattr(execute, "CHUNK_CASES", size)
        res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
        assert res.exit_code == 1, res.stdout + res.stderr
        check = _regression(res)
        check.pop("duration_s")
        runs.append(json.dumps(check, sort_keys=True))
    assert runs[0] == runs[1] == runs[2]
    assert json.loads(runs[0])["details"]["run"]["judge_requests"] > 0  # judged suites, graded in every chunk size


def _vars(bot: Path, case: str) -> dict[str, Any]:
    for line in (bot / "datasets" / "answers.jsonl").read_text(encoding="utf-8").splitlines():
        row: dict[str, Any] = json.loads(line)
        if row["id"] == case:
            return row
    raise KeyError(case)


def test_regression_example_comment_shows_base_answer_beside_flipped_one(repo: GitRepo, tmp_path: Path) -> None:
    bot = repo.path / "bot"
    shutil.copytree(EXAMPLE, bot, ignore=shutil.ignore_patterns("cache"))
    # The baseline as `gate baseline update` writes it today: with each case's answer.
    res = gate("baseline", "update", "-c", bot / "gate.yaml", "--only", "regression")
    assert res.exit_code == 0, res.stdout + res.stderr
    repo.commit("the support bot, with a fresh baseline")
    repo.git("checkout", "-q", "-b", "change")
    before = json.loads((bot / ".gate" / "baseline.json").read_text(encoding="utf-8"))
    base_answer = before["suites"]["answers"]["cases"]["sso-1"]["output"]
    write(bot, {f"answers/{case}": VAGUE_ANSWER for case in WORSE})
    repo.commit("a shorter system prompt (answers got vaguer)")
    md = tmp_path / "comment.md"
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--base-ref", "main", "--markdown", md)
    assert res.exit_code == 1, res.stdout + res.stderr
    text = md.read_text(encoding="utf-8")
    block = text.split("<details><summary>answers / sso-1 — ", 1)[1].split("</details>", 1)[0]
    assert f"Base branch answer:\n\n```\n{base_answer[:200]}" in block
    assert f"This branch's answer:\n\n```\n{VAGUE_ANSWER[:60]}" in block
    assert "Case: `bot/datasets/answers.jsonl:" in block or "Case: `datasets/answers.jsonl:" in block
