"""A recorded or cached answer is evidence only for what produced it: the example in a real git repository, and a
live model on a loopback server, through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GitRepo, Result, edit, example_repo, gate
from tests.servers.openai_fake import Behaviour, serve

RERECORD = "run `gate check --record` and commit the cassette"
CASSETTE = "bot/cassettes/support-bot.jsonl"


def _check(res: Any, name: str = "regression") -> dict[str, Any]:
    found: dict[str, Any] = next(c for c in res.json()["checks"] if c["name"] == name)
    return found


def test_regression_model_switched_in_models_yaml_fails_naming_both_models(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "models.yaml", "    provider: github-models\n    model: openai/gpt-4o-mini",
          "    provider: openai\n    model: gpt-4.1")
    repo.commit("answer with gpt-4.1")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _check(res)
    assert check["status"] == "fail"
    gaps = sorted(f["message"] for f in check["findings"] if f["file"] == CASSETTE)
    assert gaps == [
        f"Support answer: answers were recorded with openai/gpt-4o-mini; the target is now gpt-4.1: {RERECORD} "
        "(3 of 3 cases not compared)",
        f"answers: answers were recorded with openai/gpt-4o-mini; the target is now gpt-4.1: {RERECORD} "
        "(60 of 60 cases not compared)"]
    assert check["summary"].startswith("Support answer: answers were recorded with openai/gpt-4o-mini; the target is "
                                       "now gpt-4.1")
    # The router's suites still answer with their own model and are compared as before.
    assert sorted(check["details"]["suites"]) == ["Ticket classifier", "routing"]
    assert {c["suite"] for c in check["details"]["comparisons"]} <= {"Ticket classifier", "routing"}


def test_regression_old_model_kept_as_fallback_does_not_answer_for_the_new_primary(repo: GitRepo) -> None:
    bot = example_repo(repo)
    models = (bot / "models.yaml").read_text(encoding="utf-8")
    # primary and backup trade models: the recordings' model is still in the chain, but not as the primary.
    edit(bot / "models.yaml", "    provider: github-models\n    model: openai/gpt-4o-mini\n    api_key_env: GITHUB_TOKEN",
          "    provider: openai\n    model: gpt-4.1\n    api_key_env: OPENAI_API_KEY")
    edit(bot / "models.yaml", "    provider: openai\n    model: gpt-4.1-mini\n    api_key_env: OPENAI_API_KEY",
          "    provider: github-models\n    model: openai/gpt-4o-mini\n    api_key_env: GITHUB_TOKEN")
    assert (bot / "models.yaml").read_text(encoding="utf-8") != models
    repo.commit("answer with gpt-4.1, the old model as its fallback")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _check(res)
    assert check["summary"].startswith("Support answer: answers were recorded with openai/gpt-4o-mini; the target is "
                                       "now gpt-4.1")


def _primary_params(repo: GitRepo, params: str, why: str) -> Result:
    """The example with the primary's models.yaml params replaced, committed, and its regression check's run."""
    bot = example_repo(repo)
    edit(bot / "models.yaml", "params: {temperature: 0.2, max_tokens: 400}\n    timeout: 30\n    fallback: [backup]",
          f"params: {params}\n    timeout: 30\n    fallback: [backup]")
    repo.commit(why)
    return gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")


def test_regression_same_model_other_params_names_the_difference(repo: GitRepo) -> None:
    # top_p: a parameter the prompt does not set, so a live run would now send it.
    res = _primary_params(repo, "{temperature: 0.2, max_tokens: 400, top_p: 0.5}", "a narrower primary")
    assert res.exit_code == 1, res.stdout + res.stderr
    message = next(f["message"] for f in _check(res)["findings"] if f["message"].startswith("answers: "))
    assert message.startswith('answers: answers were recorded with openai/gpt-4o-mini (params {"max_tokens":400,'
                              '"temperature":0.2}); the target is now openai/gpt-4o-mini (params {"max_tokens":400,'
                              '"temperature":0.2,"top_p":0.5}): run `gate check --record`')


def test_regression_models_yaml_param_the_prompt_overrides_still_replays(repo: GitRepo) -> None:
    # The answer prompt sets temperature itself: a live run would still send 0.2, so its recordings still count.
    res = _primary_params(repo, "{temperature: 0.9, max_tokens: 400}",
                          "a warmer primary, where the prompts do not say otherwise")
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _check(res)
    assert "left_out" not in check["details"]["run"]
    assert sorted(check["details"]["suites"]) == ["Support answer", "Ticket classifier", "answers", "routing"]
    assert check["metrics"]["cases"] == 104


def test_regression_prompt_sets_another_temperature_recordings_do_not_count(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "prompts" / "answer.prompt.yml", "  temperature: 0.2\n", "  temperature: 1\n")
    edit(bot / "prompts" / "answer.prompt.yml", "version: 1.2.0", "version: 1.3.0")
    repo.commit("a warmer answer prompt, not re-recorded")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 1, res.stdout + res.stderr
    gaps = sorted(f["message"] for f in _check(res)["findings"] if f["file"] == CASSETTE)
    assert gaps == [f"Support answer: 3 of 3 cases have no recording for the current prompt: {RERECORD}",
                    f"answers: 60 of 60 cases have no recording for the current prompt: {RERECORD}"]


def test_regression_prompt_edited_without_rerecording_one_finding_per_suite_no_statistics(repo: GitRepo) -> None:
    bot = example_repo(repo)
    edit(bot / "prompts" / "answer.prompt.yml", "Keep answers under 120 words.", "Keep answers under 80 words.")
    edit(bot / "prompts" / "answer.prompt.yml", "version: 1.2.0", "version: 1.3.0")
    repo.commit("shorter answers, not re-recorded")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression,docs,cost", "--format", "json",
               "--base-ref", "main")
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _check(res)
    assert check["status"] == "fail"
    gaps = sorted((f["file"], f["message"]) for f in check["findings"] if f["severity"] == "error")
    assert gaps == [
        (CASSETTE, f"Support answer: 3 of 3 cases have no recording for the current prompt: {RERECORD}"),
        (CASSETTE, f"answers: 60 of 60 cases have no recording for the current prompt: {RERECORD}")]
    # No statistics on unrecorded cases, and no failure category for them.
    assert "regressed" not in check["summary"]
    assert not any(c["suite"] in ("answers", "Support answer") for c in check["details"]["comparisons"])
    assert "transport.client_error" not in check["metrics"]["failure_categories"]
    assert check["metrics"]["cases"] == 41
    docs = _check(res, "docs")
    assert "client_error" not in json.dumps(docs)
    cost = _check(res, "cost")
    unavailable = [f["message"] for f in cost["findings"] if f["message"].startswith("measured tokens unavailable")]
    # Only the suite a route of traffic.yaml measures (not `Support answer`, which no route reads).
    assert unavailable == [
        f"measured tokens unavailable for suite answers: the regression check left its cases out (answers: 60 of 60 "
        f"cases have no recording for the current prompt: {RERECORD}); estimated from the prompt instead"]


def test_regression_merge_of_shards_keeps_the_left_out_findings(repo: GitRepo, tmp_path: Path) -> None:
    bot = example_repo(repo)
    edit(bot / "prompts" / "answer.prompt.yml", "Keep answers under 120 words.", "Keep answers under 80 words.")
    repo.commit("not re-recorded")
    parts = []
    for i in (1, 2):
        parts.append(tmp_path / f"shard-{i}.json")
        shard = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--base-ref", "main", "--shard",
                     f"{i}/2", "--report-json", parts[-1])
        assert shard.exit_code == 1, shard.stdout + shard.stderr
    res = gate("merge", *parts, "-c", bot / "gate.yaml", "--base-ref", "main", "--format", "json")
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _check(res)
    assert check["status"] == "fail" and check["summary"].startswith("Support answer: ")
    gaps = [f["message"] for f in check["findings"] if f["file"] == CASSETTE]
    assert len(gaps) == 4 and all("have no recording for the current prompt" in g for g in gaps)


def test_regression_cassette_without_producers_fails_closed(repo: GitRepo) -> None:
    bot = example_repo(repo)
    path = bot.parent / CASSETTE
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    path.write_text("".join(json.dumps({k: v for k, v in x.items() if k != "producer"}) + "\n" for x in lines),
                    encoding="utf-8")
    repo.commit("a cassette recorded before producers were kept")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _check(res)
    assert check["metrics"]["cases"] == 0 and check["details"]["comparisons"] == []
    assert check["summary"] == (f"Support answer: {CASSETTE} does not say which model recorded its answers (recorded "
                                f"by an older prodgate), so they cannot be matched with openai/gpt-4o-mini: {RERECORD} "
                                "(3 of 3 cases not compared) (+3 more)")


def test_regression_judge_recorded_with_another_model_is_not_evidence(repo: GitRepo) -> None:
    bot = example_repo(repo)
    path = bot.parent / CASSETTE
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for x in lines:
        if x["producer"]["model"] == "openai/gpt-4o":
            x["producer"]["model"] = "openai/gpt-4o-mini"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    repo.commit("grades recorded with a smaller judge")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 1, res.stdout + res.stderr
    messages = sorted(f["message"] for f in _check(res)["findings"] if f["file"] == CASSETTE)
    assert messages[0] == (f"Support answer: the judge's grades were recorded with openai/gpt-4o-mini; the judge is now "
                           f"openai/gpt-4o: {RERECORD} (3 of 3 cases not compared)")


def test_regression_producer_with_lone_surrogate_is_named_not_a_crash(repo: GitRepo) -> None:
    bot = example_repo(repo)
    path = bot.parent / CASSETTE
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    for x in lines:
        if x["producer"]["model"] == "openai/gpt-4o-mini":
            x["producer"]["model"] = "gpt-\ud800"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")  # ASCII: "\ud800" escaped
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code == 1, res.stdout + res.stderr
    assert _check(res)["summary"].startswith("Support answer: answers were recorded with gpt-\ufffd; the target is "
                                             "now openai/gpt-4o-mini")


def _live_repo(root: Path, url: str) -> Path:
    (root / "models.yaml").write_text(
        "version: 1\nmodels:\n  fake:\n    provider: openai-compatible\n    model: fake-model\n"
        f"    base_url: {url}/v1\n    api_key_env: FAKE_API_KEY\n", encoding="utf-8")
    (root / "q.prompt.yml").write_text("name: q\nmodel: fake\nmessages:\n  - role: user\n    content: '{{q}}'\n",
                                       encoding="utf-8")
    (root / "cases.jsonl").write_text("".join(json.dumps({"id": f"c{i}", "q": f"say ok {i}"}) + "\n"
                                              for i in range(6)), encoding="utf-8")
    (root / "gate.yaml").write_text(
        "version: 1\nmodels: models.yaml\nregression:\n  target: {model: fake}\n  suites:\n    - name: q\n"
        "      prompt: q.prompt.yml\n      dataset: cases.jsonl\n      metrics: [{contains: ok}]\n", encoding="utf-8")
    return root / "gate.yaml"


def _says(word: str) -> Behaviour:
    return Behaviour(answer=lambda body: f"{word} {body['messages'][-1]['content'].rsplit(' ', 1)[-1]}")


@pytest.fixture
def live(repo: GitRepo, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    with serve(_says("ok")) as srv:
        yield srv, _live_repo(repo.path, srv.url)


def test_regression_tracked_cache_file_ignored_with_a_warning(repo: GitRepo, live: Any) -> None:
    server, config = live
    first = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert first.exit_code == 0 and server.count == 6
    planted = sorted((repo.path / ".gate" / "cache").rglob("*.json"))
    assert len(planted) == 6
    for path in planted:  # a pull request plants passing answers for a model that now fails
        data = json.loads(path.read_text(encoding="utf-8"))
        data["response"]["content"] = "ok, planted"
        path.write_text(json.dumps(data), encoding="utf-8")
    repo.commit("a committed cache")
    server.behaviour = _says("no")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert res.exit_code == 0, res.stdout + res.stderr  # every case fails, no gate: a warning
    check = _check(res)
    assert server.count == 12 and check["metrics"]["cached_answers"] == 0 and check["metrics"]["passed"] == 0
    warning = next(f for f in check["findings"] if f["severity"] == "warning")
    assert (warning["file"], warning["message"]) == (".gate/cache", "6 files under .gate/cache are tracked by git "
                                                     "and were not read: a committed cache could plant answers "
                                                     "(remove them with `git rm -r --cached .gate/cache`)")
    assert all("planted" in p.read_text(encoding="utf-8") for p in planted)  # left as committed


def test_regression_cached_answers_counted_in_summary_and_metrics(live: Any) -> None:
    server, config = live
    gate("check", "-c", config, "--only", "regression", "--format", "json")
    server.behaviour = _says("no")  # the server changed; the cache still holds the old answers
    res = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert res.exit_code == 0 and server.count == 6
    check = _check(res)
    assert check["metrics"]["cached_answers"] == 6 and check["metrics"]["passed"] == 6
    assert check["summary"].endswith("; 6 of 6 answers from the cache")
    fresh = gate("check", "-c", config, "--only", "regression", "--format", "json", "--no-cache")
    assert _check(fresh)["metrics"]["cached_answers"] == 0 and "from the cache" not in _check(fresh)["summary"]


def test_baseline_update_no_cache_asks_the_server_again(repo: GitRepo, live: Any) -> None:
    server, config = live
    baseline = repo.path / ".gate" / "baseline.json"
    res = gate("baseline", "update", "-c", config)
    assert res.exit_code == 0, res.stdout + res.stderr
    first = json.loads(baseline.read_text(encoding="utf-8"))
    server.behaviour = _says("no")
    cached = gate("baseline", "update", "-c", config)
    assert cached.exit_code == 0 and server.count == 6
    again = json.loads(baseline.read_text(encoding="utf-8"))
    # The cache answered: the same cases, and the file says its answers came from the cache.
    assert "cached_answers" not in first and again.pop("cached_answers") == 6 and again == first
    fresh = gate("baseline", "update", "-c", config, "--no-cache")
    assert fresh.exit_code == 0, fresh.stdout + fresh.stderr
    assert server.count == 12
    written = json.loads(baseline.read_text(encoding="utf-8"))
    assert "cached_answers" not in written
    cases = written["suites"]["q"]["cases"]
    assert [c["pass"] for c in cases.values()] == [False] * 6


def test_baseline_update_keep_outputs_false_in_gate_yaml_keeps_hashes_only(repo: GitRepo, live: Any) -> None:
    server, config = live
    config.write_text(config.read_text(encoding="utf-8") + "  baseline: {path: .gate/baseline.json, keep_outputs: false}\n",
                      encoding="utf-8")
    res = gate("baseline", "update", "-c", config, "--no-cache")
    assert res.exit_code == 0, res.stdout + res.stderr
    cases = json.loads((repo.path / ".gate" / "baseline.json").read_text(encoding="utf-8"))["suites"]["q"]["cases"]
    assert len(cases) == 6 and all("output" not in c and c["repeats"][0]["output_sha"] for c in cases.values())
    assert "\"output\"" not in (repo.path / ".gate" / "baseline.json").read_text(encoding="utf-8")


def test_regression_cassette_changed_in_the_change_is_a_notice_to_review_it(repo: GitRepo) -> None:
    bot = example_repo(repo)
    same = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert same.exit_code == 0 and not [f for f in _check(same)["findings"] if "re-recorded" in f["message"]]
    cassette = bot / "cassettes" / "support-bot.jsonl"
    lines = cassette.read_text(encoding="utf-8").split("\n")
    item = json.loads(lines[1])
    item["response"]["content"] += " (planted)"
    lines[1] = json.dumps(item, sort_keys=True, ensure_ascii=False)
    cassette.write_text("\n".join(lines), encoding="utf-8")
    repo.commit("hand-edit one answer")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    assert res.exit_code in (0, 1), res.stdout + res.stderr
    [notice] = [f for f in _check(res)["findings"] if "re-recorded" in f["message"]]
    assert notice["severity"] == "notice" and notice["file"] == CASSETTE
    assert notice["message"].startswith("cassettes/support-bot.jsonl was re-recorded in this change: 1 recorded "
                                        "answer new or changed since the base branch")


def _second_model_lines(bot: Path) -> int:
    """Beside every answer the primary (openai/gpt-4o-mini) recorded for the `answers` suite, the same request
    answered by gpt-4.1, written after it: one cassette, one line per request and model."""
    cassette = bot / "cassettes" / "support-bot.jsonl"
    items = [json.loads(line) for line in cassette.read_text(encoding="utf-8").splitlines() if line.strip()]
    copies = []
    for item in items:
        if str(item.get("case_id")).startswith("answers/") and item["producer"]["model"] == "openai/gpt-4o-mini":
            copy = json.loads(json.dumps(item))
            copy["producer"].update({"provider": "openai", "model": "gpt-4.1", "host": "api.openai.com"})
            copies.append(copy)
    cassette.write_text("".join(json.dumps(x) + "\n" for x in [*items, *copies]), encoding="utf-8")
    return len(copies)


def test_regression_one_cassette_two_models_each_target_replays_its_own(repo: GitRepo) -> None:
    bot = example_repo(repo)
    assert _second_model_lines(bot) == 60
    repo.commit("gpt-4.1's answers recorded beside the primary's")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    # The primary's own lines count: the other model's, recorded later for the same requests, do not displace them.
    assert res.exit_code == 0, res.stdout + res.stderr
    assert not [f for f in _check(res)["findings"] if "recorded with" in f["message"]]
    edit(bot / "models.yaml", "    provider: github-models\n    model: openai/gpt-4o-mini",
          "    provider: openai\n    model: gpt-4.1")
    repo.commit("answer with gpt-4.1")
    res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main")
    check = _check(res)
    gaps = sorted(f["message"] for f in check["findings"] if f["file"] == CASSETTE and "recorded with" in f["message"])
    # Only the suite nobody recorded with gpt-4.1 lacks evidence; `answers` replays gpt-4.1's lines (and is
    # compared), where the last line of each request was the only one a replay could read.
    assert gaps == [f"Support answer: answers were recorded with openai/gpt-4o-mini; the target is now gpt-4.1: "
                    f"{RERECORD} (3 of 3 cases not compared)"], gaps
    assert sorted(check["details"]["suites"]) == ["Ticket classifier", "answers", "routing"]
