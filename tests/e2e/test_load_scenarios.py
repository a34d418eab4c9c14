"""Scenarios: a team's own locustfile (recorded next to it), the http scenario from a dataset, dataset defects."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from tests.conftest import gate
from tests.servers.load_support import load_result, write_load_repo
from tests.servers.openai_fake import Behaviour, serve

OWN_LOCUSTFILE = textwrap.dedent("""
    from locust import FastHttpUser, task

    class Team(FastHttpUser):
        @task
        def ask(self):
            body = {"model": "m", "messages": [{"role": "user", "content": "status?"}]}
            with self.client.post("/v1/chat/completions", json=body, catch_response=True,
                                  context={"output_tokens": 3}) as resp:
                if "You said" not in resp.text:
                    resp.failure("unexpected answer")
                elif resp.json()["usage"]["completion_tokens"] != 3:
                    resp.failure("the answer is not three words")
""")


def test_load_own_locustfile_recorded_with_categories(tmp_path: Path) -> None:
    with serve(Behaviour(latency_s=0.01, error_every=5, error_status=429)) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "scenario": "load/team.py", "users": 2,
                                   "duration": "1.5s", "thresholds": {"error_rate": ["rate < 50%"]}},
                        {"load/team.py": OWN_LOCUSTFILE})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
        paths = {r["path"] for r in server.requests}
    check = load_result(tmp_path / "r.json")
    assert res.exit_code == 0, check["summary"]
    m = check["metrics"]
    assert m["completed"] > 10 and m["latency_ms"]["count"] == m["completed"]
    # Every 5th request is a 429; the others answer "You said: status?" (3 words) and pass the team's check.
    assert set(m["failure_categories"]) == {"transport.rate_limited"}
    assert 0.1 < m["error_rate"] < 0.3
    assert check["details"]["run"]["scenario"] == "team.py"
    assert check["details"]["run"]["tokens_from"] == {"context": m["completed"]}  # from the event's context
    assert paths == {"/v1/chat/completions"}  # only the team's users ran, none of the built-in ones
    assert all(r["body"]["messages"][0]["content"] == "status?" for r in server.requests)


def test_load_own_locustfile_failure_is_quality_assertion(tmp_path: Path) -> None:
    with serve(Behaviour(latency_s=0.01, answer=lambda body: "a much longer answer than three")) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "scenario": "team.py", "users": 1,
                                   "duration": "1s", "thresholds": {"error_rate": ["rate < 1%"]}},
                        {"team.py": OWN_LOCUSTFILE.replace("You said", "answer")})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 1
    check = load_result(tmp_path / "r.json")
    assert check["metrics"]["failure_categories"] == {"quality.assertion": check["metrics"]["failed"]}
    assert "the answer is not three words" in check["details"]["errors"][0]["message"]


def test_load_own_locustfile_broken_exit_3(tmp_path: Path) -> None:
    with serve(Behaviour()) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "scenario": "team.py", "duration": "1s"},
                        {"team.py": "import no_such_module_xyz\n"})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 3
    summary = load_result(tmp_path / "r.json")["summary"]
    assert summary.startswith("could not complete: locust exited with code") and "no_such_module_xyz" in summary


def test_load_http_dataset_rows_fill_path_and_body(tmp_path: Path) -> None:
    rows = [{"q": "a b/c", "n": 3}, {"q": "x", "n": 7}]
    with serve(Behaviour()) as server:
        write_load_repo(tmp_path, {
            "target": {"url": server.url, "headers": {"X-Load": "prodgate"}}, "scenario": "http",
            "http": {"method": "POST", "path": "/v1/chat/completions?q={{q}}", "dataset": "rows.jsonl",
                     "body": {"model": "m", "max_tokens": "{{n}}", "messages": [{"role": "user", "content": "Q: {{q}}"}]}},
            "users": 1, "duration": "1s", "thresholds": {"completed": ["count >= 5"]},
        }, {"rows.jsonl": "".join(json.dumps(r) + "\n" for r in rows)})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
        seen = {(r["path"], r["body"]["max_tokens"], r["body"]["messages"][0]["content"], r["headers"].get("X-Load"))
                for r in server.requests}
    assert res.exit_code == 0, load_result(tmp_path / "r.json")["summary"]
    # Placeholders keep a value's type when they are the whole string; path values are URL-quoted.
    assert seen == {("/v1/chat/completions?q=a%20b%2Fc", 3, "Q: a b/c", "prodgate"),
                    ("/v1/chat/completions?q=x", 7, "Q: x", "prodgate")}


def test_load_dataset_defect_is_finding_exit_1(tmp_path: Path) -> None:
    with serve(Behaviour()) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "users": 1, "duration": "1s"})
        with (tmp_path / "messages.jsonl").open("a") as f:
            f.write("{not json\n" + json.dumps({"messages": "hello"}) + "\n")
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 1
    check = load_result(tmp_path / "r.json")
    errors = [(f["file"], f["line"], f["message"]) for f in check["findings"] if f["severity"] == "error"]
    assert errors[0][:2] == ("messages.jsonl", 4) and errors[0][2].startswith("not valid JSON")
    assert errors[1] == ("messages.jsonl", 5, "a row needs `messages`: a list of {role, content} strings")
    assert check["metrics"]["completed"] > 0  # the good rows were still sent


# SSE answers that are JSON but not chat completion chunks, served in turn.
ODD_STREAMS = [
    b'data: {"choices": [{"delta": {"content": "hi"}}]}\n\ndata: 5\n\ndata: [DONE]\n\n',
    b'data: {"choices": ["hi"]}\n\ndata: [DONE]\n\n',
    b'data: {"choices": [{"delta": {"content": "hi"}, "finish_reason": "stop"}], '
    b'"usage": {"completion_tokens": "many"}}\n\ndata: [DONE]\n\n',
]


def test_load_stream_events_of_wrong_shape_are_invalid_json(tmp_path: Path) -> None:
    import itertools
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    bodies = itertools.cycle(ODD_STREAMS)

    class Odd(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            body = next(bodies)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Odd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        write_load_repo(tmp_path, {"target": {"url": f"http://127.0.0.1:{server.server_port}"}, "users": 1,
                                   "duration": "1s", "thresholds": {"error_rate": ["rate < 1%"]}})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert res.exit_code == 1, res.stderr
    check = load_result(tmp_path / "r.json")
    m = check["metrics"]
    assert m["requests"] >= 3 and m["completed"] == 0
    # Not a connection failure with a Python exception's text: the answer's shape is wrong.
    assert m["failure_categories"] == {"output.invalid_json": m["failed"]}
    messages = {e["message"] for e in check["details"]["errors"]}
    assert messages == {"a stream event is not a chat completion chunk: a JSON int, not an object",
                        "a stream event is not a chat completion chunk: `choices` is not a list of objects",
                        "a stream event is not a chat completion chunk: `usage.completion_tokens` is not a count"}
