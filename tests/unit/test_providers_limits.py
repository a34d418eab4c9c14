"""Backoff with full jitter, the shared rate limiter, and the retry loop's accounting."""

from __future__ import annotations

import random
import threading
import time

import pytest

from gate.providers.base import Category, ProviderError, Response
from gate.providers.limits import Backoff, Cancelled, Limits, RateLimiter, using, with_retries


def test_backoff_full_jitter_within_exponential_ceiling() -> None:
    backoff, rng = Backoff(base_s=0.5, cap_s=4.0), random.Random(1)
    for attempt, ceiling in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (8, 4.0)]:
        waits = [backoff.delay(attempt, None, rng) for _ in range(200)]
        assert all(w is not None and 0 <= w <= ceiling for w in waits)
        assert max(w for w in waits if w is not None) > ceiling * 0.8  # the jitter spans the range


def test_backoff_retry_after_honoured_or_refused_when_too_long() -> None:
    backoff, rng = Backoff(max_retry_after_s=30), random.Random(1)
    wait = backoff.delay(1, 2.0, rng)
    assert wait is not None and 2.0 <= wait <= 2.25
    assert backoff.delay(1, 120.0, rng) is None


def test_rate_limiter_rpm_spaces_starts() -> None:
    limiter, cancel = RateLimiter(rpm=600), threading.Event()  # one start per 0.1 s
    started = time.monotonic()
    for _ in range(4):
        limiter.acquire(cancel)
    assert time.monotonic() - started >= 0.29


def test_rate_limiter_hold_delays_everyone_and_cancel_interrupts() -> None:
    limiter, cancel = RateLimiter(), threading.Event()
    limiter.hold(0.3)
    started = time.monotonic()
    limiter.acquire(cancel)
    assert time.monotonic() - started >= 0.28
    limiter.hold(30)
    threading.Timer(0.1, cancel.set).start()
    with pytest.raises(Cancelled):
        limiter.acquire(cancel)


class Flaky:
    """Fails `failures` times with the given error, then answers."""

    def __init__(self, failures: int, error: ProviderError) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> Response:
        self.calls += 1
        if self.calls <= self.failures:
            raise ProviderError(self.error.category, self.error.message, status=self.error.status,
                                retryable=self.error.retryable, retry_after_s=self.error.retry_after_s)
        return Response(content="ok")


def test_with_retries_retryable_then_success_counts_attempts() -> None:
    call = Flaky(2, ProviderError(Category.SERVER_ERROR, "boom", status=500, retryable=True))
    with using(Limits(retries=3, backoff=Backoff(base_s=0.01))):
        response = with_retries(call)
    assert (response.content, response.attempts, call.calls) == ("ok", 3, 3)


def test_with_retries_exhausted_raises_last_with_attempts() -> None:
    call = Flaky(10, ProviderError(Category.RATE_LIMITED, "slow down", status=429, retryable=True))
    with using(Limits(retries=2, backoff=Backoff(base_s=0.01))), pytest.raises(ProviderError) as info:
        with_retries(call)
    assert (info.value.category, info.value.attempts, call.calls) == (Category.RATE_LIMITED, 3, 3)


def test_with_retries_client_error_not_retried() -> None:
    call = Flaky(1, ProviderError(Category.CLIENT_ERROR, "bad request", status=400))
    with using(Limits(retries=5, backoff=Backoff(base_s=0.01))), pytest.raises(ProviderError) as info:
        with_retries(call)
    assert (info.value.attempts, call.calls) == (1, 1)


def test_with_retries_long_retry_after_gives_up_with_reason() -> None:
    call = Flaky(1, ProviderError(Category.RATE_LIMITED, "HTTP 429", status=429, retryable=True, retry_after_s=3600))
    with using(Limits(retries=5)), pytest.raises(ProviderError) as info:
        with_retries(call)
    assert call.calls == 1 and "asks to wait 3600 s" in info.value.message
