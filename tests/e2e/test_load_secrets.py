"""The load check keeps secrets in: no redirect followed, errors redacted before capped, the service's log out of the comment."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from gate.registry import by_name, discover
from gate.render.markdown import render_comment, render_summary
from gate.report import Report
from tests.conftest import gate
from tests.servers.load_support import load_result, write_load_repo
from tests.servers.openai_fake import Fault, serve

SECRET = "Zq81-uT5v-Lm30-Pe77-Xa4k"  # no known shape: only its variable says it is secret


def pieces(secret: str, size: int = 6) -> list[str]:
    return [secret[i:i + size] for i in range(len(secret) - size + 1)]


@pytest.mark.parametrize("scenario", ["openai-chat", "http"])
def test_load_redirect_to_other_host_not_followed_secret_stays(tmp_path: Path, scenario: str) -> None:
    with serve() as elsewhere, serve() as target:
        redirect = Fault("status", status=307, headers={"Location": elsewhere.url + "/v1/chat/completions"},
                         times=100_000)
        target.behaviour.faults.append(redirect)
        section: dict[str, Any] = {
            "target": {"url": target.url, "headers_env": {"X-Api-Key": "SVC_UPSTREAM"}}, "users": 2,
            "duration": "1s", "thresholds": {"error_rate": ["rate < 50%"]}}
        if scenario == "http":
            section.update(scenario="http", http={"path": "/app", "body": {"question": "hi"}})
        else:
            section["chat"] = {"dataset": "messages.jsonl", "stream": False}
        write_load_repo(tmp_path, section)
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path,
                   env={"SVC_UPSTREAM": SECRET})
        sent = [r["headers"].get("X-Api-Key") for r in target.requests]
        reached = list(elsewhere.requests)
    assert res.exit_code == 1, res.stderr
    assert sent and set(sent) == {SECRET}  # the target itself got the header
    assert reached == []  # the host the redirect names got nothing, so not the header either
    check = load_result(tmp_path / "r.json")
    assert check["metrics"]["completed"] == 0
    assert check["metrics"]["failure_categories"] == {"transport.client_error": check["metrics"]["failed"]}
    assert [e["message"] for e in check["details"]["errors"]] == ["HTTP 307: redirects are not followed"]


# A team's locustfile that reports the answer of an API which echoes the key it was sent, as some 401s do.
ECHOING_LOCUSTFILE = textwrap.dedent("""
    import os
    from locust import FastHttpUser, constant, task

    class Echoing(FastHttpUser):
        wait_time = constant(0.05)

        @task
        def call(self):
            with self.client.get("/app", params={"key": os.environ["SVC_TOKEN"]}, catch_response=True) as resp:
                # The key ends 17 characters past the 200 that a failure message keeps.
                resp.failure("x" * 167 + " rejected key " + resp.json()["echo"]["key"])
""")


def test_load_error_echoing_a_key_redacted_before_capped(tmp_path: Path) -> None:
    with serve() as target:
        write_load_repo(tmp_path, {"target": {"url": target.url}, "scenario": "echoing.py", "users": 1,
                                   "duration": "1s"}, files={"echoing.py": ECHOING_LOCUSTFILE})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path,
                   env={"SVC_TOKEN": SECRET})
    assert res.exit_code == 1, res.stderr
    check = load_result(tmp_path / "r.json")
    (error,) = check["details"]["errors"]
    assert error["message"].endswith(" rejected key [redacted]") and error["category"] == "quality.assertion"
    written = (tmp_path / "r.json").read_text() + res.stdout + res.stderr
    assert not any(piece in written for piece in pieces(SECRET))


DYING_SERVICE = textwrap.dedent("""
    import http.server, json, os, sys, threading
    print("connecting with " + os.environ["SVC_TOKEN"] + " as deploy-bot", flush=True)
    print("upstream " + os.environ.get("UPSTREAM_HOST", "none"), flush=True)
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            data = json.dumps({"choices": [{"message": {"content": "ok"}}]}).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
            self.wfile.write(data)
        def log_message(self, *a):
            pass
    threading.Timer(1.0, lambda: (print("fatal: lost the database at db.internal:5432", flush=True),
                                  os._exit(7))).start()
    http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()
