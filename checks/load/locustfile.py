"""prodgate's locustfile: the built-in scenarios and a recorder of raw samples; run by locust, never imported by the gate.

The gate runs a copy of this file with `locust -f`. It must stay self-contained (a worker started with
`locust -f - --worker` receives only this file's text from the master). Every request becomes one raw
sample with exact times; workers send theirs to the master as locust messages, and the master (or a
single local process) writes them as JSON lines to `--prodgate-out`. With BUILTIN_USERS = False it
only records, next to a team's own locustfile.
"""

from __future__ import annotations

import json
import os
import random
import re
import socket
import time
from collections.abc import Callable
from typing import Any, TypeVar

import gevent
from locust import FastHttpUser, events, task
from locust.env import Environment
from locust.exception import CatchResponseError, StopUser
from locust.runners import MasterRunner, WorkerRunner

BUILTIN_USERS = True

SAMPLES_MESSAGE = "prodgate_samples"
STARTED_MESSAGE = "prodgate_started"
FLUSH_INTERVAL_S = 0.5
WORKER_EXIT_DELAY_S = 0.5
MAX_ERROR_TEXT = 200
REDACTED = "[redacted]"
# About 400 bytes a request until flushed: ~80 MB at most.
MAX_BUFFER = 200_000


class _State:
    """What one locust process knows: the spec, its clock, and the samples not yet written or sent."""

    def __init__(self) -> None:
        self.spec: dict[str, Any] = {}
        self.environment: Environment | None = None
        self.t0_wall = 0.0
        self.t0_perf = 0.0
        self.cpu0 = 0.0
        self.index = 0
        self.buffer: list[Any] = []  # records, or tuples of successful requests not yet made records
        self.out: Any = None
        self.flusher: Any = None
        self.stopper: Any = None
        self.reported = 0
        self.slot = 0
        self.pacer_t0: float | None = None
        self.redaction: tuple[re.Pattern[str] | None, list[str]] | None = None


STATE = _State()
F = TypeVar("F", bound=Callable[..., Any])


def listener(hook: Any) -> Callable[[F], F]:
    """`@events.x.add_listener`, typed (locust's decorator is not)."""

    def register(fn: F) -> F:
        hook.add_listener(fn)
        return fn

    return register


@listener(events.init_command_line_parser)
def _arguments(parser: Any) -> None:
    parser.add_argument("--prodgate-spec-file", default="", help="prodgate: the scenario spec (master only)")
    parser.add_argument("--prodgate-spec", default="", help="prodgate: the spec itself (forwarded to workers)")
    parser.add_argument("--prodgate-out", default="", help="prodgate: folder for raw samples (master only)")


@listener(events.init)
def _init(environment: Environment, **_: Any) -> None:
    STATE.environment = environment
    options = environment.parsed_options
    runner = environment.runner
    spec_file = vars(options).get("prodgate_spec_file") if options is not None else None
    if options is not None and spec_file:
        with open(spec_file, encoding="utf-8") as f:
            # Custom options are forwarded to workers with each spawn message, so they get it too.
            options.prodgate_spec = f.read()
    if isinstance(runner, WorkerRunner):
        return
    out = vars(options).get("prodgate_out") if options is not None else None
    if out:
        STATE.out = open(os.path.join(out, "samples.jsonl"), "w", encoding="utf-8")  # noqa: SIM115 - closed at quit
    if isinstance(runner, MasterRunner):
        runner.register_message(SAMPLES_MESSAGE, _on_samples_message)
        runner.register_message(STARTED_MESSAGE, lambda environment, msg, **_: _arm_stop(environment))


def _spec() -> dict[str, Any]:
    if not STATE.spec and STATE.environment is not None and STATE.environment.parsed_options is not None:
        text = vars(STATE.environment.parsed_options).get("prodgate_spec")
        STATE.spec = json.loads(text) if text else {}
    return STATE.spec


