"""A hostile retriever on loopback, through the real CLI: an answer of 50 MB, one without end (fast or a trickle),
a small gzip that inflates to 100 MB, NaN scores, and a redirect to another host with a secret header configured.
Each is that query's finding (exit 1); the gate reads a bounded amount and sends no secret to another host."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import GitRepo, gate

QUERIES = "".join(json.dumps({"id": f"q{i}", "query": f"topic {i}"}) + "\n" for i in range(6))
QRELS = "".join(f"q{i} 0 doc{i} 2\n" for i in range(6))
SECRET = "retriever-secret-6f1c2a9e"
BOMB = gzip.compress(b"[" + b" " * (100 * 1024 * 1024) + b"]", compresslevel=9)


class Hostile:
    """What the retriever at `url` does for `topic 3`; every other query gets a plain ranking."""

    mode = "plain"
    other = ""  # the url of the second server (another origin: localhost, not 127.0.0.1)
    seen: list[dict[str, str]]

    def __init__(self) -> None:
        self.seen = []


@contextmanager
def _serve(state: Hostile) -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _handler(state: Hostile) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802
            state.seen.append(dict(self.headers))
            q = parse_qs(urlsplit(self.path).query).get("q", [""])[0]
            if q == "topic 3" and state.mode != "plain":
                getattr(self, f"_{state.mode}")()
                return
            i = int(q.split()[-1]) if q else 0
            self._send(json.dumps({"results": [{"id": f"doc{i}", "score": 2.0}, {"id": f"doc{i + 1}", "score": 1.0}]})
                       .encode())

        def _send(self, data: bytes, *, headers: dict[str, str] | None = None) -> None:
            self.send_response(200)
            for name, value in {"Content-Type": "application/json", "Content-Length": str(len(data)),
                                **(headers or {})}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def _huge(self) -> None:  # 50 MB, announced honestly
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(50_000_000))
            self.end_headers()
            self._pour(50_000_000)

        def _endless(self) -> None:  # chunked, never ends
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._pour(None, chunked=True)

        def _trickle(self) -> None:  # a byte at a time, each well within the read timeout
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self._pour(None, chunked=True, piece=b" ", pause=0.05)

        def _bomb(self) -> None:
            self._send(BOMB, headers={"Content-Encoding": "gzip"})

        def _nan(self) -> None:
            self._send(b'{"results": [{"id": "doc3", "score": NaN}, {"id": "doc4", "score": 1.0}]}')

        def _redirect(self) -> None:
            self.send_response(302)
            self.send_header("Location", state.other + "/search?q=topic+3")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def _pour(self, total: int | None, *, chunked: bool = False, piece: bytes = b" " * 65536,
                  pause: float = 0.0) -> None:
            sent = 0
            try:
                while total is None or sent < total:
                    data = piece if total is None else piece[:total - sent]
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
                    sent += len(data)
                    if pause:
                        time.sleep(pause)
            except OSError:
                pass  # the gate stopped reading: what it should do

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def hostile() -> Iterator[tuple[Hostile, str, Hostile]]:
    state, elsewhere = Hostile(), Hostile()
    with _serve(elsewhere) as port, _serve(state) as main_port:
        state.other = f"http://localhost:{port}"
        yield state, f"http://127.0.0.1:{main_port}/search", elsewhere


def _run(repo: GitRepo, url: str, extra: str = "", env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    repo.write("queries.jsonl", QUERIES)
    repo.write("qrels.txt", QRELS)
    repo.write("gate.yaml", "version: 1\nretrieval:\n  target: {http: {url: '" + url + "', method: GET, "
               "query: {q: '{{query}}'}" + extra + "}}\n  queries: queries.jsonl\n  qrels: qrels.txt\n  k: 10\n"
               "  retries: 0\n  timeout: 2\n")
    repo.commit()
    res = gate("check", "--only", "retrieval", "--format", "json", "--base-ref", "main", cwd=repo.path, env=env)
    [check] = res.json()["checks"]
    return res.exit_code, check, res.stdout + res.stderr


@pytest.mark.parametrize(("mode", "category", "message"), [
    ("huge", "transport.server_error", "is larger than 16 MiB: not read further"),
    ("endless", "transport.server_error", "is larger than 16 MiB: not read further"),
    ("trickle", "transport.server_error", "is still arriving when its time ran out: not read further"),
    ("bomb", "transport.server_error", "is larger than 16 MiB: not read further"),
    ("nan", "retrieval.invalid_output", "result 1 has a score that is not a finite number: 'nan'"),
])
def test_retrieval_http_hostile_answer_is_that_querys_finding(repo: GitRepo, hostile: Any, mode: str, category: str,
                                                              message: str) -> None:
    state, url, _ = hostile
    state.mode = mode
    code, check, _ = _run(repo, url)
    assert code == 1 and check["status"] == "fail"
    assert check["metrics"]["failure_categories"] == {category: 1} and check["metrics"]["judged_queries"] == 5
    [finding] = [f for f in check["findings"] if f.get("case_id") == "q3"]
    assert (finding["file"], finding["line"]) == ("queries.jsonl", 4) and message in finding["message"]


def test_retrieval_http_redirect_to_another_host_is_not_followed_with_the_secret(repo: GitRepo, hostile: Any) -> None:
    state, url, elsewhere = hostile
    state.mode = "redirect"
    code, check, output = _run(repo, url, ", headers_env: {X-Api-Key: RETRIEVER_KEY}", env={"RETRIEVER_KEY": SECRET})
    assert code == 1 and check["metrics"]["failure_categories"] == {"transport.client_error": 1}
    [finding] = [f for f in check["findings"] if f.get("case_id") == "q3"]
    assert "redirects to another origin (http://localhost:" in finding["message"]
    assert "not followed, so that no credential goes there" in finding["message"]
    assert elsewhere.seen == []  # the other host was never asked, let alone sent the key
    assert all(h.get("X-Api-Key") == SECRET for h in state.seen) and len(state.seen) == 6
    assert SECRET not in output