""")


def dying_repo(root: Path, **target: Any) -> None:
    write_load_repo(root, {"target": {"url": "http://127.0.0.1:{port}", "start": "{python} svc.py {port}",
                                      **target},
                           "chat": {"dataset": "messages.jsonl", "stream": False}, "users": 1, "duration": "2s"},
                    files={"svc.py": DYING_SERVICE})


def rendered(root: Path) -> tuple[str, str]:
    report = Report.from_dict(json.loads((root / "r.json").read_text(encoding="utf-8")))
    checks = by_name(discover()[0])
    return render_comment(report, checks=checks), render_summary(report, checks=checks)


def test_load_service_log_in_summary_and_log_not_in_comment(tmp_path: Path) -> None:
    dying_repo(tmp_path)
    res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path,
               env={"SVC_TOKEN": SECRET})
    assert res.exit_code == 1, res.stderr
    check = load_result(tmp_path / "r.json")
    assert check["details"]["target"]["log_tail"] == ["connecting with [redacted] as deploy-bot", "upstream none",
                                                      "fatal: lost the database at db.internal:5432"]
    assert check["details"]["target"]["log_in_comment"] is False
    comment, summary = rendered(tmp_path)
    assert "db.internal" not in comment and "deploy-bot" not in comment
    assert "load.target.log_in_comment: true" in comment
    assert "fatal: lost the database at db.internal:5432" in summary
    assert "  | fatal: lost the database at db.internal:5432" in res.stderr.splitlines()
    assert "  | connecting with [redacted] as deploy-bot" in res.stderr.splitlines()
    assert not any(piece in comment + summary + res.stdout + res.stderr for piece in pieces(SECRET))


def test_load_service_log_in_comment_when_asked_redact_env_honoured(tmp_path: Path) -> None:
    dying_repo(tmp_path, log_in_comment=True)
    with (tmp_path / "gate.yaml").open("a", encoding="utf-8") as f:
        f.write("redact_env: [UPSTREAM_HOST]\n")  # a name nothing else marks as secret
    res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path,
               env={"SVC_TOKEN": SECRET, "UPSTREAM_HOST": "tenant-7.private.example"})
    assert res.exit_code == 1, res.stderr
    comment, summary = rendered(tmp_path)
    assert "fatal: lost the database at db.internal:5432" in comment
    assert "fatal: lost the database at db.internal:5432" in summary
    assert "upstream [redacted]" in comment and "  | upstream [redacted]" in res.stderr.splitlines()
    assert "tenant-7" not in comment + summary + res.stdout + res.stderr + (tmp_path / "r.json").read_text()


def test_load_start_failure_log_out_of_summary_and_comment(tmp_path: Path) -> None:
    write_load_repo(tmp_path, {"target": {"url": "http://127.0.0.1:{port}", "start": "{python} svc.py",
                                          "ready_timeout": "5s"}, "duration": "1s"},
                    files={"svc.py": "import sys\nprint('bad config: DATABASE_URL=db.internal/prod', flush=True)\n"
                                     "sys.exit(2)\n"})
    res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 3, res.stderr
    check = load_result(tmp_path / "r.json")
    assert check["status"] == "error"
    assert check["summary"] == "could not complete: the target's start command exited with code 2 before it was ready"
    assert check["details"]["target"]["log_tail"] == ["bad config: DATABASE_URL=db.internal/prod"]
    assert check["details"]["target"]["url"].startswith("http://127.0.0.1:") and "{port}" not in check["details"]["target"]["url"]
    comment, summary = rendered(tmp_path)
    assert "db.internal" not in comment and "load.target.log_in_comment: true" in comment
    assert "bad config: DATABASE_URL=db.internal/prod" in summary
    assert "  | bad config: DATABASE_URL=db.internal/prod" in res.stderr.splitlines()