@listener(events.test_start)
def _test_start(environment: Environment, **_: Any) -> None:
    spec = _spec()
    STATE.t0_wall, STATE.t0_perf, STATE.cpu0 = time.time(), time.perf_counter(), time.process_time()
    STATE.slot, STATE.pacer_t0 = 0, None
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        STATE.index = max(runner.worker_index, 0)
        STATE.flusher = gevent.spawn(_flush_forever)
        runner.send_message(STARTED_MESSAGE)
    if BUILTIN_USERS:
        timeout = float(spec.get("timeout_s", 60))
        for cls in (OpenAIChatUser, HttpScenarioUser):
            cls.network_timeout = cls.connection_timeout = timeout
    if not isinstance(runner, WorkerRunner):
        _arm_stop(environment)


def _arm_stop(environment: Environment) -> None:
    """The gate ends the run itself rather than with --run-time: locust's quit gives workers 0.5 s, too little
    for their last samples to arrive; stop() waits until every worker has reported. Each worker measures its
    window on its own clock from its own start, which on a busy machine comes a second after the master's:
    the timer restarts as each worker says it started, so the last one's window is not cut short."""
    run_s = _spec().get("run_s")
    if not run_s:
        return
    if STATE.stopper is not None:
        STATE.stopper.kill(block=False)
    STATE.stopper = gevent.spawn_later(float(run_s), _finish, environment)


def _finish(environment: Environment) -> None:
    runner = environment.runner
    if runner is None:
        return
    runner.stop()
    runner.quit()


