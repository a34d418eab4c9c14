"""The fault-injecting proxy: one loopback port per upstream, streaming chunk by chunk, recording every call.

It runs its own event loop in a thread of the gate. It forwards only to the origin it was configured with
(the request's path is kept, never its host), never follows a redirect, and records no header and no body:
an API key on its way to the provider passes through and is written nowhere.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from aiohttp import (
    ClientError,
    ClientSession,
    ClientTimeout,
    DummyCookieJar,
    TCPConnector,
    web,
)

from .faults import NO_FAULTS, Fault, How, Kind, Plan
from .tail import stream_ended, usage

MAX_BODY = 16 * 1024 * 1024
TAIL_BYTES = 8192
# What aiohttp would log of a request it cannot parse (with a traceback) goes nowhere: the service under test
# answers for its own requests in the check's results, not in the gate's log.
_LOG = logging.getLogger("prodgate.resilience.proxy")
_LOG.addHandler(logging.NullHandler())
_LOG.propagate = False
# Hop-by-hop headers (RFC 9110 7.6.1) and those the proxy sets itself.
_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
                  "transfer-encoding", "upgrade", "host", "content-length"})


@dataclass(frozen=True)
class Upstream:
    name: str
    origin: str  # scheme://host:port, nothing else
    base_path: str  # the path of the configured URL, e.g. /v1


def upstream_of(name: str, url: str) -> Upstream:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an http(s) URL: {url!r}")
    port = f":{parts.port}" if parts.port else ""
    return Upstream(name, f"{parts.scheme}://{parts.hostname}{port}", parts.path.rstrip("/"))


@dataclass(frozen=True)
class Call:
    """One request the service made to an upstream, as the proxy saw it."""

    t_s: float  # since the plan's start
    upstream: str
    model: str | None
    status: int | None  # None: no status reached the service (reset, hang, cut before headers)
    fault: str | None
    completed: bool  # the whole answer reached the service
    duration_s: float
    request_id: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None


@dataclass
class _Book:
    """A scenario's record: its plan, the calls that ended, and how many are still in flight."""

    plan: Plan
    calls: list[Call] = field(default_factory=list)
    open: int = 0
    # (request id, upstream, model) -> until when, and by which fault, a request told to wait (429) is refused
    waits: dict[tuple[str, str, str | None], tuple[float, Fault]] = field(default_factory=dict)

    def draw(self, upstream: str, model: str | None, rid: str | None, now: float) -> Fault | None:
        """The call's fault. A request that comes back to a rate-limited model before the Retry-After it was given
        is refused again, as a provider would: `share` draws which calls meet the limit, not how long it lasts."""
        held = self.waits.get((rid, upstream, model)) if rid else None
        if held is not None and now < held[0]:
            return held[1]
        fault = self.plan.draw(upstream, model, now)
        if rid and fault is not None and fault.kind is Kind.RATE_LIMIT:
            self.waits[(rid, upstream, model)] = (now + fault.retry_after_s, fault)
        return fault


@dataclass
class _State:
    status: int | None = None
    completed: bool = False
    tokens: tuple[int | None, int | None] = (None, None)


