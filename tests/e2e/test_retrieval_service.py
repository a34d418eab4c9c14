"""An http retrieval target whose service the gate starts, as the load check starts its target: on a free port,
asked through it, always stopped with its children; exit 3 when it never gets ready, a finding when it dies during
the run, its log in the gate's log only; and the gate.yaml errors of the block (exit 2 at their line)."""

from __future__ import annotations

import json
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import GitRepo, alive, gate, gate_subprocess

QUERIES = "".join(json.dumps({"id": f"q{i}", "query": f"topic {i}"}) + "\n" for i in range(12))
QRELS = "".join(f"q{i} 0 doc{i} 2\nq{i} 0 doc{i + 1} 1\n" for i in range(12))

# A search service that records its pid and a child's; RANKS picks the ranking, DIE_AFTER ends it mid-run.
SERVICE = textwrap.dedent("""
    import http.server, json, os, subprocess, sys, threading
    from urllib.parse import parse_qs, urlsplit
    port = int(sys.argv[1])
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    with open("pids", "w") as f:
        f.write(f"{os.getpid()} {child.pid}")
    print("search up; token=ghp_" + "a" * 36, flush=True)
    served = [0]
    lock = threading.Lock()
    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlsplit(self.path)
            if url.path == "/healthz":
                status, body = 200, {"ok": True}
            elif url.path != "/search":
                status, body = 404, {"error": "not found"}
            else:
                with lock:
                    served[0] += 1
                    if served[0] > int(os.environ.get("DIE_AFTER", "0")) > 0:
                        print("fatal: index file truncated", flush=True)
                        os._exit(7)
                i = int(parse_qs(url.query)["q"][0].split()[-1])
                ranks = os.environ.get("RANKS", "good")
                docs = [f"doc{i}", f"doc{i + 1}"] if ranks == "good" else [f"doc{i + 5}", f"doc{i + 6}"]
                status, body = 200, {"results": [{"id": d, "score": 2.0 - n} for n, d in enumerate(docs)]}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        def log_message(self, *a):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
    server.daemon_threads = True
    server.serve_forever()
""")


def _target(extra: str = "", url: str = "http://127.0.0.1:{port}/search") -> str:
    return ("  target:\n    http:\n"
            f"      url: {url}\n      method: GET\n      query: {{q: '{{{{query}}}}', k: '{{{{k}}}}'}}\n"
            "      start: '{python} search.py {port}'\n      ready: /healthz\n      ready_timeout: 10s\n" + extra)


def _write(repo: GitRepo, target: str, extra: str = "") -> None:
    repo.write("search.py", SERVICE)
    repo.write("queries.jsonl", QUERIES)
    repo.write("qrels.txt", QRELS)
    repo.write(".gitignore", "pids\n")
    repo.write("gate.yaml", "version: 1\nretrieval:\n" + target + "  queries: queries.jsonl\n  qrels: qrels.txt\n"
               "  k: 10\n" + extra)


def _pids(root: Path, within: float = 10) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        text = (root / "pids").read_text() if (root / "pids").exists() else ""
        if len(text.split()) == 2:
            return [int(p) for p in text.split()]
        time.sleep(0.05)
    raise AssertionError("the service never wrote its pids")


def _all_gone(pids: list[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(p) for p in pids)


def _check(repo: GitRepo, env: dict[str, str] | None = None) -> tuple[int, dict[str, object], str, str]:
    res = gate_subprocess("check", "-c", "gate.yaml", "--only", "retrieval", "--format", "json", "--base-ref", "main",
                          "--report-json", "r.json", cwd=repo.path, env=env, timeout=90)
    assert res.exit_code in (0, 1, 3), res.stdout + res.stderr
    [check] = res.json()["checks"]
    return res.exit_code, check, res.stderr, (repo.path / "r.json").read_text(encoding="utf-8")


def test_retrieval_service_started_on_a_free_port_compared_and_stopped(repo: GitRepo) -> None:
    _write(repo, _target())
    res = gate_subprocess("baseline", "update", "-c", "gate.yaml", "--only", "retrieval", cwd=repo.path, timeout=90)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert _all_gone(_pids(repo.path))  # stopped after the baseline run, its child too
    data = json.loads((repo.path / ".gate" / "retrieval-baseline.json").read_text())
    assert data["queries"]["q3"]["top"] == ["doc3", "doc4"]
    repo.commit("search service and its baseline")
    repo.git("checkout", "-q", "-b", "change")
    (repo.path / "pids").unlink()

    code, check, _, _ = _check(repo, env={"RANKS": "worse"})  # the variable reaches the service it starts
    assert code == 1 and check["status"] == "fail", check["summary"]
    assert check["details"]["run"]["calls"] == 12 and "nDCG@10 regressed" in check["summary"]
    assert check["details"]["drift"]["changed"] == 12
    assert _all_gone(_pids(repo.path))


def test_retrieval_service_never_ready_exit_3_log_in_the_gate_log_only(repo: GitRepo) -> None:
    _write(repo, _target().replace("ready: /healthz", "ready: /never").replace("ready_timeout: 10s", "ready_timeout: 1.5s"))
    repo.commit()
    t0 = time.monotonic()
    code, check, stderr, report = _check(repo)
    assert code == 3 and check["status"] == "error"
    assert time.monotonic() - t0 < 30
    assert "never became ready" in check["summary"] and "/never gave HTTP 404 for 1.5s" in check["summary"]
    assert "retrieval.target.http.ready_timeout" in check["summary"]
    assert "retrieval: the service's log ends with" in stderr
    assert "  | search up; token=[redacted]" in stderr.splitlines()  # redacted, and in the gate's log only
    assert "search up" not in report and "ghp_" not in stderr + report
    assert _all_gone(_pids(repo.path))


def test_retrieval_service_dies_during_the_run_fails_with_its_exit_code(repo: GitRepo) -> None:
    _write(repo, _target(), "  retries: 0\n  concurrency: 1\n")
    repo.commit()
    code, check, stderr, report = _check(repo, env={"DIE_AFTER": "4"})
    assert code == 1 and check["status"] == "fail"
    messages = [f["message"] for f in check["findings"]]
    assert any("exited with code 7 during the run" in m for m in messages), messages
    assert check["metrics"]["failed_queries"] == 8
    assert check["metrics"]["failure_categories"] == {"transport.connection": 8}
    assert "  | fatal: index file truncated" in stderr.splitlines() and "index file truncated" not in report
    assert _all_gone(_pids(repo.path))


@pytest.mark.parametrize(("target", "line", "message"), [
    (_target().replace("      start: '{python} search.py {port}'\n", ""), 5,
     "url uses {port} but there is no `start`"),
    (_target(url="http://127.0.0.1:8765/search"), 8, "start uses {port} but url does not"),
    (_target(url="http://127.0.0.1:8765/search/{port}"), 5, "{port} belongs in the url's host and port"),
    ("  target:\n    http:\n      url: http://127.0.0.1:8765/search\n      env: {MODE: fast}\n", 6,
     "env applies to the service the gate starts: give `start` too"),
    (_target("      workers: 2\n"), 11, "unknown"),
])
def test_retrieval_service_config_errors_exit_2_at_their_line(repo: GitRepo, target: str, line: int,
                                                              message: str) -> None:
    _write(repo, target)
    repo.commit()
    res = gate("check", "-c", repo.path / "gate.yaml", "--only", "retrieval", cwd=repo.path)
    assert res.exit_code == 2 and f"gate.yaml:{line}:" in res.stderr and message in res.stderr, res.stderr
    assert not (repo.path / "pids").exists()  # nothing was started