@listener(events.test_stop)
def _test_stop(environment: Environment, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        return
    STATE.buffer.append({
        "kind": "process", "proc": STATE.index, "role": "worker" if isinstance(runner, WorkerRunner) else "local",
        "host": socket.gethostname(), "pid": os.getpid(), "cpu_s": round(time.process_time() - STATE.cpu0, 4),
        "wall_s": round(time.perf_counter() - STATE.t0_perf, 4),
        "slots": STATE.slot,  # open loop: the slots of the shared schedule this process took
    })
    if STATE.flusher is not None:
        STATE.flusher.kill(block=False)
        STATE.flusher = None
    _flush()
    if isinstance(runner, WorkerRunner):
        # A worker serves one gate run. After a stop it would wait out --stop-timeout (not reading the
        # master's quit) and then offer itself for a next run: end it once "stopped" has been sent.
        gevent.spawn_later(WORKER_EXIT_DELAY_S, runner.quit)


@listener(events.quitting)
def _quitting(environment: Environment, **_: Any) -> None:
    _flush()
    if STATE.out is not None:
        STATE.out.write(json.dumps({"kind": "end", "processes": STATE.reported}) + "\n")
        STATE.out.close()
        STATE.out = None


def _on_samples_message(environment: Environment, msg: Any, **_: Any) -> None:
    _write(msg.data.get("samples") or [])


def _write(samples: list[dict[str, Any]]) -> None:
    if STATE.out is None:
        return
    for sample in samples:
        if sample.get("kind") == "process":
            STATE.reported += 1
        STATE.out.write(json.dumps(sample, separators=(",", ":")) + "\n")
    STATE.out.flush()


def _flush() -> None:
    pending, STATE.buffer = STATE.buffer, []
    if not pending:
        return
    batch = [_record(*item) if isinstance(item, tuple) else item for item in pending]
    runner = STATE.environment.runner if STATE.environment is not None else None
    if isinstance(runner, WorkerRunner):
        runner.send_message(SAMPLES_MESSAGE, {"samples": batch})
    else:
        _write(batch)


def _flush_forever() -> None:
    while True:
        gevent.sleep(FLUSH_INTERVAL_S)
        _flush()


# ---- the failure taxonomy shared with the regression check -------------------------------------

def category_of_status(status: int) -> str | None:
    if 300 <= status < 400:  # a redirect is never followed (see the users): the request got no answer
        return "transport.client_error"
    if status == 429:
        return "transport.rate_limited"
    if status in (408, 504):
        return "transport.timeout"
    if status >= 500:
        return "transport.server_error"
    if status >= 400:
        return "transport.client_error"
    if status == 0:
        return "transport.connection"
    return None


def category_of_exception(exc: BaseException) -> str:
    name = type(exc).__name__.lower()
    if isinstance(exc, (TimeoutError, socket.timeout)) or "timeout" in name:
        return "transport.timeout"
    if isinstance(exc, CatchResponseError):
        return "quality.assertion"
    return "transport.connection"


# ---- the recorder: every request event becomes a raw sample ------------------------------------

@listener(events.request)
def _on_request(request_type: str, name: str, response_time: float, response_length: int, response: Any = None,
                context: dict[str, Any] | None = None, exception: BaseException | None = None,
                start_time: float | None = None, **_: Any) -> None:
    # The hot path of the generator: keep a tuple now, build the record when flushing.
    status = getattr(response, "status_code", 0) or 0
    if exception is None and not 300 <= status < 400:
        STATE.buffer.append((start_time or time.time(), response_time, status, name, context))
    else:  # not kept as is: an exception holds its traceback, and with it the whole request
        STATE.buffer.append(_failure(start_time or time.time(), response_time, status, name, context or {}, exception))
    if len(STATE.buffer) >= MAX_BUFFER:  # bounds memory in a long single-process run (workers flush anyway)
        _flush()


def _record(t: float, ms: float, status: int, name: str, ctx: dict[str, Any] | None) -> dict[str, Any]:
    sample: dict[str, Any] = {"kind": "sample", "proc": STATE.index, "t": round(t - STATE.t0_wall, 6),
                              "ms": round(float(ms), 3), "ok": True, "status": int(status), "name": name}
    if ctx:
        for key in ("ttft_ms", "output_tokens", "tokens_from", "lag_ms"):
            if ctx.get(key) is not None:
                sample[key] = ctx[key]
        if "output_tokens" in sample:
            sample.setdefault("tokens_from", "context")  # a team's locustfile reported it itself
    return sample


def _failure(t: float, ms: float, status: int, name: str, ctx: dict[str, Any],
             exc: BaseException | None) -> dict[str, Any]:
    sample = _record(t, ms, status, name, ctx)
    sample["ok"] = False
    sample["cat"] = ctx.get("category") or (category_of_status(status) if status >= 300 or exc is None
                                            else category_of_exception(exc))
    error = ctx.get("error") or (
        str(exc) if isinstance(exc, CatchResponseError)
        else _status_text(status) if status >= 300 or exc is None else f"{type(exc).__name__}: {exc}")
    # Redacted before it is capped: a key cut in half matches neither its shape nor its value afterwards.
    sample["err"] = _redacted(str(error))[:MAX_ERROR_TEXT]
    return sample


def _status_text(status: int) -> str:
    return f"HTTP {status}: redirects are not followed" if 300 <= status < 400 else f"HTTP {status}"


def _redacted(text: str) -> str:
    """text without the values of the secret variables the gate named, nor credential shapes (its pattern)."""
    if STATE.redaction is None:
        rules = _spec().get("redact") or {}
        names = [n for n in rules.get("names") or () if len(os.environ.get(n, "")) >= 8]
        values = sorted({os.environ[n] for n in names}, key=len, reverse=True)
        STATE.redaction = (re.compile(rules["pattern"]) if rules.get("pattern") else None, values)
    pattern, values = STATE.redaction
    for value in values:
        text = text.replace(value, REDACTED)
    return pattern.sub(REDACTED, text) if pattern is not None else text


# ---- the built-in users ------------------------------------------------------------------------

def _pace() -> float | None:
    """Open loop: wait for this request's slot on the shared clock; return how late it went out (ms)."""
    spec = _spec()
    rate = spec.get("arrival_rate")
    if not rate:
        return None
    processes = max(int(spec.get("processes", 1)), 1)
    now = time.perf_counter()
    if STATE.pacer_t0 is None:
        STATE.pacer_t0 = now
    # Process k of n takes slots k, k+n, k+2n… of the one schedule, so together they send `rate`.
    slot = STATE.pacer_t0 + (STATE.slot * processes + STATE.index % processes) / float(rate)
    STATE.slot += 1
    if slot > STATE.t0_perf + float(spec.get("run_s", 1e9)):
        raise StopUser()
    if slot > now:
        gevent.sleep(slot - now)
    return round((time.perf_counter() - slot) * 1000, 3)


def _headers() -> dict[str, str]:
    spec = _spec()
    headers = dict(spec.get("headers") or {})
    for header, env in (spec.get("headers_env") or {}).items():
        if os.environ.get(env):
            headers[header] = os.environ[env]
    if spec.get("api_key_env") and os.environ.get(spec["api_key_env"]):
        headers["Authorization"] = "Bearer " + os.environ[spec["api_key_env"]]
    return headers


def _finish_stream(raw: Any, headers: Any) -> None:
    """Leave the connection reusable: drain a framed body's end, drop a connection whose body runs to EOF."""
    if raw is None or raw.message_complete:
        return
    headers = headers or {}
    framed = headers.get("content-length") is not None or "chunked" in str(headers.get("transfer-encoding", ""))
    if framed:
        while not raw.message_complete and raw.read(65536):
            pass
    else:
        raw.release()


def _read_stream(raw: Any, start: float, ctx: dict[str, Any]) -> tuple[str | None, str]:
    """Read an SSE answer line by line as it arrives; fill ctx; return (failure category, message)."""
    chunks = 0
    done = finished = False
    while True:
        # The separator must be given: the default is \r\n, and SSE lines end in \n.
        line = raw.readline(b"\n")
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            done = True
            break
        try:
            event = json.loads(data)
        except ValueError:
            return "output.invalid_json", "a stream event is not JSON"
        try:
            choices = _choices(event)
            tokens = _completion_tokens(event.get("usage"))
        except ValueError as exc:  # a message of a few fixed forms: failures are grouped by it
            return "output.invalid_json", f"a stream event is not a chat completion chunk: {exc}"
        for choice in choices:
            delta = choice.get("delta")
            content = delta.get("content") if isinstance(delta, dict) else None
            if content:
                if "ttft_ms" not in ctx:
                    ctx["ttft_ms"] = round((time.perf_counter() - start) * 1000, 3)
                chunks += 1
            finished = finished or bool(choice.get("finish_reason"))
        if tokens is not None:
            ctx["output_tokens"], ctx["tokens_from"] = tokens, "usage"
    if "output_tokens" not in ctx and chunks:
        ctx["output_tokens"], ctx["tokens_from"] = chunks, "chunks"
    if not (done or finished):
        return "output.truncated", "the stream ended before [DONE] or a finish_reason"
    if chunks == 0:
        return "output.empty", "the answer has no content"
    return None, ""


def _choices(event: Any) -> list[dict[str, Any]]:
    """An answer's (or a stream event's) choices; ValueError when its shape is not a chat completion's."""
    if not isinstance(event, dict):
        raise ValueError(f"a JSON {type(event).__name__}, not an object")
    choices = event.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, dict) for c in choices):
        raise ValueError("`choices` is not a list of objects")
    return choices


