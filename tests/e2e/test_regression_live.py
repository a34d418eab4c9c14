"""The regression check against a real OpenAI-compatible server on loopback: answers, judge, cache,
cassette recording, retries and the failure taxonomy, and an unreachable target (exit 3)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import gate
from tests.servers.openai_fake import Behaviour, FakeOpenAI, Fault, serve

CAPITALS = {"France": "Paris", "Italy": "Rome", "Spain": "Madrid", "Japan": "Tokyo", "Peru": "Lima",
            "Kenya": "Nairobi", "Chile": "Santiago", "Egypt": "Cairo"}


def answer(body: dict[str, Any]) -> str:
    text = str(body["messages"][-1]["content"])
    if text.startswith("Is this answer polite"):  # the judge
        return "Verdict: POLITE" if "capital of France" in text else "Verdict: rude"
    country = text.rsplit(" ", 1)[-1].rstrip("?")
    if country == "Chile":
        return "I am not sure."  # the model's one wrong answer
    return f"The capital of {country} is {CAPITALS.get(country, 'unknown')}."


def _write_repo(root: Path, url: str, *, target: str = "{model: fake}", extra: str = "") -> Path:
    (root / "prompts").mkdir(parents=True, exist_ok=True)
    (root / "models.yaml").write_text(
        "version: 1\nmodels:\n  fake:\n    provider: openai-compatible\n    model: fake-model\n"
        f"    base_url: {url}/v1\n    api_key_env: FAKE_API_KEY\n    timeout: 2\n", encoding="utf-8")
    (root / "prompts" / "capital.prompt.yml").write_text(
        "name: capital\nmodel: fake\nmessages:\n  - role: user\n    content: 'What is the capital of {{country}}?'\n",
        encoding="utf-8")
    (root / "cases.jsonl").write_text("".join(json.dumps({"id": c.lower(), "country": c, "expected": v}) + "\n"
                                              for c, v in CAPITALS.items()), encoding="utf-8")
    (root / "gate.yaml").write_text(
        f"version: 1\nmodels: models.yaml\nregression:\n  target: {target}\n  concurrency: 4\n  retries: 2\n"
        "  timeout: 1\n  suites:\n    - name: capitals\n      prompt: prompts/capital.prompt.yml\n"
        "      dataset: cases.jsonl\n      metrics:\n        - contains: '{{expected}}'\n" + extra, encoding="utf-8")
    return root / "gate.yaml"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeOpenAI]:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    with serve(Behaviour(answer=answer)) as srv:
        yield srv


def _check(res: Any) -> dict[str, Any]:
    out: dict[str, Any] = next(c for c in res.json()["checks"] if c["name"] == "regression")
    return out


def test_regression_live_model_scores_cases_and_cache_makes_no_requests(server: FakeOpenAI, tmp_path: Path) -> None:
    config = _write_repo(tmp_path, server.url)
    first = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert first.exit_code == 0, first.stdout + first.stderr
    check = _check(first)
    assert check["metrics"]["cases"] == 8 and check["metrics"]["passed"] == 7
    assert check["metrics"]["failure_categories"] == {"quality.assertion": 1}
    chile = next(f for f in check["findings"] if f.get("case_id") == "capitals/chile")
    assert chile["category"] == "quality.assertion" and chile["file"].endswith("cases.jsonl") and chile["line"] == 7
    assert server.count == 8
    usage = check["details"]["usage_by_suite"]["capitals"]
    assert usage["output_tokens"]["mean"] > 0 and usage["input_tokens"]["p95"] >= usage["input_tokens"]["p50"]
    assert check["details"]["baseline"]["compared"] is False

    again = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert again.exit_code == 0 and server.count == 8  # every answer from .gate/cache
    assert _check(again)["details"]["run"]["cache_hits"] == 8
    gate("check", "-c", config, "--only", "regression", "--format", "json", "--no-cache")
    assert server.count == 16


def test_regression_live_record_then_replay_offline(server: FakeOpenAI, tmp_path: Path) -> None:
    config = _write_repo(tmp_path, server.url, target="{replay: cassettes/capitals.jsonl}")
    recorded = gate("check", "-c", config, "--only", "regression", "--format", "json", "--record")
    assert recorded.exit_code == 0, recorded.stdout + recorded.stderr
    assert _check(recorded)["details"]["run"]["recorded"] == [str(Path("cassettes/capitals.jsonl"))] or \
        _check(recorded)["details"]["run"]["recorded"][0].endswith("cassettes/capitals.jsonl")
    lines = (tmp_path / "cassettes" / "capitals.jsonl").read_text(encoding="utf-8").splitlines()
    contents = sorted(json.loads(line)["response"]["content"] for line in lines)
    assert len(lines) == 8 and contents[0] == "I am not sure." and contents[-1] == "The capital of Spain is Madrid."
    host = server.url.split("//", 1)[1]
    assert {json.dumps(json.loads(line)["producer"], sort_keys=True) for line in lines} == {json.dumps(
        {"host": host, "model": "fake-model", "params": {}, "provider": "openai-compatible"}, sort_keys=True)}
    server.stop()
    replayed = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert replayed.exit_code == 0
    assert _check(replayed)["metrics"]["passed"] == _check(recorded)["metrics"]["passed"] == 7
    # The same model on another server is another producer: the recording is not its answer.
    models = tmp_path / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8").replace(host, "127.0.0.1:9"), encoding="utf-8")
    moved = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert moved.exit_code == 1, moved.stdout + moved.stderr
    assert _check(moved)["summary"].startswith(f"capitals: answers were recorded with fake-model (host {host}); "
                                               "the target is now fake-model (host 127.0.0.1:9): run `gate check")


def test_regression_record_producer_holds_the_prompts_parameters_as_sent(server: FakeOpenAI, tmp_path: Path) -> None:
    config = _write_repo(tmp_path, server.url, target="{replay: cassettes/capitals.jsonl}")
    prompt = tmp_path / "prompts" / "capital.prompt.yml"
    prompt.write_text(prompt.read_text(encoding="utf-8").replace("model: fake\n", "model: fake\nmodelParameters:\n"
                                                                 "  temperature: 0.7\n"), encoding="utf-8")
    recorded = gate("check", "-c", config, "--only", "regression", "--format", "json", "--record")
    assert recorded.exit_code == 0, recorded.stdout + recorded.stderr
    assert {r["body"]["temperature"] for r in server.requests} == {0.7}
    lines = [json.loads(line) for line in (tmp_path / "cassettes" / "capitals.jsonl").read_text("utf-8").splitlines()]
    assert len(lines) == 8 and {json.dumps(x["producer"]["params"]) for x in lines} == {'{"temperature": 0.7}'}
    server.stop()
    models = tmp_path / "models.yaml"
    # models.yaml's own temperature is overridden by the prompt's: a live run would still send 0.7.
    models.write_text(models.read_text(encoding="utf-8") + "    params: {temperature: 0}\n", encoding="utf-8")
    replayed = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert replayed.exit_code == 0, replayed.stdout + replayed.stderr
    assert _check(replayed)["metrics"]["passed"] == 7
    models.write_text(models.read_text(encoding="utf-8").replace("{temperature: 0}", "{temperature: 0, top_p: 0.5}"),
                      encoding="utf-8")
    narrower = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert narrower.exit_code == 1, narrower.stdout + narrower.stderr
    assert _check(narrower)["summary"].startswith('capitals: answers were recorded with fake-model (params '
                                                  '{"temperature":0.7}); the target is now fake-model (params '
                                                  '{"temperature":0.7,"top_p":0.5}): run `gate check --record`')


@pytest.mark.parametrize(("fault", "france", "requests"), [
    (Fault("status", 429, headers={"Retry-After": "0"}), None, 9),    # retried after Retry-After, then answered
    (Fault("status", 500, times=3), "transport.server_error", 10),    # 1 try + 2 retries, all 500
    (Fault("hang", seconds=2), None, 9),                              # past the 1 s timeout, retried fine
    (Fault("status", 400), "transport.client_error", 8),              # a 4xx that will not change: not retried
    (Fault("malformed", times=3), "transport.server_error", 10),      # a broken body is the server's fault
])
def test_regression_live_faults_retried_or_categorised(server: FakeOpenAI, tmp_path: Path, fault: Fault,
                                                       france: str | None, requests: int) -> None:
    config = _write_repo(tmp_path, server.url)
    config.write_text(config.read_text(encoding="utf-8").replace("concurrency: 4", "concurrency: 1"), encoding="utf-8")
    server.behaviour.faults = [fault]  # France is asked first: the fault is its
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", "--no-cache")
    assert res.exit_code == 0, res.stdout + res.stderr  # no baseline, no min_pass_rate: failures are findings
    check = _check(res)
    by_case = {f["case_id"]: f["category"] for f in check["findings"] if f.get("case_id")}
    expected = {"capitals/chile": "quality.assertion", **({"capitals/france": france} if france else {})}
    assert by_case == expected
    assert sum(check["metrics"]["failure_categories"].values()) == len(expected)
    assert server.count == requests


def test_regression_live_unreachable_target_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = _write_repo(tmp_path, f"http://127.0.0.1:{port}")
    config.write_text(config.read_text(encoding="utf-8").replace("retries: 2", "retries: 0"), encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert res.exit_code == 3
    check = _check(res)
    assert check["status"] == "error" and "transport.connection" in check["summary"]


def test_regression_live_llm_judge_at_threshold(server: FakeOpenAI, tmp_path: Path) -> None:
    extra = ("        - name: polite\n          llm:\n            prompt: 'Is this answer polite? {{completion}} "
             "(asked about {{country}})'\n            choices:\n              - {choice: polite, score: 1}\n"
             "              - {choice: rude, score: 0}\n  judge: {model: fake}\n")
    config = _write_repo(tmp_path, server.url, extra=extra)
    # The fake judge finds only the answer about France polite.
    res = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _check(res)
    assert check["details"]["run"]["judge_requests"] == 8
    polite = check["details"]["suites"]["capitals"]["scores"]["polite"]
    assert polite["mean"] == pytest.approx(1 / 8)
    judged = {f["case_id"] for f in check["findings"] if f.get("category") == "quality.judge"}
    assert "capitals/france" not in judged and len(judged) == 6  # Chile fails its assertion first


def test_regression_live_case_assert_max_cost_usd_is_priced(server: FakeOpenAI, tmp_path: Path) -> None:
    config = _write_repo(tmp_path, server.url)
    models = tmp_path / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8").replace("model: fake-model", "model: gpt-4o"),
                      encoding="utf-8")
    # Only the case's own assert budgets cost (the suite's metrics do not): it must still be priced.
    cases = [json.dumps({"id": "france", "country": "France", "expected": "Paris",
                         "assert": [{"max_cost_usd": 1e-9}]}),
             json.dumps({"id": "italy", "country": "Italy", "expected": "Rome", "assert": [{"max_cost_usd": 1.0}]})]
    (tmp_path / "cases.jsonl").write_text("\n".join(cases) + "\n", encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", "--full-report")
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _check(res)
    assert {f["case_id"]: f["category"] for f in check["findings"] if f.get("case_id")} == {
        "capitals/france": "budget.cost"}
    italy = next(c for c in check["details"]["suites"]["capitals"]["cases"] if c["id"] == "italy")
    assert italy["pass"] and italy["repeats"][0]["cost_usd"] > 0


def test_regression_live_cost_priced_as_the_fallback_model_that_answered(server: FakeOpenAI, tmp_path: Path) -> None:
    config = _write_repo(tmp_path, server.url)
    # fake has no key, so backup answers; only backup's own models.yaml pricing can price "fake-model".
    (tmp_path / "models.yaml").write_text(
        "version: 1\nmodels:\n  fake:\n    provider: openai-compatible\n    model: fake-model\n"
        f"    base_url: {server.url}/v1\n    api_key_env: NOT_SET_ANYWHERE\n    fallback: [backup]\n"
        "    pricing: {input_per_mtok: 0, output_per_mtok: 0}\n"
        "  backup:\n    provider: openai-compatible\n    model: fake-model\n"
        f"    base_url: {server.url}/v1\n    pricing: {{input_per_mtok: 1000000, output_per_mtok: 0}}\n",
        encoding="utf-8")
    (tmp_path / "cases.jsonl").write_text(json.dumps({"id": "peru", "country": "Peru", "expected": "Lima",
                                                      "assert": [{"max_cost_usd": 0.5}]}) + "\n", encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert res.exit_code == 0, res.stdout + res.stderr
    [case] = _check(res)["details"]["suites"]["capitals"]["cases"]
    # "What is the capital of Peru?": six input words, $1 each at backup's price.
    assert case["category"] == "budget.cost" and case["repeats"][0]["cost_usd"] == pytest.approx(6.0)


def test_regression_replay_cost_models_yaml_price_else_recorded_model_id(tmp_path: Path) -> None:
    from gate.providers.base import ChatMessage, Request, Response, Usage
    from gate.providers.cassette import entry, write_cassette

    config = _write_repo(tmp_path, "http://127.0.0.1:9", target="{replay: c.jsonl}",
                         extra="        - max_cost_usd: 1.0\n")
    (tmp_path / "models.yaml").write_text("version: 1\nmodels:\n  fake:\n    provider: openai-compatible\n"
                                          "    model: fake-model\n    pricing: {input_per_mtok: 1000000, "
                                          "output_per_mtok: 0}\n", encoding="utf-8")
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps({"id": c.lower(), "country": c, "expected": v}) + "\n"
                                                  for c, v in [("France", "Paris"), ("Italy", "Rome")]),
                                          encoding="utf-8")
    entries = []
    for country, capital, answered_by in [("France", "Paris", "fake"), ("Italy", "Rome", "a-model-since-removed")]:
        asked = Request(messages=(ChatMessage("user", f"What is the capital of {country}?"),),
                        variables={"country": country}, case_id=f"capitals/{country.lower()}")
        answer = Response(capital, Usage(input_tokens=1000, output_tokens=100), model="gpt-4o-mini",
                          answered_by=answered_by)
        entries.append(entry(asked, answer, {"provider": "openai-compatible", "model": "fake-model", "host": None,
                                             "params": {}}))
    write_cassette(tmp_path / "c.jsonl", entries)
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", "--full-report")
    assert res.exit_code == 0, res.stdout + res.stderr
    cases = {c["id"]: c for c in _check(res)["details"]["suites"]["capitals"]["cases"]}
    assert cases["france"]["category"] == "budget.cost"  # fake's models.yaml price: $1,000
    # Not in models.yaml: genai-prices' gpt-4o-mini, $0.15 in / $0.60 out per million tokens.
    assert cases["italy"]["pass"]


def test_regression_live_judge_unreachable_exit_3(server: FakeOpenAI, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    extra = ("        - name: polite\n          llm:\n            prompt: 'Is this answer polite? {{completion}}'\n"
             "            choices:\n              - {choice: polite, score: 1}\n  judge: {model: dead}\n")
    config = _write_repo(tmp_path, server.url, extra=extra)
    models = tmp_path / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8") + "  dead:\n    provider: openai-compatible\n    model: x\n"
                      f"    base_url: http://127.0.0.1:{port}/v1\n    api_key_env: FAKE_API_KEY\n", encoding="utf-8")
    # Every answer arrived, but no case could be judged: no verdict (it was exit 0 with 0/8 passing).
    res = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert res.exit_code == 3, res.stdout + res.stderr
    check = _check(res)
    assert check["status"] == "error" and "no judge request succeeded (transport.connection" in check["summary"]


def test_regression_record_two_suites_of_two_models_into_one_cassette_each_from_its_own(
        server: FakeOpenAI, tmp_path: Path) -> None:
    config = _write_repo(tmp_path, server.url, target="{replay: cassettes/capitals.jsonl}")
    models = tmp_path / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8") + "  other:\n    provider: openai-compatible\n"
                      f"    model: other-model\n    base_url: {server.url}/v1\n    api_key_env: FAKE_API_KEY\n",
                      encoding="utf-8")
    prompt = tmp_path / "prompts" / "capital.prompt.yml"
    (tmp_path / "prompts" / "other.prompt.yml").write_text(
        prompt.read_text(encoding="utf-8").replace("name: capital", "name: other").replace("model: fake", "model: other")
        .replace("What is", "Name"), encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8") + "    - name: other\n      prompt: prompts/other.prompt.yml\n"
                      "      dataset: cases.jsonl\n      metrics:\n        - contains: '{{expected}}'\n", encoding="utf-8")
    recorded = gate("check", "-c", config, "--only", "regression", "--format", "json", "--record")
    assert recorded.exit_code == 0, recorded.stdout + recorded.stderr
    assert sorted(r["body"]["model"] for r in server.requests) == ["fake-model"] * 8 + ["other-model"] * 8
    lines = [json.loads(x) for x in (tmp_path / "cassettes" / "capitals.jsonl").read_text("utf-8").splitlines()]
    assert sorted((x["case_id"].split("/")[0], x["producer"]["model"]) for x in lines) == \
        [("capitals", "fake-model")] * 8 + [("other", "other-model")] * 8
    server.stop()
    replayed = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert replayed.exit_code == 0, replayed.stdout + replayed.stderr
    assert _check(replayed)["metrics"]["cases"] == 16


def test_regression_record_two_judge_models_into_one_cassette_each_grades_its_own(
        server: FakeOpenAI, tmp_path: Path) -> None:
    judge = ("          llm:\n            modelId: {model}\n            prompt: 'Is this answer polite? {{{{completion}}}} "
             "(asked about {{{{country}}}})'\n            choices:\n              - {{choice: polite, score: 1}}\n"
             "              - {{choice: rude, score: 0}}\n")
    replay = "{replay: cassettes/capitals.jsonl}"
    extra = (f"        - name: polite\n{judge.format(model='judge-a')}        - name: kind\n"
             f"{judge.format(model='judge-b').replace(')', ') Be fair.', 1)}  judge: {replay}\n")
    config = _write_repo(tmp_path, server.url, target=replay, extra=extra)
    models = tmp_path / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8") + "".join(
        f"  {name}:\n    provider: openai-compatible\n    model: {name}-model\n    base_url: {server.url}/v1\n"
        "    api_key_env: FAKE_API_KEY\n" for name in ("judge-a", "judge-b")), encoding="utf-8")
    recorded = gate("check", "-c", config, "--only", "regression", "--format", "json", "--record")
    assert recorded.exit_code == 0, recorded.stdout + recorded.stderr
    asked = sorted(r["body"]["model"] for r in server.requests)
    assert asked == ["fake-model"] * 8 + ["judge-a-model"] * 8 + ["judge-b-model"] * 8
    server.stop()
    replayed = gate("check", "-c", config, "--only", "regression", "--format", "json")
    assert replayed.exit_code == 0, replayed.stdout + replayed.stderr
    scores = _check(replayed)["details"]["suites"]["capitals"]["scores"]
    assert scores["polite"]["mean"] == scores["kind"]["mean"] == pytest.approx(1 / 8)
