"""HTTP statuses and rate-limit headers mapped to the failure taxonomy and to waits."""

from __future__ import annotations

import email.utils

import pytest

from gate.providers.base import Category
from gate.providers.transport import duration, retry_after, status_error


@pytest.mark.parametrize(("status", "category", "retryable"), [
    (429, Category.RATE_LIMITED, True), (408, Category.TIMEOUT, True), (500, Category.SERVER_ERROR, True),
    (503, Category.SERVER_ERROR, True), (529, Category.SERVER_ERROR, True), (501, Category.SERVER_ERROR, False),
    (400, Category.CLIENT_ERROR, False), (401, Category.CLIENT_ERROR, False), (404, Category.CLIENT_ERROR, False),
])
def test_status_error_status_maps_to_category(status: int, category: Category, retryable: bool) -> None:
    err = status_error(status, {}, "detail", "http://x/v1/chat/completions")
    assert (err.category, err.retryable, err.status) == (category, retryable, status)
    assert err.message == f"HTTP {status} from http://x/v1/chat/completions: detail"


def test_retry_after_seconds_header_read() -> None:
    assert retry_after({"Retry-After": "3"}) == 3.0
    assert retry_after({"retry-after-ms": "250"}) == 0.25


def test_retry_after_http_date_relative_to_now() -> None:
    now = 1_800_000_000.0
    header = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after({"Retry-After": header}, now=now) == pytest.approx(7.0)
    assert retry_after({"Retry-After": email.utils.formatdate(now - 60, usegmt=True)}, now=now) == 0.0


def test_retry_after_openai_reset_headers_longest_wins() -> None:
    headers = {"x-ratelimit-reset-requests": "1s", "x-ratelimit-reset-tokens": "6m0s"}
    assert retry_after(headers) == 360.0


def test_retry_after_openai_reset_of_the_spent_budget_only() -> None:
    headers = {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1s",
               "x-ratelimit-remaining-tokens": "5000", "x-ratelimit-reset-tokens": "6m0s"}
    assert retry_after(headers) == 1.0
    assert retry_after({**headers, "x-ratelimit-remaining-requests": "3"}) is None
    assert retry_after(headers, rate_limited=False) is None  # a 500 carrying the usual headers: back off
    assert status_error(500, headers, "", "x").retry_after_s is None
    assert status_error(429, headers, "", "x").retry_after_s == 1.0


def test_retry_after_no_header_none() -> None:
    assert retry_after({"Content-Type": "application/json"}) is None
    assert retry_after({"Retry-After": "soon"}) is None


@pytest.mark.parametrize(("text", "seconds"), [("20ms", 0.02), ("1.5", 1.5), ("1h2m3s", 3723.0), ("2m", 120.0),
                                               ("abc", None), ("5 s", None)])
def test_duration_forms_parsed(text: str, seconds: float | None) -> None:
    assert duration(text) == (pytest.approx(seconds) if seconds is not None else None)
