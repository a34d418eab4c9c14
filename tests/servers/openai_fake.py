"""An OpenAI-compatible chat server on loopback with known, controllable behaviour.

Deterministic answers (a function of the messages), configurable latency, time to first token
and token pace for streams, `usage` in every answer, and injected faults: 429 with Retry-After,
5xx, hangs, malformed JSON, truncated streams. Every request is recorded.

Also, on the same port: the Anthropic Messages API (`POST /v1/messages`) with the same answers,
a stand-in for a team's own app (`/app`: POST echoes the JSON body under `echo` with an
`answer`; GET echoes the query string), and `GET /stats` with the count of requests answered.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], str]


def echo_last_user(body: dict[str, Any]) -> str:
    users = [m.get("content", "") for m in body.get("messages", []) if m.get("role") == "user"]
    return f"You said: {users[-1] if users else ''}"


@dataclass
class Fault:
    """Answer the next `times` matching requests this way instead of normally."""

    kind: str  # "status", "hang", "malformed", "truncate", "close"
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    seconds: float = 30.0


@dataclass
class Behaviour:
    answer: Answer = echo_last_user
    latency_s: float = 0.0  # non-streaming: time before the response
    ttft_s: float = 0.0  # streaming: time before the first content chunk
    token_interval_s: float = 0.0  # streaming: time between content chunks
    tokens_per_chunk: int = 1
    error_every: int = 0  # every Nth request answers error_status (a known error rate)
    error_status: int = 503
    faults: list[Fault] = field(default_factory=list)
    honour_max_tokens: bool = False  # cut answers at max_tokens words, finish_reason "length"
    app_usage: dict[str, Any] | None = None  # POST /app answers this `usage` (json.dumps writes NaN as NaN)


def _tokens(text: str) -> list[str]:
    # One "token" per word, keeping the separator, so usage counts are easy to hand-check.
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class FakeOpenAI:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.count = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Without this, keep-alive requests stall ~40 ms on delayed ACKs.
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/app"):
                    from urllib.parse import parse_qsl, urlsplit

                    query = dict(parse_qsl(urlsplit(self.path).query))
                    with server.lock:
                        server.count += 1
                        server.requests.append({"path": self.path, "headers": dict(self.headers), "body": None,
                                                "at": time.monotonic()})
                    time.sleep(server.behaviour.latency_s)
                    self._json(200, {"answer": f"You asked: {query.get('q', '')}", "echo": query})
                    return
                if self.path == "/stats":  # how many requests were answered, for benchmarks in another process
                    with server.lock:
                        self._json(200, {"requests": server.count})
                    return
                if self.path in ("/healthz", "/health", "/v1/models"):
                    self._json(200, {"ok": True, "data": [{"id": "fake-model"}]})
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._json(400, {"error": {"message": "invalid JSON body"}})
                    return
                with server.lock:
                    server.count += 1
                    n = server.count
                    server.requests.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                            "at": time.monotonic()})
                    fault = server._take_fault()
                b = server.behaviour
                route = self.path.split("?", 1)[0]
                if fault is not None:
                    self._fault(fault)
                    return
                if b.error_every and n % b.error_every == 0:
                    self._json(b.error_status, {"error": {"message": "injected error"}})
                    return
                if self.path.startswith("/app"):
                    time.sleep(b.latency_s)
                    question = body.get("question", "") if isinstance(body, dict) else ""
                    usage = b.app_usage or {"in": len(str(question).split()), "out": 2 + len(str(question).split())}
                    self._json(200, {"answer": f"You asked: {question}", "echo": body, "usage": usage})
                    return
                if route.endswith("/messages"):
                    time.sleep(b.latency_s)
                    self._json(200, server.anthropic(body))
                    return
                if not route.endswith("/chat/completions"):
                    self._json(404, {"error": {"message": f"no route {self.path}"}})
                    return
                text = b.answer(body)
                if body.get("stream"):
                    self._stream(body, text)
                else:
                    time.sleep(b.latency_s)
                    self._json(200, server.completion(body, text))

            def _json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def _fault(self, fault: Fault) -> None:
                if fault.kind == "status":
                    self._json(fault.status, {"error": {"message": f"injected {fault.status}"}}, fault.headers)
                elif fault.kind == "hang":
                    time.sleep(fault.seconds)
                    self.close_connection = True
                elif fault.kind == "malformed":
                    data = b'{"choices": [{"message": {"content": "trunc'
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif fault.kind == "truncate":
                    # An answer delimited by the connection's close, which comes before the stream's end.
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(b'data: {"choices":[{"index":0,"delta":{"content":"Hel"}}]}\n\n')
                    self.wfile.flush()
                    self.close_connection = True
                else:  # close: drop the connection without a response
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)

            def _stream(self, body: dict[str, Any], text: str) -> None:
                b = server.behaviour
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                # As hosted providers do: chunked, so a client (or a proxy) knows where the answer ends
                # while the connection stays open for the next request.
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                model = body.get("model", "fake-model")

                def send(obj: Any) -> None:
                    self._chunk(b"data: " + json.dumps(obj).encode() + b"\n\n")

                send({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                      "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
                time.sleep(b.ttft_s)
                tokens = _tokens(text)
                for i in range(0, len(tokens), b.tokens_per_chunk):
                    if i:
                        time.sleep(b.token_interval_s)
                    send({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                          "choices": [{"index": 0, "delta": {"content": "".join(tokens[i:i + b.tokens_per_chunk])}}]})
                send({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                      "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
                if (body.get("stream_options") or {}).get("include_usage"):
                    send({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model, "choices": [],
                          "usage": server.usage(body, text)})
                self._chunk(b"data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

            def _chunk(self, data: bytes) -> None:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 1024

        self.httpd = Server(("127.0.0.1", 0), Handler)
        # A short poll interval so stop() returns in ~50 ms rather than 500 (tests start many servers).
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _take_fault(self) -> Fault | None:
        faults = self.behaviour.faults
        if not faults:
            return None
        fault = faults[0]
        fault.times -= 1
        if fault.times <= 0:
            faults.pop(0)
        return fault

    @staticmethod
    def usage(body: dict[str, Any], text: str) -> dict[str, int]:
        prompt = sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        completion = len(_tokens(text)) if text else 0
        return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}

    def _cut(self, body: dict[str, Any], text: str) -> tuple[str, bool]:
        limit = body.get("max_tokens")
        tokens = _tokens(text)
        if self.behaviour.honour_max_tokens and isinstance(limit, int) and len(tokens) > limit:
            return "".join(tokens[:limit]), True
        return text, False

    def completion(self, body: dict[str, Any], text: str) -> dict[str, Any]:
        text, cut = self._cut(body, text)
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": body.get("model", "fake-model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": "length" if cut else "stop"}],
            "usage": self.usage(body, text),
        }

    def anthropic(self, body: dict[str, Any]) -> dict[str, Any]:
        """A Messages API answer: the same text as the chat route, the system prompt counted in the input."""
        text, cut = self._cut(body, self.behaviour.answer(body))
        system = body.get("system") or ""
        words = len(str(system).split()) + sum(len(str(m.get("content", "")).split()) for m in body.get("messages", []))
        return {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": body.get("model", "fake-model"),
            "content": [{"type": "text", "text": text}], "stop_reason": "max_tokens" if cut else "end_turn",
            "stop_sequence": None, "usage": {"input_tokens": words, "output_tokens": len(_tokens(text)) if text else 0},
        }

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOpenAI:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@contextmanager
def serve(behaviour: Behaviour | None = None) -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(behaviour).start()
    try:
        yield server
    finally:
        server.stop()


if __name__ == "__main__":  # a standalone server for benchmarks and manual runs
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--ttft", type=float, default=0.0)
    parser.add_argument("--token-interval", type=float, default=0.0)
    args = parser.parse_args()
    srv = FakeOpenAI(Behaviour(latency_s=args.latency, ttft_s=args.ttft, token_interval_s=args.token_interval)).start()
    print(srv.url, flush=True)
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()