class Proxy:
    def __init__(self, upstreams: Sequence[Upstream], *, connect_timeout_s: float = 10.0,
                 read_timeout_s: float = 60.0, hang_s: float = 30.0, request_id_header: str = "x-request-id") -> None:
        self.upstreams = tuple(upstreams)
        self.connect_timeout_s, self.read_timeout_s, self.hang_s = connect_timeout_s, read_timeout_s, hang_s
        self.request_id_header = request_id_header
        self.ports: dict[str, int] = {}
        self._book = _Book(NO_FAULTS)
        self._lock = threading.Lock()
        self._ended = threading.Condition(self._lock)  # a call was recorded
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runners: list[web.AppRunner] = []
        self._session: ClientSession | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    # -- the gate's side ---------------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._serve, name="prodgate-proxy", daemon=True)
        self._thread.start()
        self._started.wait(30)
        if self._error is not None:
            raise self._error
        if not self._started.is_set():
            raise RuntimeError("the proxy did not start within 30 s")

    def url(self, name: str) -> str:
        """What the service is given in place of the upstream's URL."""
        up = next(u for u in self.upstreams if u.name == name)
        return f"http://127.0.0.1:{self.ports[name]}{up.base_path}"

    def begin(self, plan: Plan) -> None:
        """Start a scenario. A call still in flight from the last one (a hang outlives its scenario) is recorded
        in that scenario's list, never in this one's."""
        with self._lock:
            self._book = _Book(plan)

    def calls(self, settle_s: float = 0.0) -> list[Call]:
        """The scenario's calls, once those still in flight have ended (waiting at most `settle_s`). Once the service
        is stopped, every call it made ends at once: a held fault when its connection goes, a relay at its next
        chunk."""
        with self._ended:
            self._ended.wait_for(lambda: self._book.open == 0, timeout=settle_s)
            return list(self._book.calls)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        thread.join(10)

    def __enter__(self) -> Proxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the loop's side ---------------------------------------------------------------------------------
    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._open())
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it in the gate's thread
            self._error = exc
            self._started.set()
            loop.close()
            return
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def _open(self) -> None:
        # No redirect is ever followed, no cookie kept, no environment proxy used: the configured origin only.
        self._session = ClientSession(
            connector=TCPConnector(limit=0, force_close=False), auto_decompress=False, trust_env=False,
            cookie_jar=DummyCookieJar(), timeout=ClientTimeout(total=None, sock_connect=self.connect_timeout_s,
                                                           sock_read=self.read_timeout_s))
        for up in self.upstreams:
            app = web.Application(client_max_size=MAX_BODY)
            app.router.add_route("*", "/{tail:.*}", self._handler(up))
            # A hang in flight is not waited for at shutdown (aiohttp would wait up to a minute).
            runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0, logger=_LOG)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
            await site.start()
            self._runners.append(runner)
            self.ports[up.name] = int(runner.addresses[0][1])

    async def _shutdown(self) -> None:
        for runner in self._runners:
            await runner.cleanup()
        if self._session is not None:
            await self._session.close()
        assert self._loop is not None
        self._loop.stop()

    def _handler(self, up: Upstream) -> Any:
        async def handle(request: web.Request) -> web.StreamResponse:
            return await self._forward(up, request)

        return handle

    async def _forward(self, up: Upstream, request: web.Request) -> web.StreamResponse:
        t0 = time.monotonic()
        body = await request.read()
        model, stream = _asked(body)
        rid = request.headers.get(self.request_id_header)
        with self._lock:
            book = self._book
            fault = book.draw(up.name, model, rid, t0)
            book.open += 1  # from here on, record() ends the call whatever happens
        plan = book.plan
        state = _State()

        def record() -> None:
            call = Call(round(t0 - plan.t0, 4), up.name, model, state.status, fault.kind.value if fault else None,
                        state.completed, round(time.monotonic() - t0, 4), rid, *state.tokens)
            with self._ended:
                book.calls.append(call)
                book.open -= 1
                self._ended.notify_all()

        try:
            if fault is not None and fault.kind in (Kind.OUTAGE, Kind.FLAP, Kind.RATE_LIMIT, Kind.MALFORMED):
                return await self._injected(request, fault, state, stream)
            return await self._relay(up, request, body, fault, state)
        finally:
            record()

    async def _injected(self, request: web.Request, fault: Fault, state: _State,
                        stream: bool) -> web.StreamResponse:
        if fault.kind is Kind.RATE_LIMIT:
            state.status = 429
            return _error(429, "rate limit reached (injected by prodgate)", "rate_limit_exceeded",
                          {"Retry-After": f"{fault.retry_after_s:g}"})
        if fault.kind is Kind.MALFORMED:
            state.status, state.completed = 200, True
            if stream:
                return web.Response(status=200, body=b'data: {"id": "chatcmpl-x", "choices": [{"delta": \n\n',
                                    content_type="text/event-stream")
            return web.Response(status=200, body=b'{"id": "chatcmpl-x", "choices": [{"message": ',
                                content_type="application/json")
        if fault.how is How.HANG:
            await _hold(request, self.hang_s)
            _abort(request)
            return web.Response(status=504)
        if fault.how is How.REFUSE:
            _abort(request)
            return web.Response(status=502)
        state.status = fault.status
        return _error(fault.status, "the model is unavailable (injected by prodgate)", "service_unavailable")

    async def _relay(self, up: Upstream, request: web.Request, body: bytes, fault: Fault | None,
                     state: _State) -> web.StreamResponse:
        path = request.raw_path
        if not path.startswith("/") or path.startswith("//"):
            state.status = 400
            return _error(400, "the proxy forwards origin-form paths only", "invalid_request")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        assert self._session is not None
        try:
            async with self._session.request(request.method, up.origin + path, headers=headers, data=body,
                                             allow_redirects=False) as answer:
                if fault is not None and fault.kind is Kind.SLOW and fault.ttfb_s > 0:
                    if await _hold(request, fault.ttfb_s):
                        return web.Response(status=504)  # the service gave up before any status reached it
                out = web.StreamResponse(status=answer.status, reason=answer.reason)
                for k, v in answer.headers.items():
                    if k.lower() not in _HOP:
                        out.headers.add(k, v)
                if answer.content_length is not None and fault is None:
                    out.content_length = answer.content_length
                state.status = answer.status
                await out.prepare(request)
                tail = b""  # the end of what reached the service: a write that failed adds nothing
                sent = 0
                whole = False
                try:
                    async for chunk in answer.content.iter_any():
                        if fault is not None and fault.kind is Kind.TRUNCATE and sent + len(chunk) > fault.after_bytes:
                            keep = chunk[:max(0, fault.after_bytes - sent)]
                            if keep:
                                await _send(out, keep)
                                tail = (tail + keep)[-TAIL_BYTES:]
                            _abort(request)
                            return out
                        if fault is not None and fault.kind is Kind.SLOW and fault.per_chunk_s > 0:
                            await _hold(request, fault.per_chunk_s)
                        await _send(out, chunk)
                        tail = (tail + chunk)[-TAIL_BYTES:]
                        sent += len(chunk)
                    whole = True
                    await _send(out, None)
                except _HungUp:
                    pass  # the service closed its connection: what reached it before decides
                finally:
                    # One rule however the relay ended (the upstream's body over, the service hanging up, the
                    # upstream breaking off, a cut): the answer is complete once the whole upstream body, or the
                    # event that ends its stream, reached the service.
                    state.completed = whole or stream_ended(tail)
                    state.tokens = usage(tail)
                return out
        except (ClientError, asyncio.TimeoutError, OSError) as exc:
            if state.status is not None:  # headers went out: the stream is cut, as the upstream cut it
                _abort(request)
                return web.Response(status=502)
            state.status = 502
            return _error(502, f"the upstream could not be reached ({type(exc).__name__})", "upstream_unreachable")


