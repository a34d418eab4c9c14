"""What the regression check says about its own configuration and evidence is true: a gate on a metric no suite
scores is named at its gate.yaml line, a suite of which the cassette answered most cases is not "never recorded",
and a moved cassette is the base's evidence, not new answers. Real CLI, real git repositories, offline cassette."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo, edit, example_repo, gate
from tests.e2e.support_bot_cassette import VAGUE_ANSWER, write

# 9 of the 60 `answers` cases that pass on main (as in test_regression_example).
WORSE = ["password-1", "refund-annual-2", "rate-limit-1", "invoice-2", "seats-1", "backup-2", "sso-1",
         "logs-2", "webhooks-1"]
CASSETTE = "cassettes/support-bot.jsonl"


def _check(result: Any, name: str = "regression") -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in json.loads(result.stdout)["checks"] if c["name"] == name)
    return found


def _regression(bot: Path) -> tuple[Any, dict[str, Any]]:
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    return res, _check(res)


def _rerecorded(check: dict[str, Any]) -> list[str]:
    return [f["message"] for f in check["findings"] if "in this change" in f["message"]]


def test_regression_testdata_row_added_is_not_called_never_recorded(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "prompts/classify.prompt.yml", "    expected: account\n",
          "    expected: account\n  - message: My invoice shows the wrong VAT number.\n    expected: billing\n")
    edit(bot / "prompts/classify.prompt.yml", "version: 2.0.1", "version: 2.1.0")
    repo.commit("one more classifier row")

    res, check = _regression(bot)
    assert res.exit_code == 1
    message = next(f["message"] for f in check["findings"] if f["message"].startswith("Ticket classifier:"))
    # Three of its four cases replayed from this very cassette (labelled with the routing suite's case ids,
    # which share their requests): it was recorded, one row is new.
    assert message == ("Ticket classifier: 1 of 4 cases have no recording for the current prompt: run `gate check "
                       "--record` and commit the cassette")


def test_regression_prompt_parameters_changed_is_not_called_never_recorded(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "prompts/classify.prompt.yml", "temperature: 0\n", "temperature: 0.3\n")
    edit(bot / "prompts/classify.prompt.yml", "version: 2.0.1", "version: 2.1.0")
    repo.commit("a warmer classifier")

    res, check = _regression(bot)
    assert res.exit_code == 1
    messages = {f["message"].split(":")[0]: f["message"] for f in check["findings"] if "--record" in f["message"]}
    # Every request of both suites changed, so no case found a line; the classifier's lines are labelled with
    # the routing suite's case ids. Its inputs are in the cassette: it was recorded, with another temperature.
    assert messages["routing"].startswith("routing: 38 of 38 cases have no recording for the current prompt")
    assert messages["Ticket classifier"] == ("Ticket classifier: 3 of 3 cases have no recording for the current "
                                             "prompt: run `gate check --record` and commit the cassette")


def test_regression_new_suite_is_never_recorded(repo: GitRepo) -> None:
    bot = example_repo(repo)
    (bot / "prompts/greet.prompt.yml").write_text(
        "name: Greeter\nversion: 1.0.0\nmodel: router\nmessages:\n  - role: user\n    content: 'Greet {{who}}.'\n"
        "testData:\n  - who: Ada\n  - who: Grace\n", encoding="utf-8")
    edit(bot / "gate.yaml", "    - name: answers\n", "    - prompt: prompts/greet.prompt.yml\n    - name: answers\n")
    repo.commit("a greeter suite")

    res, check = _regression(bot)
    assert res.exit_code == 1
    [message] = [f["message"] for f in check["findings"] if f["message"].startswith("Greeter:")]
    assert message == ("Greeter: never recorded: bot/cassettes/support-bot.jsonl holds no answer for this suite: run "
                       "`gate check --record` and commit the cassette (2 of 2 cases not compared)")


def test_regression_moved_cassette_is_not_new_evidence(repo: GitRepo) -> None:
    bot = example_repo(repo)
    (bot / "recordings").mkdir()
    repo.git("mv", "bot/cassettes/support-bot.jsonl", "bot/recordings/support-bot.jsonl")
    edit(bot / "gate.yaml", "{replay: cassettes/support-bot.jsonl}", "{replay: recordings/support-bot.jsonl}")
    repo.commit("move the cassette")

    res, check = _regression(bot)
    assert res.exit_code == 0, check["summary"]
    # The same recordings at another path: the base's evidence, nothing to review.
    assert _rerecorded(check) == []


def test_regression_moved_and_edited_cassette_counts_the_changed_answers(repo: GitRepo) -> None:
    bot = example_repo(repo)
    (bot / "recordings").mkdir()
    repo.git("mv", "bot/cassettes/support-bot.jsonl", "bot/recordings/support-bot.jsonl")
    edit(bot / "gate.yaml", "{replay: cassettes/support-bot.jsonl}", "{replay: recordings/support-bot.jsonl}")
    path = bot / "recordings/support-bot.jsonl"
    lines = path.read_text(encoding="utf-8").split("\n")
    item = json.loads(lines[1])
    item["response"]["content"] += " (planted)"
    lines[1] = json.dumps(item, sort_keys=True, ensure_ascii=False)
    path.write_text("\n".join(lines), encoding="utf-8")
    repo.commit("move the cassette, and edit one answer")

    res, check = _regression(bot)
    assert res.exit_code in (0, 1), res.stdout + res.stderr
    assert _rerecorded(check) == [
        "recordings/support-bot.jsonl (cassettes/support-bot.jsonl on the base branch) was re-recorded in this "
        "change: 1 recorded answer new or changed since the base branch. Replayed answers are the change's own "
        "evidence: review the cassette's diff beside its prompts"]


def test_regression_rewritten_cassette_counts_changed_answers_not_respelt_lines(repo: GitRepo) -> None:
    bot = example_repo(repo)
    # Written anew, as `gate check --record` writes it: the routing lines' producers now spell the parameters
    # their requests were sent with, and 9 answers (with their 9 grades) got vaguer.
    write(bot, {f"answers/{case}": VAGUE_ANSWER for case in WORSE})
    repo.commit("answers got vaguer")
    changed = repo.git("diff", "--numstat", "main", "--", f"bot/{CASSETTE}").split()[0]
    assert int(changed) > 18  # the lines git shows as changed

    res, check = _regression(bot)
    assert res.exit_code == 1
    [notice] = _rerecorded(check)
    assert notice.startswith(f"{CASSETTE} was re-recorded in this change: 18 recorded answers new or changed "), notice


def test_regression_cassette_moved_in_the_working_copy_compared_with_the_path_the_base_names(repo: GitRepo) -> None:
    bot = example_repo(repo)
    # Moved by hand and not yet added: git sees no rename, the base's gate.yaml says where the cassette was.
    (bot / "recordings").mkdir()
    (bot / CASSETTE).rename(bot / "recordings/support-bot.jsonl")
    edit(bot / "gate.yaml", "{replay: cassettes/support-bot.jsonl}", "{replay: recordings/support-bot.jsonl}")
    path = bot / "recordings/support-bot.jsonl"
    lines = path.read_text(encoding="utf-8").split("\n")
    for i in (1, 2):
        item = json.loads(lines[i])
        item["response"]["content"] += " (planted)"
        lines[i] = json.dumps(item, sort_keys=True, ensure_ascii=False)
    path.write_text("\n".join(lines), encoding="utf-8")

    res, check = _regression(bot)
    assert res.exit_code in (0, 1), res.stdout + res.stderr
    [notice] = _rerecorded(check)
    assert notice.startswith("recordings/support-bot.jsonl (cassettes/support-bot.jsonl on the base branch) was "
                             "re-recorded in this change: 2 recorded answers new or changed "), notice


def test_regression_gate_on_a_metric_no_suite_measures_is_a_config_error(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "      grounded: {min_score: 0.6", "      groundedness: {min_score: 0.6")
    repo.commit("a typo in a metric's gate")

    res = gate("validate", "-c", bot / "gate.yaml", "--base-ref", "main")
    # The min_score the reviewer reads in gate.yaml applies to nothing: say so where it is written.
    assert res.exit_code == 2, res.stdout
    assert res.stderr.startswith("error: ") and res.stderr.partition("/bot/gate.yaml:")[2].startswith("57:7: gates.metrics.groundedness: no suite scores a metric "
                                 "named 'groundedness' (did you mean 'grounded'?)"), res.stderr


def test_regression_threshold_on_a_metric_the_suite_does_not_score_is_a_config_error(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "      dataset: datasets/answers.jsonl\n",
          "      dataset: datasets/answers.jsonl\n      thresholds: {groundd: 0.9}\n")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--base-ref", "main")
    assert res.exit_code == 2, res.stdout
    assert res.stderr.partition("/bot/gate.yaml:")[2].startswith("40:20: thresholds.groundd: the suite scores no metric named "
                                 "'groundd' (did you mean 'grounded'?)"), res.stderr
    # Named by a dataset row's assert, the same threshold applies: the run measures it.
    rows = (bot / "datasets/answers.jsonl").read_text(encoding="utf-8").splitlines()
    first = json.loads(rows[0])
    first["assert"] = [{"name": "groundd", "uses": "github/groundedness"}]
    (bot / "datasets/answers.jsonl").write_text("\n".join([json.dumps(first), *rows[1:]]) + "\n", encoding="utf-8")
    assert gate("validate", "-c", bot / "gate.yaml", "--base-ref", "main").exit_code == 0


def test_regression_prompt_with_testdata_no_suite_runs_is_a_notice_at_its_rows(repo: GitRepo) -> None:
    bot = example_repo(repo)
    (bot / "prompts" / "greet.prompt.yml").write_text(
        "name: Greeting\nversion: 1.0.0\nmodel: primary\nmessages:\n  - role: user\n    content: 'Hi {{name}}'\n"
        "testData:\n  - name: Ada\n    expected: Ada\n", encoding="utf-8")
    repo.commit("a greeting prompt with its rows, not added to suites")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    check = _check(res)
    notices = [(f["file"], f["line"], f["message"]) for f in check["findings"] if f["file"].endswith("greet.prompt.yml")]
    assert notices == [("bot/prompts/greet.prompt.yml", 7, "has testData, but no suite in gate.yaml's `suites:` runs "
                        "it: its rows are not run (add a suite whose `prompt:` names this file)")], notices
    assert res.exit_code == 0  # a notice: the suites gate.yaml lists still decide
