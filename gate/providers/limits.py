"""What bounds each call under the executor: retries with backoff, a shared rate limit, cancellation."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from gate.providers.base import ProviderError, Response


class Cancelled(Exception):
    """The run was cancelled (Ctrl-C) while this call waited; nothing was sent."""


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with full jitter; a server's Retry-After wins when it gives one."""

    base_s: float = 0.5
    cap_s: float = 20.0
    # A server asking for a longer pause than this is not waited for: the call fails instead.
    max_retry_after_s: float = 60.0

    def delay(self, attempt: int, retry_after_s: float | None, rng: random.Random) -> float | None:
        """Seconds to wait before attempt `attempt + 1`; None when the server asks for too long."""
        if retry_after_s is not None:
            if retry_after_s > self.max_retry_after_s:
                return None
            # A little jitter on top, so the workers told the same time do not arrive together.
            return retry_after_s + rng.uniform(0, min(1.0, 0.1 * retry_after_s + 0.05))
        return rng.uniform(0, min(self.cap_s, self.base_s * 2 ** (attempt - 1)))


class RateLimiter:
    """A shared token bucket of one token refilled at rpm/60 per second (evenly spaced starts),
    plus a hold every caller respects after a server said when to come back."""

    def __init__(self, rpm: float | None = None) -> None:
        self.interval = 60.0 / rpm if rpm else 0.0
        self.lock = threading.Lock()
        self.next_free = 0.0
        self.hold_until = 0.0

    def acquire(self, cancel: threading.Event) -> None:
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free, self.hold_until)
            if self.interval:
                self.next_free = start + self.interval
        wait = start - time.monotonic()
        if wait > 0 and cancel.wait(wait):
            raise Cancelled()
        if cancel.is_set():
            raise Cancelled()

    def hold(self, seconds: float) -> None:
        with self.lock:
            self.hold_until = max(self.hold_until, time.monotonic() + seconds)


@dataclass
class Limits:
    retries: int = 0
    backoff: Backoff = field(default_factory=Backoff)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    cancel: threading.Event = field(default_factory=threading.Event)
    rng: random.Random = field(default_factory=random.Random)


_local = threading.local()


def current() -> Limits:
    """The limits of the executor running this thread; outside one, a single attempt, no rate limit."""
    limits: Limits | None = getattr(_local, "limits", None)
    if limits is None:
        limits = Limits()
        _local.limits = limits
    return limits


@contextmanager
def using(limits: Limits) -> Iterator[None]:
    previous = getattr(_local, "limits", None)
    _local.limits = limits
    try:
        yield
    finally:
        _local.limits = previous


def before_call() -> None:
    """Every call that leaves the process (network, program, app function) takes a token first."""
    limits = current()
    limits.limiter.acquire(limits.cancel)


def with_retries(call: Callable[[], Response]) -> Response:
    """Call until it answers, a failure is not retryable, or the retries run out; the last error is raised."""
    limits = current()
    attempt = 0
    while True:
        attempt += 1
        if limits.cancel.is_set():
            raise Cancelled()
        try:
            response = call()
        except ProviderError as exc:
            exc.attempts += attempt - 1
            if not exc.retryable or attempt > limits.retries:
                raise
            delay = limits.backoff.delay(attempt, exc.retry_after_s, limits.rng)
            if delay is None:
                exc.message += f" (the server asks to wait {exc.retry_after_s:.0f} s, longer than the gate waits)"
                exc.args = (exc.message,)
                raise
            if exc.retry_after_s is not None:
                limits.limiter.hold(delay)
            if limits.cancel.wait(delay):
                raise Cancelled() from exc
            continue
        return replace(response, attempts=response.attempts + attempt - 1) if attempt > 1 else response
