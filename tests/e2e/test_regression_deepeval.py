"""A real deepeval metric (GEval) judged by a models.yaml model served over HTTP on loopback, through
prodgate's provider layer: deepeval never needs a key of its own."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import gate
from tests.e2e.test_regression_live import _check, _write_repo
from tests.e2e.test_regression_live import answer as model_answer
from tests.servers.openai_fake import Behaviour, Fault, serve


def judge_or_model(body: dict[str, Any]) -> str:
    text = str(body["messages"][-1]["content"])
    if "Evaluation Steps" in text:  # GEval's scoring prompt: 0-10 and a reason, as JSON
        right = "is Paris" in text or "is Rome" in text or "is Tokyo" in text
        return json.dumps({"score": 9 if right else 2, "reason": "names the capital" if right else "does not"})
    return model_answer(body)


def test_regression_deepeval_geval_judged_over_http(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    extra = ("        - name: correct\n          deepeval: GEval\n          threshold: 0.5\n          params:\n"
             "            evaluation_steps: ['Check that the actual output names the right capital city.']\n"
             "            evaluation_params: [input, actual_output]\n  judge: {model: fake}\n")
    with serve(Behaviour(answer=judge_or_model)) as server:
        config = _write_repo(tmp_path, server.url, extra=extra)
        res = gate("check", "-c", config, "--only", "regression", "--format", "json", "--full-report", cwd=tmp_path)
        judged = [r for r in server.requests if "Evaluation Steps" in r["body"]["messages"][-1]["content"]]
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _check(res)
    scores = {c["id"]: c["scores"]["correct"] for c in check["details"]["suites"]["capitals"]["cases"]}
    assert scores["france"] == pytest.approx(0.9) and scores["italy"] == pytest.approx(0.9)
    assert scores["spain"] == pytest.approx(0.2)
    assert len(judged) == 8
    assert all(r["headers"].get("Authorization") == "Bearer test-key-not-secret" for r in judged)
    categories = {f["case_id"]: f["category"] for f in check["findings"] if f.get("case_id")}
    assert categories["capitals/spain"] == "quality.judge" and categories["capitals/chile"] == "quality.assertion"
    assert "capitals/france" not in categories


def test_regression_deepeval_not_imported_without_a_deepeval_metric(tmp_path: Path) -> None:
    code = ("import sys; from gate.cli import main\n"
            "try:\n    main(['check', '-c', sys.argv[1], '--only', 'regression'])\n"
            "except SystemExit as e:\n    print('exit', e.code, 'deepeval' in sys.modules, 'locust' in sys.modules)\n")
    example = Path(__file__).resolve().parents[2] / "examples" / "support-bot" / "gate.yaml"
    out = subprocess.run([sys.executable, "-c", code, str(example)], capture_output=True, text=True, check=False)
    assert out.stdout.strip().splitlines()[-1] == "exit 0 False False"


GEVAL = ("        - name: correct\n          deepeval: GEval\n          threshold: 0.5\n          params:\n"
         "            evaluation_steps: ['Check that the actual output names the right capital city.']\n"
         "            evaluation_params: [input, actual_output]\n  judge: {model: judge}\n")


def _with_judge(config: Path, url: str) -> Path:
    models = config.parent / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8") + "  judge:\n    provider: openai-compatible\n"
                      f"    model: judge-model\n    base_url: {url}/v1\n    api_key_env: FAKE_API_KEY\n",
                      encoding="utf-8")
    return config


def test_regression_deepeval_judge_429_retried_like_every_request(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    limited = [Fault("status", 429, headers={"Retry-After": "0"}, times=2)]
    with serve(Behaviour(answer=model_answer)) as model, serve(Behaviour(answer=judge_or_model, faults=limited)) as judge:
        config = _with_judge(_write_repo(tmp_path, model.url, extra=GEVAL), judge.url)
        res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
        asked = judge.count
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _check(res)
    assert asked == 8 + 2  # the two 429s were asked again (retries: 2 in gate.yaml)
    assert not [f for f in check["findings"] if str(f.get("category", "")).startswith("transport.")]
    assert check["metrics"]["failure_categories"] == {"quality.assertion": 1, "quality.judge": 4}


def test_regression_deepeval_judge_unreachable_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    with serve(Behaviour(answer=model_answer)) as model:
        config = _with_judge(_write_repo(tmp_path, model.url, extra=GEVAL), closed)
        config.write_text(config.read_text(encoding="utf-8").replace("retries: 2", "retries: 0"), encoding="utf-8")
        res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 3, res.stdout + res.stderr
    check = _check(res)
    assert check["status"] == "error"
    assert "no deepeval judge request succeeded (transport.connection" in check["summary"]


def _with_default_judge(config: Path, url: str, model: str = "judge-model") -> None:
    """The deepeval judge a live run (and --record) calls, openai/gpt-4o, served by the fake on loopback."""
    models = config.parent / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8") + "  openai/gpt-4o:\n    provider: openai-compatible\n"
                      f"    model: {model}\n    base_url: {url}/v1\n    api_key_env: FAKE_API_KEY\n", encoding="utf-8")


def test_regression_deepeval_replayed_grades_count_only_for_the_judge_and_metric_that_made_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    replay = "{replay: cassettes/capitals.jsonl}"
    with serve(Behaviour(answer=judge_or_model)) as server:
        config = _write_repo(tmp_path, server.url, target=replay, extra=GEVAL.replace("{model: judge}", replay))
        _with_default_judge(config, server.url)
        recorded = gate("check", "-c", config, "--only", "regression", "--format", "json", "--record", cwd=tmp_path)
        assert recorded.exit_code == 0, recorded.stdout + recorded.stderr
        judged = [r for r in server.requests if "Evaluation Steps" in r["body"]["messages"][-1]["content"]]
        assert len(judged) == 8 and {r["body"]["model"] for r in judged} == {"judge-model"}
    replayed = gate("check", "-c", config, "--only", "regression", "--format", "json", "--full-report", cwd=tmp_path)
    assert replayed.exit_code == 0, replayed.stdout + replayed.stderr
    cases = _check(replayed)["details"]["suites"]["capitals"]["cases"]
    assert {c["id"]: c["scores"]["correct"] for c in cases}["france"] == pytest.approx(0.9)

    # Another judge model: its grades were never given, whatever the cassette holds.
    models = tmp_path / "models.yaml"
    models.write_text(models.read_text(encoding="utf-8").replace("model: judge-model", "model: judge-model-2"),
                      encoding="utf-8")
    other = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert other.exit_code == 1, other.stdout + other.stderr
    check = _check(other)
    assert check["summary"].startswith("capitals: the judge's grades were recorded with judge-model; the judge is now "
                                       "judge-model-2: run `gate check --record` and commit the cassette (8 of 8 "
                                       "cases not compared)")
    assert "suites" not in check["details"] or "capitals" not in check["details"]["suites"]

    # The same judge, the metric's definition changed: the recorded grades answer another prompt.
    models.write_text(models.read_text(encoding="utf-8").replace("judge-model-2", "judge-model"), encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8").replace("names the right capital city",
                                                                 "names the capital city"), encoding="utf-8")
    changed = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert changed.exit_code == 1, changed.stdout + changed.stderr
    assert _check(changed)["summary"].startswith("capitals: 8 of 8 cases have no recorded judge grade for their "
                                                 "current answer: run `gate check --record`")


def test_regression_deepeval_cached_grades_only_for_the_same_judge_params_and_metric(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    with serve(Behaviour(answer=model_answer)) as model, serve(Behaviour(answer=judge_or_model)) as judge:
        config = _with_judge(_write_repo(tmp_path, model.url, extra=GEVAL), judge.url)
        asked = []
        for change in (None, None, ("model: judge-model", "model: judge-model-2"),
                       # The judge's calls set temperature themselves: top_p is the model's own.
                       ("model: judge-model-2\n", "model: judge-model-2\n    params: {top_p: 0.5}\n"),
                       ("names the right capital city", "names the capital city")):
            if change is not None:
                path = config if "capital" in change[0] else config.parent / "models.yaml"
                path.write_text(path.read_text(encoding="utf-8").replace(*change), encoding="utf-8")
            res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
            assert res.exit_code == 0, res.stdout + res.stderr
            asked.append(judge.count)
    # Asked on the first run, from the cache on the second; asked again for another judge model, other
    # parameters, another metric definition.
    assert [b - a for a, b in zip([0, *asked], asked, strict=False)] == [8, 0, 8, 8, 8]
