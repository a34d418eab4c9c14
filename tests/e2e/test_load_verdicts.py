"""Verdicts of whole runs: a breached SLO, a target that dies or never gets ready, open loop, interrupts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO, GitRepo, alive, gate, gate_subprocess
from tests.servers.load_support import load_result, write_load_repo
from tests.servers.openai_fake import Behaviour, serve

# A chat service (non-streaming) that records its pid and a child's, and can be told to die after a while.
SERVICE = textwrap.dedent("""
    import http.server, json, os, subprocess, sys, threading, time
    port, pids, die_after = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open(pids, "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    print("service up", flush=True)
    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        def do_GET(self):
            self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            time.sleep(0.02)
            data = json.dumps({"choices": [{"message": {"content": "ok"}}], "usage": {"completion_tokens": 1}}).encode()
            self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers()
            self.wfile.write(data)
        def log_message(self, *a):
            pass
    if die_after > 0:
        threading.Timer(die_after, lambda: (print("fatal: out of memory", flush=True), os._exit(7))).start()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    server.daemon_threads = True
    server.serve_forever()
""")


def service_repo(root: Path, die_after: float = 0, **load: Any) -> Path:
    (root / "svc.py").parent.mkdir(parents=True, exist_ok=True)
    (root / "svc.py").write_text(SERVICE, encoding="utf-8")
    section: dict[str, Any] = {
        "target": {"url": "http://127.0.0.1:{port}", "start": f"{{python}} svc.py {{port}} pids {die_after}",
                   "ready": "/healthz", "ready_timeout": "10s"},
        "chat": {"dataset": "messages.jsonl", "stream": False}, "users": 2, "duration": "2s",
        "thresholds": {"error_rate": ["rate < 5%"]},
    }
    section.update(load)
    return write_load_repo(root, section)


def pids(root: Path, within: float = 10) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = (root / "pids").read_text() if (root / "pids").exists() else ""
        if len(text.split()) == 2:
            return [int(p) for p in text.split()]
        time.sleep(0.05)
    raise AssertionError("the service never wrote its pids")


def descendants(pid: int) -> set[int]:
    """Every process below pid, from /proc (the gate's locust and the service's process groups)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def all_gone(pid_list: set[int] | list[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while any(alive(p) for p in pid_list) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(p) for p in pid_list)


def test_load_slow_server_breaches_latency_exit_1(tmp_path: Path) -> None:
    with serve(Behaviour(latency_s=0.25)) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "chat": {"dataset": "messages.jsonl",
                                                                           "stream": False},
                                   "users": 4, "duration": "1.5s",
                                   "thresholds": {"latency": ["p(95) < 100ms"], "error_rate": ["rate < 1%"]}})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 1, res.stderr
    check = load_result(tmp_path / "r.json")
    assert check["status"] == "fail"
    assert "1 of 2 thresholds breached: latency" in check["summary"]
    assert "TTFT" not in check["summary"]  # answers not streamed: no first token to time
    assert "latency" in res.stdout and "p(95) < 100ms" in res.stdout
    (breach,) = [f for f in check["findings"] if f["severity"] == "error"]
    # The server sleeps 250 ms, so nothing honest reads less; a busy machine only adds.
    found = re.fullmatch(r"latency p95 = (\d+\.\d) ms breaches `p\(95\) < 100ms`", breach["message"])
    assert found and float(found[1]) >= 250, breach["message"]
    assert breach["category"] == "budget.latency"


def test_load_finding_names_gate_yaml_by_its_path_in_the_repository(repo: GitRepo) -> None:
    # A service in a folder of a larger repository (the Action's working-directory): annotations need the path from
    # the repository's root, not the one typed on the command line.
    with serve(Behaviour(latency_s=0.25)) as server:
        write_load_repo(repo.path / "svc", {"target": {"url": server.url}, "chat": {"dataset": "messages.jsonl",
                                                                                    "stream": False},
                                            "users": 2, "duration": "1s", "thresholds": {"latency": ["p(95) < 100ms"]}})
        repo.commit("a service in svc/")
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=repo.path / "svc")
    assert res.exit_code == 1, res.stderr
    (breach,) = [f for f in load_result(repo.path / "svc" / "r.json")["findings"] if f["severity"] == "error"]
    assert (breach["file"], breach["category"]) == ("svc/gate.yaml", "budget.latency")


