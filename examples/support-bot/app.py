"""support-bot: the support service. It answers customers through its model provider, with fallbacks.

    OPENAI_BASE_URL=http://127.0.0.1:8001/v1 python app.py --port 8000
    python app.py --port 8000 --with-stub "--ttft-ms 120 --tpot-ms 8"   # starts model_stub.py behind it

POST /chat        {"messages": [...], "stream": true|false, "model"?: a name or id of models.yaml}; the answer
                  is an OpenAI chat completion (a stream of chunks with `stream`), `model` saying who answered
GET|POST /search  {"query": ..., "k": 5} -> {"results": [{"id": ..., "score": ...}]} (needs retriever.py; GET
                  takes them as URL parameters); --no-titles and --tokenizer build retriever.py's variants
GET /healthz

Search needs no model provider: `python app.py --port 8000` serves it as it is.

Every model call goes to OPENAI_BASE_URL (the key, if any, from OPENAI_API_KEY). A request starts with the
model it names (default: models.yaml's `default`) and walks its fallback chain from models.yaml: a failed
call (5xx, connection error, timeout, malformed answer) is retried once after a short backoff with jitter,
a rate-limited one moves on at once; a circuit breaker skips a model after 5 consecutive failures for 30 s.
An answer is malformed when it is not JSON, has no choices or no text; a stream, when its first event is not
a chat chunk (once a stream is relayed, a break is passed on as an error event: the customer has part of it).
Non-streamed answers are cached for a minute. `--no-fallback` switches the chain off (the primary only).
Standard library and PyYAML.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import random
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import yaml

HERE = Path(__file__).resolve().parent
MAX_BODY = 1 << 20
T = TypeVar("T")


class CallFailed(Exception):
    def __init__(self, message: str, *, rate_limited: bool = False, retry_after: float = 0.0) -> None:
        super().__init__(message)
        self.rate_limited, self.retry_after = rate_limited, retry_after


@dataclass
class Model:
    name: str
    model: str
    timeout: float
    params: dict[str, Any]
    fallback: list[str]


@dataclass
class Breaker:
    failures: int = 0
    open_until: float = 0.0


@dataclass
class Settings:
    base_url: str
    api_key: str | None
    models: dict[str, Model]
    default: str
    fallback: bool = True
    retries: int = 1
    backoff_s: float = 0.1
    timeout_s: float | None = None
    breaker_failures: int = 5
    breaker_reset_s: float = 30.0
    cache_ttl_s: float = 60.0
    breakers: dict[str, Breaker] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


def load_models(path: Path) -> tuple[dict[str, Model], str]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    models = {}
    for name, m in (data.get("models") or {}).items():
        fallback = m.get("fallback") or []
        models[name] = Model(name, m["model"], float(m.get("timeout", 30)), dict(m.get("params") or {}),
                             [fallback] if isinstance(fallback, str) else list(fallback))
    return models, str(data.get("default") or next(iter(models)))


def chain(settings: Settings, first: str) -> list[Model]:
    out: list[str] = []
    stack = [first]
    while stack:
        name = stack.pop()
        if name in out or name not in settings.models:
            continue
        out.append(name)
        if settings.fallback:
            stack.extend(reversed(settings.models[name].fallback))
    return [settings.models[n] for n in out]


class Cache:
    """Non-streamed answers by conversation, for a while; a small LRU."""

    def __init__(self, ttl_s: float, size: int = 512) -> None:
        self.ttl_s, self.size = ttl_s, size
        self.items: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: str) -> dict[str, Any] | None:
        with self.lock:
            hit = self.items.get(key)
            if hit is None or time.monotonic() - hit[0] > self.ttl_s:
                return None
            self.items.move_to_end(key)
            return hit[1]

    def put(self, key: str, value: dict[str, Any]) -> None:
        if self.ttl_s <= 0:
            return
        with self.lock:
            self.items[key] = (time.monotonic(), value)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


class Provider:
    """Calls to the provider's OpenAI-compatible API, one model at a time."""

    def __init__(self, settings: Settings) -> None:
        self.s = settings
        parts = urllib.parse.urlsplit(settings.base_url)
        self.https = parts.scheme == "https"
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or (443 if self.https else 80)
        self.path = parts.path.rstrip("/") + "/chat/completions"

    def open(self, model: Model, messages: list[Any], stream: bool, request_id: str | None) -> tuple[Any, Any]:
        """(connection, response) of a call whose status was 200; CallFailed otherwise."""
        timeout = self.s.timeout_s or model.timeout
        conn_type = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        conn = conn_type(self.host, self.port, timeout=timeout)
        body = {**model.params, "model": model.model, "messages": messages, "stream": stream}
        if stream:
            body["stream_options"] = {"include_usage": True}
        headers = {"Content-Type": "application/json"}
        if self.s.api_key:
            headers["Authorization"] = f"Bearer {self.s.api_key}"
        if request_id:
            headers["X-Request-Id"] = request_id
        try:
            conn.request("POST", self.path, json.dumps(body), headers)
            resp = conn.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            conn.close()
            raise CallFailed(f"{model.name}: {type(exc).__name__}") from None
        if resp.status != 200:
            retry_after = _seconds(resp.getheader("Retry-After"))
            resp.read()
            conn.close()
            raise CallFailed(f"{model.name}: HTTP {resp.status}", rate_limited=resp.status == 429,
                             retry_after=retry_after)
        return conn, resp

    def answer(self, model: Model, messages: list[Any], request_id: str | None) -> dict[str, Any]:
        """A whole chat completion with text in it; CallFailed otherwise, a malformed answer included."""
        conn, resp = self.open(model, messages, False, request_id)
        try:
            data: dict[str, Any] = json.loads(resp.read())
            content = data["choices"][0]["message"]["content"]
            if not isinstance(content, str) or not content:
                raise ValueError("no text")
        except (ValueError, KeyError, IndexError, TypeError, OSError, http.client.HTTPException):
            raise CallFailed(f"{model.name}: malformed answer") from None
        finally:
            conn.close()
        return data

    def stream(self, model: Model, messages: list[Any], request_id: str | None) -> tuple[Any, Any, bytes]:
        """(connection, response, first event) of a stream whose first event is a chat chunk; CallFailed
        otherwise. Nothing has reached the customer yet, so a malformed start can still go to the next model."""
        conn, resp = self.open(model, messages, True, request_id)
        try:
            while True:
                line = resp.readline()
                if not line:
                    raise ValueError("no event")
                if line.startswith(b"data:"):
                    break
            event = json.loads(line[5:].strip())
            if not isinstance(event, dict) or not isinstance(event.get("choices"), list):
                raise ValueError("not a chat chunk")
        except (ValueError, OSError, http.client.HTTPException):
            conn.close()
            raise CallFailed(f"{model.name}: malformed answer") from None
        return conn, resp, line