def _completion_tokens(usage: Any) -> int | None:
    """`usage.completion_tokens` (None without it); ValueError when it is not a count."""
    if usage is None:
        return None
    n = usage.get("completion_tokens") if isinstance(usage, dict) else usage
    if n is None:
        return None
    if isinstance(n, bool) or not isinstance(n, (int, float)) or n < 0 or n != int(n):
        raise ValueError("`usage.completion_tokens` is not a count")
    return int(n)


def _read_completion(body: bytes, ctx: dict[str, Any]) -> tuple[str | None, str]:
    try:
        answer = json.loads(body)
    except ValueError:
        return "output.invalid_json", "the answer is not a chat completion: not JSON"
    try:
        choices = _choices(answer)
        message = choices[0].get("message") if choices else None
        if not isinstance(message, dict):
            raise ValueError("no `choices[0].message` object")
        tokens = _completion_tokens(answer.get("usage"))
    except ValueError as exc:
        return "output.invalid_json", f"the answer is not a chat completion: {exc}"
    if tokens is not None:
        ctx["output_tokens"], ctx["tokens_from"] = tokens, "usage"
    return (None, "") if message.get("content") else ("output.empty", "the answer has no content")


def _chat_once(user: FastHttpUser, headers: dict[str, str], lag: float | None) -> None:
    spec = _spec()
    entry = random.choice(spec["requests"])
    body: dict[str, Any] = {"model": entry.get("model") or "default", "messages": entry["messages"]}
    if spec.get("stream", True):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    if entry.get("max_tokens"):
        body["max_tokens"] = entry["max_tokens"]
    ctx: dict[str, Any] = {"lag_ms": lag}
    start = time.perf_counter()
    with user.client.request("POST", spec.get("path", "/v1/chat/completions"), json=body, headers=headers,
                             stream=True, catch_response=True, name="chat") as resp:
        category, message = None, ""
        status = resp.status_code
        raw = getattr(resp, "_response", None)
        try:
            if resp.request_meta.get("exception") is not None or status == 0 or status >= 300:
                category = category_of_status(status) or "transport.connection"
                exc = resp.request_meta.get("exception")
                message = _status_text(status) if status else f"{type(exc).__name__}: {exc}"
            elif "event-stream" in str(resp.headers.get("content-type", "")):
                category, message = _read_stream(raw, start, ctx)
            else:
                # A whole answer at once has no first token to time: no TTFT (its latency is the latency's).
                category, message = _read_completion(raw.read() if raw is not None else b"", ctx)
            _finish_stream(raw, resp.headers)
        except Exception as exc:  # noqa: BLE001 - a broken stream is a failed sample, not a crashed user
            category = category_of_exception(exc)
            message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if raw is not None:
                raw.release()
        # locust timed only the headers of a streamed response: report the whole answer.
        resp.request_meta["response_time"] = (time.perf_counter() - start) * 1000
        ctx["category"], ctx["error"] = category, message
        resp.request_meta["context"] = {**resp.request_meta.get("context", {}), **ctx}
        if category is None:
            resp.success()
        else:
            resp.failure(message)


def _http_once(user: FastHttpUser, headers: dict[str, str], lag: float | None) -> None:
    spec = _spec()
    request = random.choice(spec["requests"])
    # No catch_response: locust reports the request itself (exact time, status as failure), and the
    # recorder derives the category from it; the lean path keeps the generator's capacity.
    user.client.request(spec.get("method", "POST"), request["path"], headers=headers, json=request.get("body"),
                        name=spec.get("name", "http"), context={"lag_ms": lag})


if BUILTIN_USERS:

    # No redirect is followed: locust would send the headers (headers_env secrets among them) to whatever
    # host a Location names. A 3xx counts as a client error.

    class OpenAIChatUser(FastHttpUser):
        """POST /v1/chat/completions with messages sampled from the gate's suites, streamed."""

        max_redirects = 0

        def on_start(self) -> None:
            self.prodgate_headers = _headers()

        @task
        def chat(self) -> None:
            _chat_once(self, self.prodgate_headers, _pace())

    class HttpScenarioUser(FastHttpUser):
        """One request shape filled from a dataset row."""

        max_redirects = 0

        def on_start(self) -> None:
            self.prodgate_headers = _headers()

        @task
        def call(self) -> None:
            _http_once(self, self.prodgate_headers, _pace())