def test_load_start_command_dies_exit_3_no_orphans(tmp_path: Path) -> None:
    service_repo(tmp_path)
    gate_yaml = (tmp_path / "gate.yaml").read_text()
    # A start command that writes its pids, then fails the way a real service does on a bad config.
    (tmp_path / "svc.py").write_text(SERVICE.replace('print("service up", flush=True)',
                                                     'print("config error: no API key", flush=True); sys.exit(2)'))
    res = gate_subprocess("check", "-c", "gate.yaml", "--only", "load", "--format", "json", cwd=tmp_path, timeout=60)
    assert res.exit_code == 3, res.stderr
    check = next(c for c in res.json()["checks"] if c["name"] == "load")
    assert check["status"] == "error"
    assert "exited with code 2 before it was ready" in check["summary"]
    # Its log is in the report's details and the gate's log, never in the summary a comment shows.
    assert "config error" not in check["summary"]
    assert check["details"]["target"]["log_tail"] == ["config error: no API key"]
    assert "  | config error: no API key" in res.stderr.splitlines()
    assert all_gone(pids(tmp_path))  # the grandchild it started went with its group
    assert "ready" in gate_yaml


def test_load_never_ready_exit_3_within_timeout_no_orphans(tmp_path: Path) -> None:
    service_repo(tmp_path)
    section = (tmp_path / "gate.yaml").read_text().replace("ready: /healthz", "ready: /never") \
        .replace("ready_timeout: 10s", "ready_timeout: 1.5s")
    (tmp_path / "gate.yaml").write_text(section)
    (tmp_path / "svc.py").write_text(SERVICE.replace("def do_GET(self):\n        self.send_response(200)",
                                                     "def do_GET(self):\n        self.send_response(503)"))
    t0 = time.monotonic()
    res = gate_subprocess("check", "-c", "gate.yaml", "--only", "load", "--format", "json", cwd=tmp_path, timeout=60)
    assert res.exit_code == 3, res.stderr
    assert time.monotonic() - t0 < 20
    check = next(c for c in res.json()["checks"] if c["name"] == "load")
    assert "never became ready" in check["summary"] and "/never gave HTTP 503 for 1.5s" in check["summary"]
    assert all_gone(pids(tmp_path))


def test_load_target_dies_mid_run_fails_with_log(tmp_path: Path) -> None:
    service_repo(tmp_path, die_after=1.5, duration="2.5s")
    res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 1, res.stderr
    check = load_result(tmp_path / "r.json")
    messages = [f["message"] for f in check["findings"]]
    assert "the service exited with code 7 during the load run" in messages
    assert "transport.connection" in check["metrics"]["failure_categories"]
    assert "fatal: out of memory" in check["details"]["target"]["log_tail"]
    assert all_gone(pids(tmp_path))


def test_load_open_loop_keeps_intended_rate_exit_0(tmp_path: Path) -> None:
    with serve(Behaviour(latency_s=0.02)) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "chat": {"dataset": "messages.jsonl",
                                                                           "stream": False},
                                   "users": 4, "arrival_rate": 20, "warmup": "0.5s", "duration": "2s",
                                   # The lag budget allows a busy machine's scheduling; a generator short of
                                   # users lags by whole answers and falls behind (the next test).
                                   "max_lag": "500ms",
                                   "thresholds": {"lag": ["p(95) < 500ms"], "throughput": ["rps >= 15"]}})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    check = load_result(tmp_path / "r.json")
    assert res.exit_code == 0, check["summary"]
    m = check["metrics"]
    assert m["intended_rps"] == 20 and m["achieved_rps"] == pytest.approx(20, rel=0.1)
    assert m["lag_ms"]["p95"] < 500 and m["late_requests"] == 0
    assert check["details"]["run"]["mode"] == "open"


def test_load_open_loop_generator_behind_inconclusive_exit_3(tmp_path: Path) -> None:
    with serve(Behaviour(latency_s=0.2)) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "chat": {"dataset": "messages.jsonl",
                                                                           "stream": False},
                                   "users": 1, "arrival_rate": 20, "duration": "1.5s",
                                   "thresholds": {"latency": ["p(95) < 1s"]}})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 3, res.stderr
    check = load_result(tmp_path / "r.json")
    assert check["status"] == "error"
    assert check["summary"].startswith("inconclusive: the generator could not keep up:")
    assert "of the intended 20 rps went out" in check["summary"] and "raise `users` (all 1 busy?)" in check["summary"]
    assert check["metrics"]["achieved_rps"] < 10


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_load_interrupted_stops_service_and_locust(tmp_path: Path, sig: signal.Signals) -> None:
    service_repo(tmp_path, duration="30s")
    proc = subprocess.Popen([sys.executable, "-m", "gate", "check", "-c", "gate.yaml", "--only", "load"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        service = pids(tmp_path)
        deadline = time.monotonic() + 15
        below: set[int] = set()
        while time.monotonic() < deadline:  # wait until locust runs too
            below = descendants(proc.pid)
            if len(below - set(service)) >= 1 and any("locust" in _cmdline(p) for p in below):
                break
            time.sleep(0.1)
        assert any("locust" in _cmdline(p) for p in below), "locust never started"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130 and "interrupted" in err
    assert all_gone(below | set(service))


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""