def _error(status: int, message: str, code: str, headers: Mapping[str, str] | None = None) -> web.Response:
    body = json.dumps({"error": {"message": message, "type": code, "code": code}}).encode()
    return web.Response(status=status, body=body, content_type="application/json", headers=dict(headers or {}))


class _HungUp(Exception):
    """The service closed its connection while the proxy was writing its answer to it."""


async def _send(out: web.StreamResponse, chunk: bytes | None) -> None:
    """Write a chunk of the answer to the service (None: its end). A write the service's closed connection refused
    is _HungUp, whatever aiohttp calls it, and never mistaken for the upstream breaking off."""
    try:
        if chunk is None:
            await out.write_eof()
        else:
            await out.write(chunk)
    except ConnectionError as exc:  # a reset (ClientConnectionResetError), or a paused write woken by the loss
        raise _HungUp from exc


async def _hold(request: web.Request, seconds: float) -> bool:
    """Wait `seconds`, or until the service closes its connection (True): a call it gave up on ends there and
    then, and is recorded with its own scenario (aiohttp does not cancel a handler whose client left)."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        transport = request.transport
        if transport is None or transport.is_closing():
            return True
        await asyncio.sleep(min(0.05, left))
    return False


def _abort(request: web.Request) -> None:
    transport = request.transport
    if transport is not None:
        transport.abort()


def _asked(body: bytes) -> tuple[str | None, bool]:
    """(model, streamed) of a chat request, from its JSON (the body is capped at MAX_BODY): the `model` field,
    and whether `stream` is true. A body that is not a JSON object names no model and asks for no stream."""
    if not body or len(body) > MAX_BODY or not body.lstrip().startswith(b"{"):
        return None, False
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return None, False
    if not isinstance(data, dict):
        return None, False
    model = data.get("model")
    return (model if isinstance(model, str) else None), data.get("stream") is True
