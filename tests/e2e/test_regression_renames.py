"""Changes to the support-bot example that must not switch the comparison off: a suite renamed, a suite or a metric
removed, small suites added beside a large one. Each is a branch of a real git repository checked by the real CLI,
answers replayed from the example's cassette."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE, GitRepo, edit, example_repo, gate
from tests.e2e.support_bot_cassette import UNSURE, UNSURE_ANSWER, VAGUE_ANSWER, write

# 9 of the 60 `answers` cases that pass on main: made vague, a 15-point drop (exact p=0.004).
WORSE = ["password-1", "refund-annual-2", "rate-limit-1", "invoice-2", "seats-1", "backup-2", "sso-1",
         "logs-2", "webhooks-1"]


def _regression(bot: Path, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    md = tmp_path / "comment.md"
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main",
               "--markdown", md)
    check: dict[str, Any] = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "regression")
    return res.exit_code, check, md.read_text(encoding="utf-8")


def _rate(check: dict[str, Any], suite: str) -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in check["details"]["comparisons"]
                                 if c["suite"] == suite and c["metric"] == "pass_rate")
    return found


def test_regression_renamed_suite_with_worse_answers_fails(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "    - name: answers\n", "    - name: faq\n")
    edit(bot / "traffic.yaml", "{measured: answers}", "{measured: faq}")
    # The recorded model is unsure of the same four questions under the suite's new name.
    unsure = {key.replace("answers/", "faq/"): UNSURE_ANSWER for key in UNSURE}
    write(bot, {**unsure, **{f"faq/{case}": VAGUE_ANSWER for case in WORSE}})
    repo.commit("rename the answers suite; answers got vaguer")

    code, check, md = _regression(bot, tmp_path)
    # The same 15-point drop fails under the suite's old name; renamed, its 60 baseline cases still count.
    assert code == 1 and check["status"] == "fail", check["summary"]
    assert "104 of 104 baseline cases compared" in check["summary"]
    rate = _rate(check, "faq")
    assert rate["base_suite"] == "answers" and rate["n"] == 60 and rate["verdict"] == "regression"
    assert sorted(rate["pass_to_fail"]) == sorted(WORSE)
    assert check["details"]["coverage"]["faq"]["base_suite"] == "answers"
    assert "faq: compared with the base's suite 'answers' (renamed)" in check["details"]["notes"][0]
    assert "compared with the base's suite 'answers' (renamed)" in md.replace("\\", "")
    assert "| faq (base: answers) | pass\\_rate | 78.3% vs 93.3% |" in md


def test_regression_prompt_name_changed_compares_its_testdata_suite(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    # A prompt file's `name:` names the suite its testData rows make.
    edit(bot / "prompts/classify.prompt.yml", "name: Ticket classifier\n", "name: Ticket router\n")
    repo.commit("rename the classifier prompt")

    code, check, _ = _regression(bot, tmp_path)
    assert code == 0, check["summary"]
    assert "104 of 104 baseline cases compared" in check["summary"]
    assert _rate(check, "Ticket router")["base_suite"] == "Ticket classifier"
    assert not any("Ticket classifier" in f["message"] for f in check["findings"])


def test_regression_removed_suite_counted_and_named_fails(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    text = (bot / "gate.yaml").read_text(encoding="utf-8")
    start = text.index("    - name: routing\n")
    end = text.index("  gates:\n")
    (bot / "gate.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    repo.commit("drop the routing suite")

    code, check, md = _regression(bot, tmp_path)
    # 38 of the baseline's 104 cases are no longer compared: the reviewer is told which suite, and what to do.
    assert code == 1 and check["status"] == "fail"
    assert "66 of 104 baseline cases compared" in check["summary"]
    assert check["details"]["coverage"]["routing"] == {"compared": 0, "baseline": 38, "by_input": 0, "new": 0,
                                                       "gone": True}
    [gone] = [f for f in check["findings"] if f["message"].startswith("routing:")]
    assert gone["severity"] == "error"
    assert "not in this run" in gone["message"] and "none of its 38 baseline cases" in gone["message"]
    assert "gate baseline update" in gone["message"]
    assert "routing: a suite of the baseline" in md


def test_regression_metric_gone_from_a_suite_is_a_warning(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    # The `answers` suite stops scoring with the prompt file's evaluators (grounded among them), whose gate stays.
    edit(bot / "gate.yaml", "      dataset: datasets/answers.jsonl\n",
          "      dataset: datasets/answers.jsonl\n      evaluators: false\n")
    repo.commit("answers: without the prompt's evaluators")

    code, check, md = _regression(bot, tmp_path)
    assert code == 0 and check["status"] == "warn", check["summary"]
    assert "**Not compared with the baseline:**\n\n- answers: 'cites the help centre' is no longer measured" in md
    gone = [f for f in check["findings"] if f["severity"] == "warning" and f["message"].startswith("answers:")]
    assert [f["message"].split("'")[1] for f in gone] == ["cites the help centre", "grounded"]
    assert "gates.metrics.grounded" in gone[1]["message"] and "could not be evaluated" in gone[1]["message"]
    assert gone[1]["file"].endswith("datasets/answers.jsonl")
    assert "no longer measured" in check["summary"]


def test_regression_small_suites_do_not_mask_a_regression(repo: GitRepo, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, repo.path / "bot", ignore=shutil.ignore_patterns("cache"))
    bot = repo.path / "bot"
    # Eight smoke suites of three cases each (gh-models prompt files often carry three testData rows): no drop
    # in them can ever be significant, so they must not weaken the test of the 60-case suite.
    smoke = "".join(f"    - name: smoke-{i}\n      prompt: prompts/classify.prompt.yml\n" for i in range(8))
    edit(bot / "gate.yaml", "    - name: answers\n", smoke + "    - name: answers\n")
    res = gate("baseline", "update", "-c", bot / "gate.yaml", "--only", "regression")
    assert res.exit_code == 0, res.stdout + res.stderr
    repo.commit("smoke suites, baseline")
    repo.git("checkout", "-q", "-b", "change")
    write(bot, {f"answers/{case}": VAGUE_ANSWER for case in WORSE})
    repo.commit("answers got vaguer")

    code, check, _ = _regression(bot, tmp_path)
    rate = _rate(check, "answers")
    # Without the smoke suites this exact drop (-15 pts, 95% CI -23.3 to -6.7, exact p=0.004) is a regression.
    assert rate["verdict"] == "regression", rate["verdict_text"]
    assert code == 1
    # Corrected with the one other comparison that moved (the suite's grounded score), not with all fourteen.
    assert rate["p_value"] < 0.01 and rate["family"] == 2 and rate["p_adjusted"] < 0.02
    smoke_rate = _rate(check, "smoke-0")
    assert smoke_rate["family"] == 0 and smoke_rate["p_adjusted"] == 1.0


def test_regression_clustered_drop_is_named_for_what_decided_it(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    # Answers that send the customer to a settings page now fail: 12 of 60 cases, in clusters.
    edit(bot / "gate.yaml", '"password is"]', '"password is", "Settings"]')
    repo.commit("answers must not send the customer to Settings")

    code, check, _ = _regression(bot, tmp_path)
    rate = _rate(check, "answers")
    # Alone in the family of comparisons that can reach significance: its own test decides.
    assert rate["family"] == 1 and rate["p_adjusted"] == rate["p_value"] < 0.05
    assert rate["verdict"] == "regression" and code == 1, rate["verdict_text"]
    assert "too few cases" not in check["summary"]


def test_regression_cases_that_got_worse_deleted_within_min_coverage_is_not_a_clean_pass(repo: GitRepo,
                                                                                         tmp_path: Path) -> None:
    # Deleting the 9 cases that would have regressed leaves 95 of 104 compared, within min_coverage (80%): the
    # warning names them, so the verdict does not read as a comparison that passed.
    bot = example_repo(repo)
    path = bot / "datasets" / "answers.jsonl"
    rows = path.read_text(encoding="utf-8").splitlines(keepends=True)
    kept = [r for r in rows if json.loads(r)["id"] not in WORSE]
    assert len(rows) - len(kept) == len(WORSE)
    path.write_text("".join(kept), encoding="utf-8")
    repo.commit("drop nine cases")
    code, check, _ = _regression(bot, tmp_path)
    assert code == 0 and check["status"] == "warn", check["summary"]
    [gone] = [f for f in check["findings"] if "not in this run" in f["message"]]
    assert gone["severity"] == "warning" and gone["file"] == "bot/datasets/answers.jsonl"
    assert gone["message"].startswith("answers: 9 baseline cases not in this run (backup-2, invoice-2, logs-2, "
                                      "password-1, rate-limit-1 and 4 more)"), gone["message"]
