"""A models.yaml fallback chain: each model with its retries, then the next, recording which one answered."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from gate.providers import limits
from gate.providers.base import Provider, ProviderError, Request, Response


class FallbackProvider:
    """Tries each (name, provider) in order. A model moves on to the next after a failure that is not
    retryable or when its retries run out; the last failure is raised, not retryable, naming the chain."""

    def __init__(self, links: Sequence[tuple[str, Provider]]) -> None:
        if not links:
            raise ValueError("a fallback chain needs at least one model")
        self.links = list(links)

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "fallback", "chain": [dict(p.identity(), name=n) for n, p in self.links]}

    def complete(self, request: Request) -> Response:
        failed: list[tuple[str, ProviderError]] = []
        for name, provider in self.links:
            try:
                response = limits.with_retries(lambda p=provider: p.complete(request))  # type: ignore[misc]
            except ProviderError as exc:
                failed.append((name, exc))
                continue
            spent = sum(e.attempts for _, e in failed)
            return replace(response, answered_by=response.answered_by or name, attempts=response.attempts + spent)
        name, last = failed[-1]
        tried = ", ".join(f"{n}: {e.category.value}" for n, e in failed)
        error = ProviderError(last.category, f"{last.message} (every model failed: {tried})", status=last.status,
                              retryable=False, attempts=sum(e.attempts for _, e in failed), model=name)
        raise error from last
