"""The base's cost is what `gate check` reports on the base commit: computed through the base's own gate.yaml, so a
change that renames or moves a file the cost reads neither switches the comparison off nor moves the figure; and
what the comparison says about itself (a budget it could not evaluate, counting, unmeasured suites) is true."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE, GitRepo, edit, example_repo, gate

MORE_TRAFFIC = ("requests_per_day: {p50: 40000, p95: 60000}", "requests_per_day: {p50: 60000, p95: 90000}")


def _cost(bot: Path) -> tuple[int, dict[str, Any]]:
    res = gate("cost", "-c", bot / "gate.yaml", "--format", "json", "--base-ref", "main")
    check: dict[str, Any] = next(c for c in json.loads(res.stdout)["checks"] if c["name"] == "cost")
    return res.exit_code, check


def _gate_line(bot: Path, text: str) -> int:
    return next(i for i, line in enumerate((bot / "gate.yaml").read_text().splitlines(), 1) if text in line)


def test_cost_renamed_prompt_with_more_traffic_fails_the_increase_budget(repo: GitRepo) -> None:
    bot = example_repo(repo)
    repo.git("mv", "bot/prompts/answer.prompt.yml", "bot/prompts/support-answer.prompt.yml")
    for name in ("gate.yaml", "traffic.yaml", "docs/failure-modes.md"):
        edit(bot / name, "prompts/answer.prompt.yml", "prompts/support-answer.prompt.yml")
    edit(bot / "traffic.yaml", *MORE_TRAFFIC)
    repo.commit("rename the answer prompt; 50% more traffic")

    code, check = _cost(bot)
    # +45% against main, over the 25% fail budget: a renamed file must not switch the comparison off.
    assert check["metrics"].get("monthly_usd_base") is not None, check["summary"]
    assert code == 1 and check["status"] == "fail"
    assert any(f["severity"] == "error" and "rises by" in f["message"] and f["line"] == _gate_line(bot, "max_increase_pct")
               for f in check["findings"])


def test_cost_renamed_suite_with_more_traffic_fails_the_increase_budget(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "gate.yaml", "    - name: answers\n", "    - name: faq\n")
    edit(bot / "traffic.yaml", "{measured: answers}", "{measured: faq}")
    edit(bot / "traffic.yaml", *MORE_TRAFFIC)
    repo.commit("rename the answers suite; 50% more traffic")

    code, check = _cost(bot)
    assert check["metrics"].get("monthly_usd_base") is not None, check["summary"]
    assert code == 1 and check["status"] == "fail"
    # Both sides measured from the same recording, each under its own suite name: like for like.
    assert 40 < check["metrics"]["delta_pct"] < 50


def test_cost_traffic_moved_to_another_folder_still_compared(repo: GitRepo) -> None:
    bot = example_repo(repo)
    (bot / "cfg").mkdir()
    repo.git("mv", "bot/traffic.yaml", "bot/cfg/traffic.yaml")
    text = (bot / "cfg/traffic.yaml").read_text(encoding="utf-8")
    (bot / "cfg/traffic.yaml").write_text(text.replace("prompt: prompts/", "prompt: ../prompts/"), encoding="utf-8")
    edit(bot / "cfg/traffic.yaml", *MORE_TRAFFIC)
    edit(bot / "gate.yaml", "  traffic: traffic.yaml", "  traffic: cfg/traffic.yaml")
    repo.commit("traffic.yaml under cfg/; 50% more traffic")

    code, check = _cost(bot)
    assert check["metrics"].get("monthly_usd_base") is not None, check["summary"]
    assert code == 1 and check["status"] == "fail"


def test_cost_moved_cassette_changes_no_cost(repo: GitRepo) -> None:
    bot = example_repo(repo)
    (bot / "recordings").mkdir()
    repo.git("mv", "bot/cassettes/support-bot.jsonl", "bot/recordings/support-bot.jsonl")
    edit(bot / "gate.yaml", "{replay: cassettes/support-bot.jsonl}", "{replay: recordings/support-bot.jsonl}")
    repo.commit("move the cassette")

    code, check = _cost(bot)
    # The base's figure is what `gate check` reports on the base commit: the same recording, moved.
    assert code == 0 and check["status"] == "pass", check["summary"]
    assert check["metrics"]["delta_usd"] == 0, check["summary"]


def test_cost_dataset_turned_into_csv_changes_no_cost(repo: GitRepo) -> None:
    bot = example_repo(repo)
    rows = [json.loads(line) for line in (bot / "datasets/answers.jsonl").read_text(encoding="utf-8").splitlines()]
    out = io.StringIO()
    writer = csv.DictWriter(out, ["id", "question", "context", "expected"], extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    (bot / "datasets/answers.csv").write_text(out.getvalue(), encoding="utf-8")
    repo.git("rm", "-q", "bot/datasets/answers.jsonl")
    edit(bot / "gate.yaml", "dataset: datasets/answers.jsonl", "dataset: datasets/answers.csv")
    repo.commit("the answers dataset as CSV")

    code, check = _cost(bot)
    assert code == 0 and check["status"] == "pass", check["summary"]
    assert check["metrics"]["delta_usd"] == 0, check["summary"]


def test_cost_base_not_computable_warns_at_the_increase_budget(repo: GitRepo) -> None:
    bot = example_repo(repo)
    repo.git("checkout", "-q", "main")
    edit(bot / "traffic.yaml", "version: 1", "version: 1\nbroken: [")
    repo.commit("a broken traffic.yaml on main")
    repo.git("checkout", "-q", "-b", "fixed")
    edit(bot / "traffic.yaml", "version: 1\nbroken: [", "version: 1")
    edit(bot / "traffic.yaml", *MORE_TRAFFIC)
    repo.commit("fixed; 50% more traffic")

    code, check = _cost(bot)
    # The increase budget could not be evaluated: not a clean pass, and the reviewer is told where and why.
    assert code == 0 and check["status"] == "warn", check["summary"]
    [warning] = [f for f in check["findings"] if f["severity"] == "warning"]
    assert warning["line"] == _gate_line(bot, "max_increase_pct")
    assert "max_increase_pct" in warning["message"] and "not evaluated" in warning["message"]
    assert "traffic.yaml" in warning["message"] and "main" in warning["message"]


def test_cost_renamed_profile_with_more_traffic_is_not_a_clean_pass(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "traffic.yaml", "  expected:\n", "  usual:\n")
    edit(bot / "gate.yaml", "  profile: expected", "  profile: usual")
    edit(bot / "traffic.yaml", *MORE_TRAFFIC)
    repo.commit("the expected profile is now 'usual'; 50% more traffic")

    code, check = _cost(bot)
    assert code == 0 and check["status"] == "warn", check["summary"]
    [warning] = [f for f in check["findings"] if f["severity"] == "warning"]
    assert warning["line"] == _gate_line(bot, "max_increase_pct")
    assert warning["message"] == ("profile usual: monthly cost: the max_increase_pct budget was not evaluated: the base "
                                  "was not compared (profile usual is new: the base's bot/traffic.yaml has no such "
                                  "profile)")


def test_cost_base_without_gate_yaml_reads_the_base_through_this_change(repo: GitRepo) -> None:
    shutil.copytree(EXAMPLE, repo.path / "bot", ignore=shutil.ignore_patterns("cache"))
    (repo.path / "bot/gate.yaml").rename(repo.path / "bot/gate.yml.off")
    repo.commit("the support bot, before the gate")
    repo.git("checkout", "-q", "-b", "change")
    (repo.path / "bot/gate.yml.off").rename(repo.path / "bot/gate.yaml")
    repo.commit("adopt the gate")

    code, check = _cost(repo.path / "bot")
    assert code == 0 and check["metrics"]["delta_usd"] == 0, check["summary"]
    assert any(f["severity"] == "notice" and "this change's gate.yaml" in f["message"]
               and "bot/gate.yaml does not exist at main" in f["message"] for f in check["findings"])


def test_cost_temperature_change_is_not_an_increase_from_counting(repo: GitRepo) -> None:
    shutil.copytree(EXAMPLE, repo.path / "bot", ignore=shutil.ignore_patterns("cache"))
    bot = repo.path / "bot"
    edit(bot / "gate.yaml", "max_increase_pct: {warn: 10,", "max_increase_pct: {warn: 5,")
    repo.commit("the support bot, warned at +5%")
    repo.git("checkout", "-q", "-b", "change")
    edit(bot / "prompts/answer.prompt.yml", "  temperature: 0.2", "  temperature: 0.3")
    edit(bot / "prompts/answer.prompt.yml", "version: 1.2.0", "version: 1.2.1")
    repo.commit("a warmer answer (not re-recorded)")

    code, check = _cost(bot)
    # The head's tokens are estimated (the recording is for temperature 0.2), the base's measured: the move is the
    # counting, not the change. The like-for-like figure is what the increase budget judges.
    assert code == 0 and check["status"] == "pass", check["findings"]
    assert not [f for f in check["findings"] if "rises by" in f["message"]]
    assert [f["message"] for f in check["findings"] if "like for like" in f["message"]] == [
        f"profile expected: monthly cost, like for like, does not change, within the increase budgets; as counted "
        f"+${check['metrics']['delta_usd']:.2f}, of which +${check['metrics']['delta_usd']:.2f} is from tokens counted "
        "differently on each side"]
    assert check["metrics"]["delta_usd"] != 0


def test_cost_unmeasured_notice_names_only_the_suites_a_route_measures(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "models.yaml", "model: openai/gpt-4.1-nano", "model: openai/gpt-4.1-mini")
    repo.commit("the router on a larger model (not re-recorded)")

    res = gate("check", "--only", "regression,cost", "-c", bot / "gate.yaml", "--format", "json", "--base-ref", "main")
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    # Both suites of the classify prompt were left out; traffic.yaml measures `routing` only.
    assert sorted(checks["regression"]["details"]["run"]["unmeasured"]) == ["Ticket classifier", "routing"]
    unmeasured = [f["message"] for f in checks["cost"]["findings"] if f["message"].startswith("measured tokens unavailable")]
    assert len(unmeasured) == 1 and unmeasured[0].startswith("measured tokens unavailable for suite routing: "), unmeasured
    # The larger model costs more however tokens are counted: judged like for like, and the counting's share said.
    [rise] = [f["message"] for f in checks["cost"]["findings"] if "rises by" in f["message"]]
    assert rise.startswith("profile expected: monthly cost, like for like, rises by ")
    assert "of the change as counted is from tokens counted differently on each side" in rise
    assert float(rise.split("rises by ")[1].split("%")[0]) < checks["cost"]["metrics"]["delta_pct"]


def test_cost_datasets_folder_moved_changes_no_cost(repo: GitRepo) -> None:
    bot = example_repo(repo)
    repo.git("mv", "bot/datasets", "bot/data")
    edit(bot / "gate.yaml", "dataset: datasets/answers.jsonl", "dataset: data/answers.jsonl")
    edit(bot / "gate.yaml", "dataset: datasets/routing.jsonl", "dataset: data/routing.jsonl")
    edit(bot / "gate.yaml", "json_schema: datasets/route.schema.json", "json_schema: data/route.schema.json")
    repo.commit("datasets/ is now data/")

    code, check = _cost(bot)
    # The base's suites as the base names them; how their answers are scored (a json_schema file no longer in this
    # checkout) is no part of what they cost.
    assert code == 0 and check["status"] == "pass", check["summary"]
    assert check["metrics"]["delta_usd"] == 0, check["summary"]


def test_cost_prompt_switched_to_a_model_without_fallback_fails_the_cost_check_only(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "prompts" / "answer.prompt.yml", "model: primary", "model: backup")
    repo.commit("answer with the backup model")
    res = gate("check", "-c", bot / "gate.yaml", "--skip", "load,resilience,retrieval,docs", "--format", "json",
               "--base-ref", "main")
    # traffic.yaml's fallback_rate was right for `primary`; the prompt's edit made it wrong. A finding of the cost
    # check at the route, not an exit 2 that stops every check and leaves no report.
    assert res.exit_code == 1, res.stdout + res.stderr
    checks = {c["name"]: c for c in json.loads(res.stdout)["checks"]}
    assert checks["cost"]["status"] == "fail" and checks["regression"]["status"] in ("pass", "fail", "warn")
    line = next(i for i, text in enumerate((bot / "traffic.yaml").read_text(encoding="utf-8").splitlines(), 1)
                if "fallback_rate: 0.01" in text)
    found = [(f["file"], f["line"]) for f in checks["cost"]["findings"] if "has no fallback" in f["message"]]
    assert found == [("bot/traffic.yaml", line)], checks["cost"]["findings"]
