"""`gate check` on services that cannot be served: a clear error in time passes, a hang or a retry storm fails."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE, gate_subprocess

# A service for these tests. Its behaviour when the provider fails is chosen by the scenario, whose name the
# request id carries: `storm` retries 10 times, `hang` never answers, anything else answers 503 at once.
SERVICE = '''
import http.client, json, os, sys, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BASE = urllib.parse.urlsplit(os.environ["OPENAI_BASE_URL"])


def ask(body, rid):
    conn = http.client.HTTPConnection(BASE.hostname, BASE.port, timeout=30)
    try:
        conn.request("POST", BASE.path + "/chat/completions", json.dumps(body),
                     {"Content-Type": "application/json", "X-Request-Id": rid})
        resp = conn.getresponse()
        return resp.status, resp.read()
    except (OSError, http.client.HTTPException):
        return None, b""
    finally:
        conn.close()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send(200, {"ok": True})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        rid = self.headers.get("X-Request-Id", "")
        attempts = 10 if "-storm-" in rid else 1
        for _ in range(attempts):
            status, data = ask({"model": "openai/gpt-4o-mini", "messages": body["messages"]}, rid)
            if status == 200:
                self.send(200, json.loads(data))
                return
        if "-hang-" in rid:
            time.sleep(600)
        self.send(503, {"error": {"message": "no model could answer"}})

    def send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Server(ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''

GATE = '''version: 1
prompts: ["prompts/**/*.prompt.yml"]
models: models.yaml
resilience:
  target:
    url: http://127.0.0.1:{{port}}
    start: "{start}"
    ready: /healthz
    ready_timeout: 20s
  upstreams:
    - env: OPENAI_BASE_URL
      to: http://127.0.0.1:{{port}}/v1
      start: "{{python}} model_stub.py --port {{port}} --ttft-ms 5 --tpot-ms 1"
      ready: /healthz
  chat: {{path: /chat, stream: false}}
  requests: 4
  concurrency: 4
  timeout: 3s
  scenarios:
{scenarios}'''


def project(tmp_path: Path, start: str, scenarios: str) -> Path:
    copy = tmp_path / "support-bot"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".gate", "__pycache__"))
    (copy / "service.py").write_text(SERVICE)
    (copy / "gate.yaml").write_text(GATE.format(start=start, scenarios=scenarios))
    return copy


def line_of(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def scenarios_of(res: Any) -> dict[str, Any]:
    [check] = res.json()["checks"]
    return {s["name"]: s for s in check["details"]["scenarios"]}


def expectation(scenario: dict[str, Any], name: str) -> dict[str, Any]:
    return next(e for e in scenario["expectations"] if e["name"] == name)


def test_resilience_every_upstream_down_the_example_errors_quickly_and_passes(tmp_path: Path) -> None:
    copy = project(tmp_path, "{python} app.py --port {port}", '''
    - name: all-down
      faults: [{type: outage, upstream: OPENAI_BASE_URL}]
      expect: {time_to_error: 3s, max_upstream_calls_per_request: 6}
    - name: all-refused
      faults: [{type: outage, upstream: OPENAI_BASE_URL, how: refuse}]
      expect: {time_to_error: "p(95) < 3s"}
''')
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience", "--format", "json", timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    for s in scenarios_of(res).values():
        assert s["passed"] and s["succeeded"] == 0 and s["correlated"]
        assert s["failure_categories"] == {"transport.server_error": 4}
        assert [e["message"] for e in s["errors"]][0].startswith("no model could answer")
        assert s["time_to_error_ms"] < 3000
        # The whole chain was tried (router, primary, backup: two calls each at most), every call answered by the
        # downed proxy.
        assert {"primary", "backup"} <= set(s["observation"]["called"]) and s["calls_per_request"]["max"] <= 6
        assert s["faults_injected"] == s["upstream_calls"] > 0


def test_resilience_hang_fails_time_to_error_and_retry_storm_fails_calls_per_request(tmp_path: Path) -> None:
    copy = project(tmp_path, "{python} service.py {port}", '''
    - name: quick
      faults: [{type: outage, upstream: OPENAI_BASE_URL}]
      expect: {time_to_error: 2s, max_upstream_calls_per_request: 3}
    - name: hang
      faults: [{type: outage, upstream: OPENAI_BASE_URL}]
      expect:
        time_to_error: 2s
    - name: storm
      faults: [{type: outage, upstream: OPENAI_BASE_URL}]
      expect:
        time_to_error: 2s
        max_upstream_calls_per_request: 3
''')
    gate_yaml = copy / "gate.yaml"
    res = gate_subprocess("check", "-c", gate_yaml, "--only", "resilience", "--format", "json", timeout=180)
    assert res.exit_code == 1, res.stdout + res.stderr
    [check] = res.json()["checks"]
    assert check["status"] == "fail" and check["metrics"]["scenarios_passed"] == 1
    quick, hang, storm = (scenarios_of(res)[n] for n in ("quick", "hang", "storm"))
    assert quick["passed"] and quick["calls_per_request"]["max"] == 1
    tte = expectation(hang, "time_to_error")
    assert not hang["passed"] and not tte["passed"] and "4 never answered" in tte["observed"]
    assert hang["failure_categories"] == {"transport.timeout": 4}
    calls = expectation(storm, "max_upstream_calls_per_request")
    assert not calls["passed"] and calls["observed"] == "10 at most" and storm["correlated"]
    assert expectation(storm, "time_to_error")["passed"]  # it does answer, after its storm
    # Each failed expectation is an error at its own line of gate.yaml.
    lines = gate_yaml.read_text().splitlines()
    at = {(f["line"], f["message"].split(":")[0]) for f in check["findings"]}
    hang_line = next(i for i, line in enumerate(lines, 1) if "name: hang" in line) + 3
    storm_line = next(i for i, line in enumerate(lines, 1) if "name: storm" in line) + 4
    assert lines[hang_line - 1].strip().startswith("time_to_error")
    assert lines[storm_line - 1].strip().startswith("max_upstream_calls_per_request")
    assert at == {(hang_line, "scenario 'hang'"), (storm_line, "scenario 'storm'")}


# After the primary fails, even-numbered requests are answered by the service itself (as from its cache),
# odd ones by the backup.
CACHING = SERVICE.replace('''        attempts = 10 if "-storm-" in rid else 1
        for _ in range(attempts):
            status, data = ask({"model": "openai/gpt-4o-mini", "messages": body["messages"]}, rid)
            if status == 200:
                self.send(200, json.loads(data))
                return
''', '''        status, data = ask({"model": "openai/gpt-4o-mini", "messages": body["messages"]}, rid)
        if status != 200 and int(rid.rsplit("-", 1)[1]) % 2 == 0:
            self.send(200, {"choices": [{"message": {"role": "assistant", "content": "from the cache"}}]})
            return
        if status != 200:
            status, data = ask({"model": "gpt-4.1-mini", "messages": body["messages"]}, rid)
        if status == 200:
            self.send(200, json.loads(data))
            return
''')


def test_resilience_fallback_request_answered_by_the_service_itself_not_counted_against_it(tmp_path: Path) -> None:
    assert CACHING != SERVICE
    copy = project(tmp_path, "{python} service.py {port}", '''
    - name: primary-down
      faults: [{type: outage, model: primary}]
      expect: {success_rate: "rate >= 1", fallback: backup}
''')
    (copy / "service.py").write_text(CACHING)
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience", "--format", "json", timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    scenario = scenarios_of(res)["primary-down"]
    assert scenario["observation"]["requests_after_failure"] == 2
    assert scenario["observation"]["answered_without_upstream_after_failure"] == 2
    assert expectation(scenario, "fallback")["observed"] == (
        "after primary failed, 2 of 2 requests went on to backup (2 more answered by the service without another "
        "call upstream, e.g. from its cache)")


# Gives the provider one second a call, then takes the backup.
IMPATIENT = SERVICE.replace("timeout=30", "timeout=1").replace('''        attempts = 10 if "-storm-" in rid else 1
        for _ in range(attempts):
            status, data = ask({"model": "openai/gpt-4o-mini", "messages": body["messages"]}, rid)
''', '''        for model in ("openai/gpt-4o-mini", "gpt-4.1-mini"):
            status, data = ask({"model": model, "messages": body["messages"]}, rid)
''')


def test_resilience_fallback_after_a_hang_the_service_gave_up_on_is_seen(tmp_path: Path) -> None:
    """The proxy holds a hung call until the service gives up on it, not for as long as the gate's own timeout:
    the call is recorded with its scenario, and the fallback after it is seen."""
    assert IMPATIENT.count("timeout=1") == 1 and '"gpt-4.1-mini")' in IMPATIENT
    copy = project(tmp_path, "{python} service.py {port}", '''
    - name: primary-hangs
      faults: [{type: outage, model: primary, how: hang}]
      expect: {success_rate: ">= 95%", fallback: backup, max_upstream_calls_per_request: 2}
''')
    (copy / "service.py").write_text(IMPATIENT)
    gate_yaml = copy / "gate.yaml"
    gate_yaml.write_text(gate_yaml.read_text().replace("timeout: 3s", "timeout: 8s"))
    res = gate_subprocess("check", "-c", gate_yaml, "--only", "resilience", "--format", "json", timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    scenario = scenarios_of(res)["primary-hangs"]
    assert scenario["passed"] and scenario["faults_injected"] == 4 and scenario["upstream_calls"] == 8
    assert scenario["observation"]["faulted"] == ["primary"] and scenario["model_share"] == {"backup": 1.0}
    assert expectation(scenario, "fallback")["observed"] == "after primary failed, 4 of 4 requests went on to backup"
    assert "Task was destroyed" not in res.stderr


# Retries a failed call at once, whatever a 429's Retry-After said, then takes the backup.
HASTY = SERVICE.replace('''        attempts = 10 if "-storm-" in rid else 1
        for _ in range(attempts):
            status, data = ask({"model": "openai/gpt-4o-mini", "messages": body["messages"]}, rid)
''', '''        for model in ("openai/gpt-4o-mini", "openai/gpt-4o-mini", "gpt-4.1-mini"):
            status, data = ask({"model": model, "messages": body["messages"]}, rid)
''')


def test_resilience_retry_inside_retry_after_meets_the_limit_again(tmp_path: Path) -> None:
    """A service that comes straight back to a rate-limited model is refused again, as by a provider, and is not
    credited with a retry that answered: every rate-limited request needed the backup."""
    assert HASTY != SERVICE
    copy = project(tmp_path, "{python} service.py {port}", '''
    - name: limited
      faults: [{type: rate_limit, model: primary, share: 50%, retry_after: 5s}]
      expect: {success_rate: ">= 95%", fallback: backup, max_upstream_calls_per_request: 3}
''')
    (copy / "service.py").write_text(HASTY)
    gate_yaml = copy / "gate.yaml"
    gate_yaml.write_text(gate_yaml.read_text().replace("requests: 4\n", "requests: 16\n"))
    res = gate_subprocess("check", "-c", gate_yaml, "--only", "resilience", "--format", "json", timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    scenario = scenarios_of(res)["limited"]
    obs = scenario["observation"]
    assert scenario["passed"] and obs["answered_by_retry_after_failure"] == 0
    assert obs["went_to"]["backup"] == obs["requests_after_failure"] == round(16 * scenario["model_share"]["backup"])
    assert scenario["calls_per_request"]["max"] == 3


# A provider that sends [DONE] at once but ends its chunked body two seconds later, as a busy one may: the
# service has its whole answer long before the proxy's relay of the call is over.
LAZY = '''
import json, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in ({"choices": [{"index": 0, "delta": {"content": "Hello"}}]},
                      {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}, "[DONE]"):
            data = b"data: " + (event.encode() if isinstance(event, str) else json.dumps(event).encode()) + b"\\n\\n"
            self.wfile.write(b"%x\\r\\n" % len(data) + data + b"\\r\\n")
            self.wfile.flush()
        time.sleep(2)
        self.wfile.write(b"0\\r\\n\\r\\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True


Server(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
'''


def test_resilience_calls_still_ending_when_the_service_stops_are_recorded_with_their_scenario(tmp_path: Path) -> None:
    copy = project(tmp_path, "{python} app.py --port {port}", '''
    - name: lazy-provider
      faults: []
      expect: {success_rate: ">= 95%", max_upstream_calls_per_request: 1}
''')
    (copy / "lazy_stub.py").write_text(LAZY)
    gate_yaml = copy / "gate.yaml"
    text = gate_yaml.read_text()
    for old, new in (("model_stub.py --port {port} --ttft-ms 5 --tpot-ms 1", "lazy_stub.py {port}"),
                     ("stream: false", "stream: true")):
        assert text.count(old) == 1
        text = text.replace(old, new)
    gate_yaml.write_text(text)
    res = gate_subprocess("check", "-c", gate_yaml, "--only", "resilience", "--format", "json", timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    scenario = scenarios_of(res)["lazy-provider"]
    assert scenario["succeeded"] == 4 and scenario["correlated"]
    # Every request's call is in its scenario's record, whole: none was lost to the record being read first.
    assert scenario["upstream_calls"] == 4 and scenario["observation"]["faulted"] == []
    assert sum(scenario["model_share"].values()) == pytest.approx(1.0)
    assert scenario["calls_per_request"] == {"mean": 1.0, "max": 1}
