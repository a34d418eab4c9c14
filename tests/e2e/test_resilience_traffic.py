"""The resilience check's client on answers a service should not give: each is a classified error, never a crash."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from prodgate_checks.resilience.traffic import Traffic, run

GOOD = [b'data: {"choices": [{"delta": {"content": "Hi"}}]}', b'data: {"choices": [{"finish_reason": "stop"}]}',
        b"data: [DONE]"]
STREAMS = {
    "/good": GOOD,
    "/choices-not-objects": [b'data: {"choices": ["x", null, 3]}', *GOOD],
    "/choices-a-string": [b'data: {"choices": "abc"}', *GOOD],
    "/event-not-an-object": [b"data: [1, 2]", *GOOD],
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/error-200":  # the service's failure in a 200, whether a stream was asked or not
            error = b'{"error": {"message": "every model failed: primary: HTTP 503", "type": "unavailable"}}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(error)))
            self.end_headers()
            self.wfile.write(error)
            return
        body = b"".join(line + b"\n\n" for line in STREAMS[self.path])
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def answer(url: str, path: str, stream: bool = True) -> Any:
    traffic = Traffic(url, path, [{"messages": [{"role": "user", "content": "hi"}]}], stream, 10, "X-Request-Id", {})
    [one] = run(traffic, "odd", 1, 1, 30)
    return one


def test_resilience_traffic_good_stream_is_answered(service: str) -> None:
    one = answer(service, "/good")
    assert one.ok and one.ttft_ms is not None


@pytest.mark.parametrize("path", ["/choices-not-objects", "/choices-a-string", "/event-not-an-object"])
def test_resilience_traffic_odd_events_are_skipped_not_a_crash(service: str, path: str) -> None:
    # Events that carry nothing usable are passed over, as a client of the stream would: the answer still comes.
    one = answer(service, path)
    assert one.ok, one



@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "plain"])
def test_resilience_traffic_error_object_in_a_200_is_a_server_error_in_its_words(service: str, stream: bool) -> None:
    one = answer(service, "/error-200", stream)
    assert (one.ok, one.status, one.category) == (False, 200, "transport.server_error")
    assert one.message == "every model failed: primary: HTTP 503"