def _seconds(value: str | None) -> float:
    try:
        return max(0.0, float(value or 0))
    except ValueError:
        return 0.0


class Service:
    def __init__(self, settings: Settings) -> None:
        self.s = settings
        self.provider = Provider(settings)
        self.cache = Cache(settings.cache_ttl_s)

    def attempts(self, first: str) -> list[Model]:
        """The models to try, in order; those whose breaker is open are skipped (all open: the first anyway)."""
        return [m for m in chain(self.s, first) if self._closed(m)] or chain(self.s, first)[:1]

    def _closed(self, model: Model) -> bool:
        with self.s.lock:
            b = self.s.breakers.get(model.name)
            return b is None or b.open_until <= time.monotonic()

    def outcome(self, model: Model, ok: bool) -> None:
        with self.s.lock:
            b = self.s.breakers.setdefault(model.name, Breaker())
            if ok:
                b.failures = 0
                return
            b.failures += 1
            if b.failures >= self.s.breaker_failures:
                b.open_until = time.monotonic() + self.s.breaker_reset_s

    def call(self, first: str, ask: Callable[[Model], T]) -> tuple[Model, T]:
        """The first model whose call answers, and its answer. CallFailed when the chain is exhausted."""
        errors: list[str] = []
        models = self.attempts(first)
        for n, model in enumerate(models):
            for attempt in range(self.s.retries + 1):
                try:
                    answer = ask(model)
                except CallFailed as exc:
                    self.outcome(model, False)
                    errors.append(str(exc))
                    if attempt == self.s.retries or (exc.rate_limited and n < len(models) - 1):
                        break  # a rate-limited model's quota is spent: the next model has its own
                    time.sleep(min(exc.retry_after if exc.rate_limited else
                                   self.s.backoff_s * random.uniform(0.8, 1.2), 2.0))
                    continue
                return model, answer
        raise CallFailed("every model failed: " + "; ".join(errors[-4:]))


def handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            if url.path == "/healthz":
                self._json(200, {"status": "ok"})
            elif url.path == "/search":
                q = urllib.parse.parse_qs(url.query)
                self._search({"query": (q.get("query") or [""])[0], "k": (q.get("k") or ["5"])[0]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._json(413, {"error": {"message": "request too large"}})
                return
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                assert isinstance(body, dict)
            except (ValueError, AssertionError):
                self._json(400, {"error": {"message": "expected a JSON object"}})
                return
            path = urllib.parse.urlsplit(self.path).path.rstrip("/")
            if path == "/search":
                self._search(body)
            elif path == "/chat":
                self._chat(body)
            else:
                self._json(404, {"error": {"message": f"no route {path}"}})

        def _search(self, body: dict[str, Any]) -> None:
            try:
                from retriever import search  # the retrieval part of the service; optional in this example
            except ImportError:
                self._json(503, {"error": {"message": "search is unavailable: retriever.py is not installed "
                                                      "next to app.py"}})
                return
            try:
                k = int(body.get("k", 5))
                query = str(body["query"])
            except (KeyError, ValueError, TypeError):
                self._json(400, {"error": {"message": "expected {\"query\": text, \"k\": number}"}})
                return
            results = search(query, k)
            self._json(200, {"results": [{"id": doc, "score": score} for doc, score in results]})

        def _chat(self, body: dict[str, Any]) -> None:
            messages = body.get("messages")
            if not isinstance(messages, list) or not messages:
                self._json(400, {"error": {"message": "expected a non-empty `messages` list"}})
                return
            first = _model_name(service.s, body.get("model"))
            rid = self.headers.get("X-Request-Id")
            stream = bool(body.get("stream"))
            key = json.dumps([first, messages], sort_keys=True)
            if not stream:
                cached = service.cache.get(key)
                if cached is not None:
                    self._json(200, cached)
                    return
            try:
                if not stream:
                    model, data = service.call(first, lambda m: service.provider.answer(m, messages, rid))
                    service.outcome(model, True)
                    data["model"] = model.name
                    service.cache.put(key, data)
                    self._json(200, data)
                    return
                model, (conn, resp, head) = service.call(first, lambda m: service.provider.stream(m, messages, rid))
            except CallFailed as exc:
                self._json(503, {"error": {"message": f"no model could answer: {exc}", "type": "unavailable"}})
                return
            try:
                self._relay(service, model, resp, head)
            finally:
                conn.close()

        def _relay(self, service: Service, model: Model, resp: Any, head: bytes) -> None:
            """Relay the provider's stream chunk by chunk; a stream that breaks off ends with an error event."""
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            done = False
            try:
                for line in itertools.chain([head], iter(resp.readline, b"")):
                    if not line.startswith(b"data:"):
                        continue
                    data = line[5:].strip()
                    if data == b"[DONE]":
                        done = True
                        self._chunk(b"[DONE]")
                        break
                    event = json.loads(data)
                    event["model"] = model.name
                    self._chunk(json.dumps(event).encode())
            except (ValueError, OSError, http.client.HTTPException):
                pass
            service.outcome(model, done)
            if not done:
                self._chunk(json.dumps({"error": {"message": f"{model.name}: the answer broke off"}}).encode())
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            payload = b"data: " + data + b"\n\n"
            self.wfile.write(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            self.wfile.flush()

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def _model_name(settings: Settings, asked: Any) -> str:
    for name, m in settings.models.items():
        if asked in (name, m.model):
            return name
    return settings.default


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def start_stub(args: str) -> tuple[subprocess.Popen[bytes], str]:
    """model_stub.py on a free port: the provider, offline. Stopped with this process (and its process group)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, str(HERE / "model_stub.py"), "--port", str(port), *shlex.split(args)],
                            stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("model_stub.py did not start")


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--models", default=str(HERE / "models.yaml"))
    parser.add_argument("--no-fallback", action="store_true", help="call the first model of a chain only")
    parser.add_argument("--retries", type=int, default=1, help="retries of a failed call, per model")
    parser.add_argument("--backoff-ms", type=float, default=100.0)
    parser.add_argument("--timeout", type=float, default=None, help="seconds per model call (default: models.yaml)")
    parser.add_argument("--cache-ttl", type=float, default=60.0, help="seconds a non-streamed answer is reused")
    parser.add_argument("--with-stub", metavar="ARGS", default=None,
                        help="start model_stub.py with these arguments and use it as the provider")
    parser.add_argument("--no-titles", action="store_true", help="search: index the articles' bodies only")
    parser.add_argument("--tokenizer", default=None, help="search: the FTS5 tokenizer (default: retriever.py's)")
    args = parser.parse_args(argv)
    if args.no_titles or args.tokenizer:
        import retriever

        retriever.configure(titles=retriever.INDEX_TITLES and not args.no_titles,
                            tokenizer=args.tokenizer or retriever.TOKENIZER)
    signal.signal(signal.SIGTERM, _interrupt)  # stop the stub too when stopped
    stub = None
    base_url = os.environ.get("OPENAI_BASE_URL", "https://api.openai.com/v1")
    if args.with_stub is not None:
        stub, base_url = start_stub(args.with_stub)
    models, default = load_models(Path(args.models))
    settings = Settings(base_url, os.environ.get("OPENAI_API_KEY") or None, models, default,
                        fallback=not args.no_fallback, retries=args.retries, backoff_s=args.backoff_ms / 1000,
                        timeout_s=args.timeout, cache_ttl_s=args.cache_ttl)
    server = Server((args.host, args.port), handler_for(Service(settings)))
    print(f"support-bot on http://{args.host}:{server.server_address[1]} (models: {', '.join(models)}; "
          f"fallback {'on' if settings.fallback else 'off'})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if stub is not None:
            stub.terminate()
            stub.wait(5)


if __name__ == "__main__":
    main()
