"""A small GitHub REST client: retries with backoff on rate limits and 5xx, Link-header pagination."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import gate

API_VERSION = "2022-11-28"
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 4
    base_s: float = 1.0
    # A wait longer than this (a primary rate limit resetting in 40 minutes) is not worth it.
    max_wait_s: float = 60.0


class GitHubError(Exception):
    """A request that failed for good; str() says what, never with the token."""

    def __init__(self, status: int | None, message: str, method: str, path: str) -> None:
        self.status = status
        self.message = message
        self.method = method
        self.path = path
        code = f"HTTP {status}" if status else "no response"
        super().__init__(f"{method} {path}: {code}: {message}")

    @property
    def rate_limited(self) -> bool:
        return self.status == 429 or (self.status == 403 and "rate limit" in self.message.lower())


@dataclass(frozen=True)
class Response:
    status: int
    data: Any
    headers: Mapping[str, str] = field(default_factory=dict)
    next_url: str | None = None


def _message(data: Any, fallback: str) -> str:
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        details = [e.get("message") for e in data.get("errors") or [] if isinstance(e, dict) and e.get("message")]
        return str(data["message"]) + (f" ({'; '.join(map(str, details))})" if details else "")
    return fallback


class GitHubClient:
    def __init__(self, api_url: str, token: str | None, *, policy: RetryPolicy | None = None,
                 timeout: tuple[float, float] = (5.0, 30.0), sleep: Callable[[float], None] = time.sleep) -> None:
        import requests  # only the comment verb needs HTTP

        self.api_url = api_url.rstrip("/")
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self._origin = urlsplit(self.api_url)[:2]
        self._session = requests.Session()
        self._session.headers.update({
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": f"prodgate/{gate.__version__}",
        })
        if token:
            self._session.headers["Authorization"] = f"Bearer {token}"
        self.requests_made = 0

    @property
    def graphql_url(self) -> str:
        """GitHub's GraphQL endpoint beside this REST API: api.github.com/graphql, HOST/api/graphql on GHES."""
        if self.api_url.endswith("/api/v3"):
            return self.api_url[:-len("/v3")] + "/graphql"
        return self.api_url + "/graphql"

    def close(self) -> None:
        self._session.close()

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            # Follow only links back to the same API: the token must never travel elsewhere.
            if urlsplit(path)[:2] != self._origin:
                raise GitHubError(None, "refusing to follow a link to another host", "GET", path)
            return path
        return self.api_url + path

    def request(self, method: str, path: str, *, json: Any = None, params: Mapping[str, Any] | None = None
                ) -> Response:
        import requests

        url = self._url(path)
        shown = urlsplit(url).path
        last: GitHubError | None = None
        for attempt in range(self.policy.attempts):
            self.requests_made += 1
            try:
                resp = self._session.request(method, url, json=json, params=params, timeout=self.timeout)
            except requests.RequestException as exc:
                last = GitHubError(None, f"{type(exc).__name__}", method, shown)
                wait = self._backoff(attempt)
            else:
                data = _json(resp)
                if resp.status_code < 400:
                    nxt = resp.links.get("next", {}).get("url")
                    return Response(resp.status_code, data, dict(resp.headers), nxt)
                last = GitHubError(resp.status_code, _message(data, resp.reason or "error"), method, shown)
                if not self._retryable(resp.status_code, last.message, resp.headers):
                    raise last
                wait = self._wait_for(resp.headers, attempt)
            if attempt + 1 >= self.policy.attempts or wait > self.policy.max_wait_s:
                break
            self.sleep(wait)
        assert last is not None
        raise last

    def paginate(self, path: str, params: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """Every item of a list endpoint, following `Link: rel="next"` to the last page."""
        url: str | None = path
        query: Mapping[str, Any] | None = {"per_page": 100, **(params or {})}
        while url:
            resp = self.request("GET", url, params=query)
            if not isinstance(resp.data, list):
                raise GitHubError(resp.status, "expected a list", "GET", urlsplit(self._url(url)).path)
            yield from resp.data
            url, query = resp.next_url, None  # the next link carries its own query

    @staticmethod
    def _retryable(status: int, message: str, headers: Mapping[str, str]) -> bool:
        if status in _RETRY_STATUSES:
            return True
        # A secondary rate limit is a 403 that says so (and usually sends Retry-After).
        return status == 403 and ("rate limit" in message.lower() or "retry-after" in {k.lower() for k in headers}
                                  or headers.get("x-ratelimit-remaining") == "0")

    def _backoff(self, attempt: int) -> float:
        return float(self.policy.base_s * (2 ** attempt) * (1 + random.random() / 4))

    def _wait_for(self, headers: Mapping[str, str], attempt: int) -> float:
        lower = {k.lower(): v for k, v in headers.items()}
        retry_after = lower.get("retry-after", "")
        if retry_after.strip().isdigit():
            return float(retry_after)
        if lower.get("x-ratelimit-remaining") == "0" and lower.get("x-ratelimit-reset", "").isdigit():
            return max(float(lower["x-ratelimit-reset"]) - time.time(), 0.0) + 1.0
        return self._backoff(attempt)


def _json(resp: Any) -> Any:
    if not resp.content:
        return None
    try:
        return resp.json()
    except ValueError:
        return None
