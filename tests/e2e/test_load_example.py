"""The example's model stub (model_stub.py) and service (app.py) as real processes, and `gate check` on the example
starting the service under load."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import EXAMPLE, gate_subprocess
from tests.servers.ports import listen_port


@pytest.fixture
def app(tmp_path: Path) -> Iterator[str]:
    cassette = {"key": "k1", "request": {"model": "m", "messages": [{"role": "user", "content": "Recorded question?"}],
                                         "params": {}},
                "response": {"content": "A recorded answer.", "usage": {"input_tokens": 3, "output_tokens": 3},
                             "latency_s": 1.0}, "later_field": "ignored"}
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / "c.jsonl").write_text(json.dumps(cassette) + "\n" + "not json\n", encoding="utf-8")
    port = listen_port()
    proc = subprocess.Popen([sys.executable, str(EXAMPLE / "model_stub.py"), "--port", str(port), "--ttft-ms", "100",
                             "--tpot-ms", "10", "--cassettes", str(tmp_path / "cassettes")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().startswith(f"model-stub on {url} (cassette: 1, testData: 6)")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout:
            proc.stdout.close()


def post(url: str, body: dict[str, Any]) -> tuple[int, bytes, float]:
    req = urllib.request.Request(url + "/v1/chat/completions", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=10) as resp:
        return resp.status, resp.read(), time.perf_counter() - t0


def test_example_app_healthz_and_recorded_answer(app: str) -> None:
    with urllib.request.urlopen(app + "/healthz", timeout=5) as resp:
        assert json.load(resp) == {"status": "ok", "sources": {"cassette": 1, "testData": 6}}
    status, raw, took = post(app, {"messages": [{"role": "user", "content": "Recorded question?"}]})
    answer = json.loads(raw)
    assert status == 200 and answer["choices"][0]["message"]["content"] == "A recorded answer."
    assert answer["usage"]["completion_tokens"] == 3
    assert 0.100 + 2 * 0.010 <= took < 0.6  # paced: never sooner; a busy machine only adds


def test_example_app_stream_paced_with_usage(app: str) -> None:
    message = "I was charged twice this month, please fix it."  # a testData row of classify.prompt.yml
    status, raw, took = post(app, {"messages": [{"role": "user", "content": message}], "stream": True,
                                   "stream_options": {"include_usage": True}})
    events = [line[6:] for line in raw.decode().split("\n") if line.startswith("data: ")]
    assert status == 200 and events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    content = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert json.loads(content) == {"queue": "billing", "urgent": False}  # built from the row's `expected`
    usage = chunks[-1]["usage"]
    assert usage["completion_tokens"] == 4 and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert 0.100 + 3 * 0.010 <= took < 0.6


def test_example_app_unknown_question_fallback_and_bad_body(app: str) -> None:
    _, raw, _ = post(app, {"messages": [{"role": "user", "content": "Who won the match?"}]})
    assert "open a ticket" in json.loads(raw)["choices"][0]["message"]["content"]
    with pytest.raises(urllib.error.HTTPError) as err:
        post(app, {"messages": []})
    assert err.value.code == 400
    err.value.close()


def test_example_gate_check_load_passes_and_stops_service() -> None:
    res = gate_subprocess("check", "-c", EXAMPLE / "gate.yaml", "--only", "load", "--format", "json", timeout=120)
    assert res.exit_code == 0, res.stdout + res.stderr
    check = next(c for c in res.json()["checks"] if c["name"] == "load")
    assert check["status"] == "pass" and check["metrics"]["failed"] == 0
    assert all(t["passed"] for t in check["details"]["thresholds"]) and len(check["details"]["thresholds"]) == 6
    assert check["details"]["run"]["traffic"].endswith("from the cases of 4 regression suites")
    # The stub behind the service paces its first token at 120 ms (±20%): what the gate measured through it.
    assert 90 < check["metrics"]["ttft_ms"]["p50"] < 200
    port = check["details"]["target"]["url"].rsplit(":", 1)[1]
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)  # stopped


def test_example_threshold_it_cannot_meet_fails_naming_metric(tmp_path: Path) -> None:
    copy = tmp_path / "support-bot"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".gate", "__pycache__"))
    config = yaml.safe_load((copy / "gate.yaml").read_text())
    config["load"]["thresholds"]["ttft"] = ["p(95) < 50ms"]  # the service waits 120 ms for its first token
    (copy / "gate.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "load", "--markdown", tmp_path / "c.md",
                          timeout=120)
    assert res.exit_code == 1, res.stdout + res.stderr
    assert "ttft" in res.stdout and "p(95) < 50ms" in res.stdout
    comment = (tmp_path / "c.md").read_text()
    assert "xychart-beta" in comment and "| time to first token |" in comment and "❌" in comment
