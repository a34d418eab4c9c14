"""Whether the proxy records an answer as complete, however its relay ends: the upstream ending its body, breaking
off after its last event or before it, the service hanging up after the answer's end or in its middle."""

from __future__ import annotations

import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prodgate_checks.resilience.faults import Plan
from prodgate_checks.resilience.proxy import Call, Proxy, upstream_of

HANG_UP = "hang-up"  # in a script: wait until the service has closed its connection, and a little more
DROP = "drop"  # close the connection where the body should go on or end
END = "end"  # the chunked body's last chunk


def event(obj: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def delta(text: str) -> bytes:
    return event({"choices": [{"index": 0, "delta": {"content": text}}]})


FINISH = event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
USAGE = event({"choices": [], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
DONE = b"data: [DONE]\n\n"
ANTHROPIC = [b'event: message_start\ndata: {"type": "message_start"}\n\n',
             b'event: content_block_delta\ndata: {"type": "content_block_delta", "delta": {"text": "Hello"}}\n\n',
             b'event: message_delta\ndata: {"type": "message_delta", "delta": {"stop_reason": "end_turn"}}\n\n',
             b'event: message_stop\ndata: {"type": "message_stop"}\n\n']


@dataclass
class Script:
    steps: list[Any]  # bytes (an event, sent as a chunk), HANG_UP, DROP or END
    hung_up: threading.Event


class Upstream:
    """A provider on a raw socket that answers each call with a script, so a test says exactly where the body ends."""

    def __init__(self) -> None:
        self.script = Script([], threading.Event())
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn, self.script), daemon=True).start()

    @staticmethod
    def _answer(conn: socket.socket, script: Script) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            body = head.split(b"\r\n\r\n", 1)[1]
            while len(body) < length:
                body += conn.recv(65536)
            if isinstance(script.steps[0], dict):  # a plain JSON answer of a known length
                data = json.dumps(script.steps[0]).encode()
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"
                             b"Content-Length: %d\r\n\r\n" % len(data) + data)
                time.sleep(1)
                return
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
                         b"Connection: close\r\n\r\n")
            try:
                for step in script.steps:
                    if step == HANG_UP:
                        assert script.hung_up.wait(30)
                        time.sleep(0.5)  # the proxy sees the connection go before the next event
                    elif step == DROP:
                        return
                    elif step == END:
                        conn.sendall(b"0\r\n\r\n")
                    else:
                        conn.sendall(b"%x\r\n" % len(step) + step + b"\r\n")
                        time.sleep(0.05)  # one event a segment, as a model's tokens come
            except OSError:
                return
            time.sleep(1)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    server = Upstream()
    try:
        yield server
    finally:
        server.close()


def call(proxy: Proxy, upstream: Upstream, steps: list[Any], until: bytes | None, reset: bool = False) -> Call:
    """One call through the proxy, by a service that reads the answer until `until` (None: to its end) and then
    closes its connection (`reset`: with a TCP reset), as a service that has what it needs does."""
    upstream.script = Script(steps, threading.Event())
    proxy.begin(Plan((), 0, time.monotonic()))
    port = int(proxy.url("openai").split(":")[2].split("/")[0])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
    stream = not isinstance(steps[0], dict)
    try:
        conn.request("POST", "/v1/chat/completions", json.dumps({"model": "m1", "stream": stream, "messages": []}),
                     {"Content-Type": "application/json", "X-Request-Id": "r-1"})
        resp = conn.getresponse()
        assert resp.status == 200
        if until is None:
            try:
                resp.read()
            except http.client.IncompleteRead:
                pass  # the upstream broke off: the service has what came
        else:
            seen = b""
            while until not in seen:
                line = resp.readline()
                assert line, f"the answer ended before {until!r}"
                seen += line
        if reset and conn.sock is not None:
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        conn.close()
        upstream.script.hung_up.set()
    deadline = time.monotonic() + 20
    while not proxy.calls() and time.monotonic() < deadline:
        time.sleep(0.02)
    [recorded] = proxy.calls()
    return recorded


@pytest.fixture
def proxy(upstream: Upstream) -> Iterator[Proxy]:
    with Proxy([upstream_of("openai", upstream.url)], read_timeout_s=10) as p:
        yield p


OPENAI = [delta("Hel"), delta("lo"), FINISH, USAGE, DONE]


@pytest.mark.parametrize(("steps", "until", "reset"), [
    ([*OPENAI, DROP], b"[DONE]", False),
    ([*ANTHROPIC, DROP], b"message_stop", False),
    ([delta("Hel"), delta("lo"), FINISH, HANG_UP, USAGE, DONE, END], b"finish_reason", False),
    ([*OPENAI, HANG_UP, END], b"[DONE]", False),
    ([*OPENAI, HANG_UP, END], b"[DONE]", True),
    ([*ANTHROPIC, HANG_UP, END], b"message_stop", False),
    ([{"choices": [{"message": {"content": "Hello"}}]}], None, True),
], ids=["upstream-drops-after-done", "anthropic-upstream-drops-after-message-stop",
        "service-hangs-up-after-finish-reason", "service-closes-after-done", "service-resets-after-done",
        "anthropic-service-closes-after-message-stop", "json-read-whole-then-reset"])
def test_resilience_completion_answer_whole_at_the_service_recorded_completed(
        proxy: Proxy, upstream: Upstream, steps: list[Any], until: bytes | None, reset: bool) -> None:
    recorded = call(proxy, upstream, steps, until, reset)
    assert (recorded.status, recorded.fault, recorded.completed, recorded.request_id) == (200, None, True, "r-1")


@pytest.mark.parametrize(("steps", "until"), [
    ([delta("Hel"), HANG_UP, delta("lo"), delta(" there"), delta(" friend"), FINISH, USAGE, DONE, END], b"Hel"),
    ([delta("Hel"), delta("lo"), DROP], None),
    ([ANTHROPIC[0], ANTHROPIC[1], DROP], None),
], ids=["service-hangs-up-mid-answer", "upstream-breaks-off-mid-answer", "anthropic-upstream-breaks-off"])
def test_resilience_completion_answer_cut_before_its_end_recorded_incomplete(
        proxy: Proxy, upstream: Upstream, steps: list[Any], until: bytes | None) -> None:
    recorded = call(proxy, upstream, steps, until)
    assert (recorded.status, recorded.completed) == (200, False)
