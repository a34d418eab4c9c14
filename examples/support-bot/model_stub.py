"""model_stub: the support bot's model provider, offline: an OpenAI-compatible server answering from recorded data.

    python model_stub.py --port 8001 --ttft-ms 150 --tpot-ms 15

The service (app.py) reaches it through OPENAI_BASE_URL=http://127.0.0.1:8001/v1, as it would reach a
hosted provider.

POST /v1/chat/completions (streamed with `stream: true`, usage with `stream_options.include_usage`),
GET /v1/models and GET /healthz. Answers come from the first source that knows the conversation:
the recorded cassettes (cassettes/*.jsonl), then the prompts' testData (prompts/*.prompt.yml, whose
`expected` values the answers are built from), then a polite fallback. The first token comes after
--ttft-ms, then tokens at --tpot-ms each, with optional --jitter, like a hosted model. Standard
library only (PyYAML is used for the prompts when installed).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
from collections.abc import Iterable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

HERE = Path(__file__).resolve().parent
FALLBACK = "I don't know the answer to that from the help centre. Shall I open a ticket for you?"
Messages = Sequence[dict[str, Any]]


class AnswerSource(Protocol):
    """Where answers come from; sources are tried in order, the first that knows the conversation wins."""

    name: str

    def answer(self, messages: Messages) -> str | None: ...

    def __len__(self) -> int: ...


def _last_user(messages: Messages) -> str:
    users = [str(m.get("content") or "") for m in messages if m.get("role") == "user"]
    return users[-1] if users else ""


def _key(messages: Messages) -> str:
    return json.dumps([[m.get("role"), m.get("content")] for m in messages], ensure_ascii=False)


class CassetteSource:
    """Recorded answers: JSONL with {"request": {"messages": [...]}, "response": {"content": ...}} per line."""

    name = "cassette"

    def __init__(self, files: Iterable[Path]) -> None:
        self.exact: dict[str, str] = {}
        self.by_question: dict[str, str] = {}
        for path in files:
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    messages = entry["request"]["messages"]
                    content = entry["response"]["content"]
                except (ValueError, KeyError, TypeError):
                    continue  # a line this service cannot use: other keys are ignored, as the format asks
                if isinstance(content, str) and isinstance(messages, list):
                    self.exact.setdefault(_key(messages), content)
                    self.by_question.setdefault(_last_user(messages).strip(), content)

    def __len__(self) -> int:
        return len(self.exact)

    def answer(self, messages: Messages) -> str | None:
        return self.exact.get(_key(messages)) or self.by_question.get(_last_user(messages).strip())


class TestDataSource:
    """Answers built from the prompts' testData: the row whose inputs all appear in the question."""

    name = "testData"

    def __init__(self, files: Iterable[Path]) -> None:
        self.rows: list[tuple[list[str], str]] = []
        try:
            import yaml
        except ImportError:
            return
        for path in files:
            prompt = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for row in prompt.get("testData") or []:
                if isinstance(row, dict) and "expected" in row:
                    inputs = [str(v) for k, v in row.items() if k != "expected"]
                    self.rows.append((inputs, _render(prompt, str(row["expected"]))))

    def __len__(self) -> int:
        return len(self.rows)

    def answer(self, messages: Messages) -> str | None:
        text = " ".join(str(m.get("content") or "") for m in messages)
        for inputs, answer in self.rows:
            if inputs and all(value in text for value in inputs):
                return answer
        return None


def _render(prompt: dict[str, Any], expected: str) -> str:
    """A JSON answer for a prompt with a JSON schema (the expected value in the enum it belongs to), else prose."""
    try:
        schema = json.loads(prompt.get("jsonSchema") or "")["schema"]
    except (ValueError, KeyError, TypeError):
        return f"According to the help centre: {expected}. Is there anything else I can help with?"
    answer: dict[str, Any] = {}
    defaults = {"boolean": False, "number": 0, "integer": 0, "string": ""}
    for name, prop in (schema.get("properties") or {}).items():
        answer[name] = expected if expected in (prop.get("enum") or []) else defaults.get(prop.get("type"), None)
    return json.dumps(answer)


def tokens(text: str) -> list[str]:
    """Words with their leading space: what the stream sends one at a time."""
    words = text.split(" ")
    return [w if i == 0 else " " + w for i, w in enumerate(words)]


