"""How the queries reach the retriever: the provider layer's http and command targets and a python function called
as function(query, k), all run by its executor (concurrency, rate limit, retries, timeouts); or a run file."""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.progress import Progress
from gate.providers import limits
from gate.providers.base import Category, Provider, ProviderError, Request, Response
from gate.providers.pycall import call_within
from gate.redact import clip

from .config import RetrievalConfig
from .inputs import Query
from .rankings import InvalidAnswer, Ranking, read_answer


class FunctionTarget:
    """python: "pkg.mod:function", called as function(query, k) and returning ids or (id, score) pairs best first
    (a list, or an object holding one). It may be async. With a timeout it runs in a thread of its own and is
    abandoned (not killed) when late."""

    def __init__(self, ref: str, root: Path, *, timeout: float | None = None) -> None:
        from gate.providers.pycall import load_function

        self.ref = ref
        self.function: Callable[..., Any] = load_function(ref, root)
        self.timeout = timeout

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "python", "function": self.ref}

    def complete(self, request: Request) -> Response:
        query, k = request.variables["query"], request.variables["k"]
        timeout = request.timeout_s or self.timeout
        limits.before_call()
        started = time.monotonic()
        value = self._call(query, k) if timeout is None else self._within(query, k, timeout)
        try:
            content = json.dumps(value, ensure_ascii=False, allow_nan=False, default=_plain)
        except (TypeError, ValueError) as exc:
            raise ProviderError(Category.RETRIEVAL_INVALID, f"{self.ref} returned what JSON cannot hold: {exc}") from exc
        return Response(content=content, latency_s=time.monotonic() - started, model="python")

    def _call(self, query: str, k: int) -> Any:
        try:
            result = self.function(query, k)
            if inspect.isawaitable(result):
                import asyncio  # here: only an async retriever needs it, and validating needs none

                result = asyncio.run(_awaited(result))
            return result
        except ProviderError:
            raise
        except Exception as exc:  # the retriever's own failure is a finding, not a crash of the gate
            raise ProviderError(Category.SERVER_ERROR, clip(f"{self.ref} raised {type(exc).__name__}: {exc}", 300)) from exc

    def _within(self, query: str, k: int, timeout: float) -> Any:
        return call_within(lambda: self._call(query, k), timeout, self.ref, "prodgate-retrieval-target")


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


@dataclass(frozen=True)
class Ranked(Response):
    """An answer already read as a ranking, by the worker that received it."""

    ranking: Ranking = ()


class RankingTarget:
    """A target whose every answer is read as a ranking where it arrives; an http target's straight from the
    body it parsed, not written out as text and parsed again. An answer that is no ranking is the query's
    failure (retrieval.invalid_output), never retried."""

    def __init__(self, inner: Provider, cfg: RetrievalConfig) -> None:
        from gate.providers.endpoint import HttpProvider

        self.inner = inner
        self.http = inner if isinstance(inner, HttpProvider) else None
        self.shape, self.k, self.kind = cfg.results, cfg.k, cfg.kind

    def identity(self) -> Mapping[str, Any]:
        return self.inner.identity()

    def complete(self, request: Request) -> Response:
        if self.http is not None:
            value, latency = self.http.answer_value(request)
        else:
            response = self.inner.complete(request)
            value, latency = response.content, response.latency_s
        try:
            if isinstance(value, str):
                value = _answer_value(value, self.kind)
            # An http target has already applied results.path (as its `answer`); the others apply it here.
            ranking = read_answer(value, self.shape, self.k, apply_path=self.kind != "http")
        except InvalidAnswer as exc:
            raise ProviderError(Category.RETRIEVAL_INVALID, str(exc)) from None
        return Ranked(content="", latency_s=latency, model=self.kind, ranking=ranking)


@dataclass
class Retrieved:
    """Every query's ranking, and the queries that got none, with why and the failure category."""

    rankings: dict[str, Ranking] = field(default_factory=dict)
    failed: dict[str, tuple[Category, str]] = field(default_factory=dict)
    calls: int = 0
    retried: int = 0
    service_exit: int | None = None  # the exit code of a service the gate started that stopped during the run


def retrieve(provider: Provider, cfg: RetrievalConfig, queries: Sequence[Query], progress: Progress) -> Retrieved:
    from gate.providers.executor import run_all

    # The timeout set here, not by the executor: it would copy every request to set it.
    requests = [Request(variables={"query": q.text, "k": cfg.k}, case_id=q.id, timeout_s=cfg.timeout) for q in queries]
    results = run_all(RankingTarget(provider, cfg), requests, concurrency=cfg.concurrency, rpm=cfg.rpm,
                      retries=cfg.retries, timeout=cfg.timeout, progress=progress, label="queries", seed=cfg.seed)
    out = Retrieved(calls=len(requests))
    for q, result in zip(queries, results, strict=True):
        out.retried += max(0, result.attempts - 1)
        if isinstance(result, ProviderError):
            out.failed[q.id] = (result.category, result.message)
        elif isinstance(result, Ranked):
            out.rankings[q.id] = result.ranking
    return out


def _answer_value(content: str, kind: str) -> Any:
    from gate.files import loads_json

    try:
        return loads_json(content, finite=False)
    except ValueError:
        if kind == "http" and content.strip() == "":
            return []
        raise InvalidAnswer("the answer is not JSON") from None
