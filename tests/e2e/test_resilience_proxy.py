"""The fault-injecting proxy on loopback, in front of a real OpenAI-compatible server: forwarding, faults, records."""

from __future__ import annotations

import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prodgate_checks.resilience.faults import Fault, How, Kind, Plan
from prodgate_checks.resilience.proxy import Proxy, upstream_of

from tests.conftest import EXAMPLE
from tests.servers.openai_fake import Behaviour, serve
from tests.servers.ports import listen_port

KEY = "sk-proxytest-0123456789abcdefghijklmnop"


def post(url: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    parts = url.split("/", 3)
    host, port = parts[2].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/" + parts[3] + "/chat/completions", json.dumps(body),
                     {"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def settled(proxy: Proxy, n: int) -> list[Any]:
    """The proxy records a call once its answer is sent: the client may read it a moment before."""
    deadline = time.monotonic() + 5
    while len(proxy.calls()) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return proxy.calls()


@pytest.fixture
def upstream() -> Iterator[Any]:
    with serve(Behaviour(ttft_s=0.05, token_interval_s=0.01)) as server:
        yield server


@pytest.fixture
def proxy(upstream: Any) -> Iterator[Proxy]:
    with Proxy([upstream_of("openai", upstream.url + "/v1")], hang_s=1.0) as p:
        yield p


def chat(stream: bool, model: str = "m1") -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": "hello there"}], "stream": stream,
            "stream_options": {"include_usage": True}}


@pytest.fixture
def stub() -> Iterator[str]:
    """The example's model stub: a provider that ends its streams in chunked encoding, as hosted ones do."""
    port = listen_port()
    proc = subprocess.Popen([sys.executable, str(EXAMPLE / "model_stub.py"), "--port", str(port), "--ttft-ms", "50",
                             "--tpot-ms", "5"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().startswith("model-stub on")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_resilience_proxy_stream_forwarded_as_is_recorded_without_secrets(stub: str) -> None:
    with Proxy([upstream_of("openai", stub)]) as proxy:
        assert proxy.url("openai").startswith("http://127.0.0.1:") and proxy.url("openai").endswith("/v1")
        proxy.begin(Plan((), 0, time.monotonic()))
        status, _, through = post(proxy.url("openai"), chat(True), {"Authorization": f"Bearer {KEY}",
                                                                     "X-Request-Id": "r-1"})
        _, _, direct = post(stub, chat(True))
        [call] = settled(proxy, 1)
    assert status == 200

    def events(raw: bytes) -> list[Any]:
        return [json.loads(e[6:])["choices"] for e in raw.decode().split("\n\n") if e.startswith("data: {")]

    assert events(through) == events(direct) and through.rstrip().endswith(b"data: [DONE]")
    assert (call.model, call.status, call.completed, call.fault, call.request_id) == ("m1", 200, True, None, "r-1")
    assert call.output_tokens is not None and call.output_tokens > 3 and call.input_tokens == 2
    assert KEY not in repr(call)


def test_resilience_proxy_passes_the_key_on_and_records_none(proxy: Proxy, upstream: Any) -> None:
    proxy.begin(Plan((), 0, time.monotonic()))
    assert post(proxy.url("openai"), chat(False), {"Authorization": f"Bearer {KEY}"})[0] == 200
    assert upstream.requests[0]["headers"]["Authorization"] == f"Bearer {KEY}"
    assert upstream.requests[0]["path"] == "/v1/chat/completions"
    calls = settled(proxy, 1)
    assert KEY not in repr(calls) and calls[0].completed


def test_resilience_proxy_faults_by_model_seeded(proxy: Proxy) -> None:
    faults = (Fault(Kind.OUTAGE, model="m1"), Fault(Kind.RATE_LIMIT, model="m2", retry_after_s=2),
              Fault(Kind.MALFORMED, model="m3"), Fault(Kind.SLOW, model="m4", share=0.5, ttfb_s=0.001))
    proxy.begin(Plan(faults, 3, time.monotonic()))
    assert post(proxy.url("openai"), chat(False, "m1"))[0] == 503
    status, headers, _ = post(proxy.url("openai"), chat(False, "m2"))
    assert status == 429 and headers["Retry-After"] == "2"
    status, _, body = post(proxy.url("openai"), chat(False, "m3"))
    assert status == 200 and pytest.raises(ValueError, json.loads, body)
    assert post(proxy.url("openai"), chat(False, "other"))[0] == 200
    for _ in range(20):
        assert post(proxy.url("openai"), chat(False, "m4"))[0] == 200
    calls = settled(proxy, 24)
    assert [c.fault for c in calls[:4]] == ["outage", "rate_limit", "malformed", None]
    slow = [c.fault for c in calls[4:]]
    # The same seed draws the same calls: a second run gives the same pattern.
    proxy.begin(Plan(faults, 3, time.monotonic()))
    for _ in range(20):
        post(proxy.url("openai"), chat(False, "m4"))
    assert [c.fault for c in settled(proxy, 20)] == slow and 0 < slow.count("slow") < 20


def test_resilience_proxy_truncate_and_hang_end_the_answer(proxy: Proxy) -> None:
    proxy.begin(Plan((Fault(Kind.TRUNCATE, model="m1", after_bytes=40), Fault(Kind.OUTAGE, model="m2", how=How.HANG),
                      Fault(Kind.OUTAGE, model="m3", how=How.REFUSE)), 0, time.monotonic()))
    with pytest.raises((http.client.IncompleteRead, http.client.HTTPException, OSError)):
        post(proxy.url("openai"), chat(True, "m1"))
    t0 = time.monotonic()
    with pytest.raises((http.client.HTTPException, OSError)):
        post(proxy.url("openai"), chat(False, "m2"))
    assert 0.9 < time.monotonic() - t0 < 8  # held for hang_s (1 s), then cut
    with pytest.raises((http.client.HTTPException, OSError)):
        post(proxy.url("openai"), chat(False, "m3"))
    calls = settled(proxy, 3)
    assert [(c.fault, c.completed) for c in calls] == [("truncate", False), ("outage", False), ("outage", False)]


class _Redirecting(BaseHTTPRequestHandler):
    target = ""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(307)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_resilience_proxy_never_follows_a_redirect(upstream: Any) -> None:
    _Redirecting.target = upstream.url + "/v1/chat/completions"
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirecting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with Proxy([upstream_of("evil", f"http://127.0.0.1:{server.server_address[1]}/v1")]) as p:
            p.begin(Plan((), 0, time.monotonic()))
            status, headers, _ = post(p.url("evil"), chat(False))
        assert status == 307 and headers["Location"] == _Redirecting.target
        assert upstream.requests == []  # the redirect's target was never called
    finally:
        server.shutdown()
        server.server_close()


def test_resilience_proxy_unreachable_upstream_is_502_recorded() -> None:
    with Proxy([upstream_of("gone", "http://127.0.0.1:9/v1")], connect_timeout_s=2) as p:
        p.begin(Plan((), 0, time.monotonic()))
        status, _, body = post(p.url("gone"), chat(False))
        calls = settled(p, 1)
    assert status == 502 and b"could not be reached" in body
    assert [(c.status, c.completed) for c in calls] == [(502, False)]


def test_resilience_proxy_request_target_naming_another_host_never_leaves(upstream: Any, proxy: Proxy,
                                                                         caplog: pytest.LogCaptureFixture) -> None:
    proxy.begin(Plan((), 0, time.monotonic()))
    body = json.dumps(chat(False)).encode()
    with serve() as other:
        elsewhere = other.url.split("//", 1)[1]
        for target in (f"{other.url}/v1/chat/completions", f"//{elsewhere}/v1/chat/completions", "*",
                       "/v1/chat/completions"):
            with socket.create_connection(("127.0.0.1", proxy.ports["openai"]), timeout=10) as s:
                s.sendall(f"POST {target} HTTP/1.1\r\nHost: {elsewhere}\r\nContent-Type: application/json\r\n"
                          f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
                answer = b""
                while chunk := s.recv(65536):
                    answer += chunk
            assert answer.split(b" ", 2)[1] == (b"200" if target.startswith("/v1") else b"400"), target
        assert other.requests == []
    # Only the origin-form path reached the configured upstream, under its own Host.
    assert [(r["path"], r["headers"]["Host"]) for r in upstream.requests] == [
        ("/v1/chat/completions", upstream.url.split("//", 1)[1])]
    # A request aiohttp cannot parse is logged (with its traceback) to the proxy's own logger, which prints
    # nowhere, not to aiohttp's, which would print it into the gate's output.
    assert [r.name for r in caplog.records if r.name.startswith("aiohttp")] == []


@pytest.mark.parametrize(("body", "streamed"), [
    (b'{"model": "m3", "messages": [{"role": "user", "content": [{"type": "text", "text": "hi", "stream": 1}]}]}',
     False),
    (b'{"model": "m3", "stream" : false, "messages": [{"role": "user", "content": "say \\"stream\\""}]}', False),
    (b'{"model": "m3", "messages": [{"role": "user", "content": "hi"}], "metadata": {"stream": false}, '
     b'"stream": true}', True),
], ids=["stream-inside-a-message", "stream-false-spaced", "stream-true-false-elsewhere"])
def test_resilience_proxy_stream_read_from_the_json_field_not_the_text(proxy: Proxy, body: bytes,
                                                                       streamed: bool) -> None:
    """A malformed answer takes the shape the request asked for: whether it asked for a stream is its `stream`
    field, whatever its messages say."""
    proxy.begin(Plan((Fault(Kind.MALFORMED, model="m3"),), 0, time.monotonic()))
    host, port = proxy.url("openai").split("/")[2].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("POST", "/v1/chat/completions", body, {"Content-Type": "application/json"})
        resp = conn.getresponse()
        status, kind, raw = resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()
    [call] = settled(proxy, 1)
    assert status == 200 and call.fault == "malformed" and call.model == "m3"
    if streamed:
        assert kind.startswith("text/event-stream") and raw.startswith(b"data: {")
    else:
        assert kind.startswith("application/json") and raw.startswith(b'{"id"')
