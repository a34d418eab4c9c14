"""A scenario's traffic: a fixed number of chat requests to the service at a concurrency, each timed and judged."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import ClientConnectionError, ClientError, ClientResponse, ClientSession, ClientTimeout, TCPConnector

from gate.taxonomy import Category

MAX_ERROR_TEXT = 160
UNANSWERED = "not answered within the scenario's budget"
MAX_BODY_READ = 4096  # of an answer that is not a chat completion, for the error it may hold


@dataclass(frozen=True)
class Answer:
    """One request to the service, as its client saw it."""

    index: int
    request_id: str
    ok: bool
    status: int | None
    latency_ms: float
    ttft_ms: float | None = None
    category: str | None = None
    message: str | None = None  # the service's own words, untrusted


@dataclass(frozen=True)
class Traffic:
    url: str
    path: str
    bodies: Sequence[Mapping[str, Any]]
    stream: bool
    timeout_s: float
    request_id_header: str
    headers: Mapping[str, str]


def run(traffic: Traffic, scenario: str, requests: int, concurrency: int, budget_s: float) -> list[Answer]:
    return asyncio.run(_run(traffic, scenario, requests, concurrency, budget_s))


async def _run(traffic: Traffic, scenario: str, requests: int, concurrency: int, budget_s: float) -> list[Answer]:
    answers: dict[int, Answer] = {}
    queue = list(range(requests))
    t0 = time.monotonic()
    async with ClientSession(connector=TCPConnector(limit=0), trust_env=False,
                             timeout=ClientTimeout(total=traffic.timeout_s)) as session:

        async def worker() -> None:
            while queue:
                i = queue.pop(0)
                answers[i] = await _one(session, traffic, scenario, i)

        tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, min(concurrency, requests)))]
        done, pending = await asyncio.wait(tasks, timeout=budget_s)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    # Requests the budget cut off (started or never sent) are answers the service did not give in time.
    for i in range(requests):
        if i not in answers:
            answers[i] = Answer(i, _rid(scenario, i), False, None, (time.monotonic() - t0) * 1000,
                                category=Category.TIMEOUT.value, message=UNANSWERED)
    return [answers[i] for i in range(requests)]


def _rid(scenario: str, i: int) -> str:
    return f"prodgate-{scenario}-{i}"


async def _one(session: ClientSession, traffic: Traffic, scenario: str, i: int) -> Answer:
    body = dict(traffic.bodies[i % len(traffic.bodies)])
    body["stream"] = traffic.stream
    rid = _rid(scenario, i)
    headers = {**traffic.headers, traffic.request_id_header: rid}
    t0 = time.monotonic()

    def ms() -> float:
        return round((time.monotonic() - t0) * 1000, 2)

    try:
        async with session.post(traffic.url + traffic.path, json=body, headers=headers, allow_redirects=False) as resp:
            if resp.status >= 300:
                text = await _error_text(resp)
                return Answer(i, rid, False, resp.status, ms(), category=_status_category(resp.status), message=text)
            if traffic.stream:
                return await _stream(resp, i, rid, ms)
            raw = await resp.read()
            try:
                data = json.loads(raw)
            except ValueError:
                data = None
            said = _error_message(data)
            if said is not None:
                # A service that answers 200 with an error object has failed, and says why: in its own words.
                return Answer(i, rid, False, resp.status, ms(), category=Category.SERVER_ERROR.value, message=said)
            try:
                content = data["choices"][0]["message"]["content"]
            except (KeyError, IndexError, TypeError):
                return Answer(i, rid, False, resp.status, ms(), category=Category.INVALID_JSON.value,
                              message="the answer is not a chat completion")
            if not content:
                return Answer(i, rid, False, resp.status, ms(), category=Category.EMPTY.value, message="empty answer")
            return Answer(i, rid, True, resp.status, ms())
    except asyncio.TimeoutError:
        return Answer(i, rid, False, None, ms(), category=Category.TIMEOUT.value,
                      message=f"no complete answer within {traffic.timeout_s:g}s")
    except ClientConnectionError as exc:
        return Answer(i, rid, False, None, ms(), category=Category.CONNECTION.value, message=type(exc).__name__)
    except ClientError as exc:
        return Answer(i, rid, False, None, ms(), category=Category.CONNECTION.value, message=type(exc).__name__)


async def _stream(resp: ClientResponse, i: int, rid: str, ms: Any) -> Answer:
    ttft = None
    finished = False
    error = None
    text = ""
    before = b""  # what came before any event: an error object, when the service answered one in place of a stream
    events = 0
    try:
        while True:
            line = await resp.content.readline()
            if not line:
                break
            if not line.startswith(b"data:"):
                if not events and len(before) < MAX_BODY_READ:
                    before += line
                continue
            events += 1
            data = line[5:].strip()
            if data == b"[DONE]":
                finished = True
                break
            try:
                event = json.loads(data)
            except ValueError:
                error = (Category.INVALID_JSON.value, "an event of the stream is not JSON")
                break
            if isinstance(event, dict) and event.get("error"):
                err = event["error"]
                error = (Category.TRUNCATED.value, str(err.get("message") if isinstance(err, dict) else err))
                break
            choices = event.get("choices") if isinstance(event, dict) else None
            # The service's text is untrusted: what is not a chat chunk's shape carries nothing, and is passed over.
            for choice in choices if isinstance(choices, list) else []:
                if not isinstance(choice, dict):
                    continue
                delta = choice.get("delta") or {}
                piece = delta.get("content") if isinstance(delta, dict) else None
                if piece:
                    if ttft is None:
                        ttft = ms()
                    text += str(piece)
                if choice.get("finish_reason"):
                    finished = True
    except (ClientError, asyncio.IncompleteReadError) as exc:
        error = (Category.TRUNCATED.value, f"the stream broke off ({type(exc).__name__})")
    if error is None and not events:
        try:
            said = _error_message(json.loads(before))
        except ValueError:
            said = None
        if said is not None:
            error = (Category.SERVER_ERROR.value, said)
    if error is None and not finished:
        error = (Category.TRUNCATED.value, "the stream ended before the answer did")
    if error is None and not text:
        error = (Category.EMPTY.value, "empty answer")
    if error is not None:
        return Answer(i, rid, False, resp.status, ms(), ttft, error[0], error[1][:MAX_ERROR_TEXT])
    return Answer(i, rid, True, resp.status, ms(), ttft)


async def _error_text(resp: ClientResponse) -> str:
    raw = await resp.content.read(MAX_BODY_READ)
    try:
        said = _error_message(json.loads(raw))
    except ValueError:
        said = None
    return said or f"HTTP {resp.status}"


def _error_message(data: Any) -> str | None:
    """The message of an OpenAI-style error object (`{"error": {"message": ...}}` or `{"error": "..."}`), if the
    answer is one."""
    err = data.get("error") if isinstance(data, dict) else None
    message = err.get("message") if isinstance(err, dict) else err
    return str(message)[:MAX_ERROR_TEXT] if message else None


def _status_category(status: int) -> str:
    if status == 429:
        return Category.RATE_LIMITED.value
    if status >= 500:
        return Category.SERVER_ERROR.value
    return Category.CLIENT_ERROR.value