class Service:
    def __init__(self, sources: Sequence[AnswerSource], ttft_s: float, tpot_s: float, jitter: float,
                 seed: int = 0) -> None:
        self.sources = sources
        self.ttft_s, self.tpot_s, self.jitter = ttft_s, tpot_s, jitter
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.served = 0

    def reply(self, messages: Messages) -> str:
        for source in self.sources:
            found = source.answer(messages)
            if found:
                return found
        return FALLBACK

    def delay(self, seconds: float) -> float:
        if not self.jitter:
            return seconds
        with self.lock:
            return max(0.0, seconds * (1 + self.random.uniform(-self.jitter, self.jitter)))


def handler_for(service: Service) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # else keep-alive answers stall on delayed ACKs

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            if self.path == "/healthz":
                self._json(200, {"status": "ok", "sources": {s.name: len(s) for s in service.sources}})
            elif self.path == "/v1/models":
                self._json(200, {"object": "list", "data": [{"id": "support-bot", "object": "model"}]})
            else:
                self._json(404, {"error": {"message": "not found"}})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
                messages = body["messages"]
                assert isinstance(messages, list) and messages
            except (ValueError, KeyError, TypeError, AssertionError):
                self._json(400, {"error": {"message": "expected a JSON body with a non-empty `messages` list"}})
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._json(404, {"error": {"message": f"no route {self.path}"}})
                return
            text = service.reply(messages)
            with service.lock:
                service.served += 1
            usage = {"prompt_tokens": sum(len(str(m.get("content") or "").split()) for m in messages),
                     "completion_tokens": len(tokens(text))}
            usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
            if body.get("stream"):
                self._stream(body, text, usage)
                return
            time.sleep(service.delay(service.ttft_s) + service.delay(service.tpot_s) * (len(tokens(text)) - 1))
            self._json(200, {"id": "chatcmpl-support-bot", "object": "chat.completion", "created": int(time.time()),
                             "model": body.get("model", "support-bot"), "usage": usage,
                             "choices": [{"index": 0, "finish_reason": "stop",
                                          "message": {"role": "assistant", "content": text}}]})

        def _json(self, status: int, payload: Any) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _chunk(self, event: Any) -> None:
            data = b"data: " + (event if isinstance(event, bytes) else json.dumps(event).encode()) + b"\n\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

        def _stream(self, body: dict[str, Any], text: str, usage: dict[str, int]) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            base = {"id": "chatcmpl-support-bot", "object": "chat.completion.chunk", "created": int(time.time()),
                    "model": body.get("model", "support-bot")}
            self._chunk({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]})
            time.sleep(service.delay(service.ttft_s))
            for i, token in enumerate(tokens(text)):
                if i:
                    time.sleep(service.delay(service.tpot_s))
                self._chunk({**base, "choices": [{"index": 0, "delta": {"content": token}}]})
            self._chunk({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
            if (body.get("stream_options") or {}).get("include_usage"):
                self._chunk({**base, "choices": [], "usage": usage})
            self._chunk(b"[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

    return Handler


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024  # a burst of load-test users must not overflow the listen backlog

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return  # a client that stopped reading (a load test ending mid-stream) is not an error
        super().handle_error(request, client_address)


def build_service(args: argparse.Namespace) -> Service:
    cassettes = sorted(Path(args.cassettes).glob("*.jsonl")) if Path(args.cassettes).is_dir() else []
    prompts = sorted(Path(args.prompts).glob("*.prompt.y*ml")) if Path(args.prompts).is_dir() else []
    sources: list[AnswerSource] = [CassetteSource(cassettes), TestDataSource(prompts)]
    return Service(sources, args.ttft_ms / 1000, args.tpot_ms / 1000, args.jitter, args.seed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--ttft-ms", type=float, default=150.0, help="time to the first token")
    parser.add_argument("--tpot-ms", type=float, default=15.0, help="time per further token")
    parser.add_argument("--jitter", type=float, default=0.0, help="random spread of every delay, e.g. 0.2 = ±20%%")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cassettes", default=str(HERE / "cassettes"), help="folder of recorded *.jsonl answers")
    parser.add_argument("--prompts", default=str(HERE / "prompts"), help="folder of *.prompt.yml files")
    args = parser.parse_args(argv)
    service = build_service(args)
    server = Server((args.host, args.port), handler_for(service))
    counts = ", ".join(f"{s.name}: {len(s)}" for s in service.sources)
    print(f"model-stub on http://{args.host}:{server.server_address[1]} ({counts})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
