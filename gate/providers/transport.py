"""HTTP for the providers: a requests.Session per thread, and transport failures mapped to the taxonomy."""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

from gate.files import loads_json
from gate.providers.base import Category, ProviderError
from gate.redact import clip

_local = threading.local()
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
# 5xx that say "this server will not do that", whatever the time: retrying cannot help.
_PERMANENT_5XX = frozenset({501, 505})


class _SameOriginSession(requests.Session):
    """Follows a redirect only to the same origin. requests strips nothing but `Authorization` on the way to
    another host, and the providers send keys in other headers too (x-api-key, api-key, headers_env).
    Sends only the credentials the gate was given: never a ~/.netrc login."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[tuple[Any, ...], Any] = {}
        # With no auth of its own, requests looks the host up in ~/.netrc on every call and puts that login
        # in place of the key's Authorization header: the wrong credential, sent to a URL a pull request may
        # have chosen. An auth that leaves the request as it is keeps the headers the provider set.
        self.auth = _headers_only

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """Nothing to do: a redirect is followed only within the origin, and never picks up a ~/.netrc login."""

    def merge_environment_settings(self, url: str | bytes | None, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> Any:
        # requests reads the proxies and the CA bundle from the environment on every call, walking all of
        # os.environ twice: a third of a millisecond per request. The environment does not change during a run.
        if proxies or not isinstance(url, str):
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        key = (_origin(url), stream, verify, cert)
        settings = self._settings.get(key)
        if settings is None:
            settings = self._settings[key] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        return settings.copy()

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        target = super().get_redirect_target(resp)
        if target is None or _origin(urljoin(resp.url, target)) != _origin(resp.url):
            return None  # send() turns the unfollowed 3xx into a client error
        return target


def _headers_only(request: requests.PreparedRequest) -> requests.PreparedRequest:
    return request


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = -1
    return parts.scheme, parts.hostname, port


def session() -> requests.Session:
    """One Session per worker thread: keep-alive connections without sharing a pool across threads."""
    s: requests.Session | None = getattr(_local, "session", None)
    if s is None:
        s = _SameOriginSession()
        _local.session = s
    return s


def send(method: str, url: str, *, timeout: float, headers: Mapping[str, str] | None = None,
         json_body: Any = None, params: Mapping[str, str] | None = None, stream: bool = False) -> requests.Response:
    """One HTTP call; a transport failure or an error status becomes a ProviderError."""
    try:
        resp = session().request(method, url, headers=dict(headers or {}), json=json_body, params=params,
                                 timeout=(min(timeout, 10.0), timeout), stream=stream)
    except requests.Timeout as exc:
        raise ProviderError(Category.TIMEOUT, f"no answer from {_where(url)} within {timeout:g} s",
                            retryable=True) from exc
    except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise ProviderError(Category.CONNECTION, f"cannot connect to {_where(url)}: {_reason(exc)}",
                            retryable=True) from exc
    except requests.RequestException as exc:
        raise ProviderError(Category.CLIENT_ERROR, f"request to {_where(url)} failed: {_reason(exc)}") from exc
    if resp.status_code >= 400:
        try:
            raise status_error(resp.status_code, resp.headers, _error_text(resp), _where(url))
        finally:
            resp.close()
    if resp.is_redirect:
        target = urlsplit(urljoin(resp.url, resp.headers["location"]))
        resp.close()
        raise ProviderError(Category.CLIENT_ERROR, f"HTTP {resp.status_code} from {_where(url)} redirects to another "
                            f"origin ({target.scheme}://{target.netloc.rpartition('@')[2]}): not followed, so that "
                            "no credential goes there; configure the final URL")
    return resp


def status_error(status: int, headers: Mapping[str, str], detail: str, where: str) -> ProviderError:
    """The taxonomy for an HTTP status: 429 rate limited, 408 timeout, 5xx server error, other 4xx client error."""
    wait = retry_after(headers, rate_limited=status == 429)
    text = f"HTTP {status} from {where}" + (f": {detail}" if detail else "")
    if status == 429:
        return ProviderError(Category.RATE_LIMITED, text, status=status, retryable=True, retry_after_s=wait)
    if status == 408:
        return ProviderError(Category.TIMEOUT, text, status=status, retryable=True, retry_after_s=wait)
    if status >= 500:
        return ProviderError(Category.SERVER_ERROR, text, status=status, retryable=status not in _PERMANENT_5XX,
                             retry_after_s=wait)
    return ProviderError(Category.CLIENT_ERROR, text, status=status)


def retry_after(headers: Mapping[str, str], now: float | None = None, *, rate_limited: bool = True) -> float | None:
    """Seconds the server asks us to wait: Retry-After (seconds or HTTP date), retry-after-ms, or on a 429
    the x-ratelimit-reset-* ("6m0s", "20ms") of the budget whose x-ratelimit-remaining-* is 0."""
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lower:
        try:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value:
        value = value.strip()
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            return max(0.0, when.timestamp() - (time.time() if now is None else now))
    if not rate_limited:
        return None  # OpenAI sends its reset headers on every answer: they explain only a 429
    spent = [k.removeprefix("x-ratelimit-remaining-") for k, v in lower.items()
             if k.startswith("x-ratelimit-remaining-") and v.strip() == "0"]
    names = spent or [k.removeprefix("x-ratelimit-reset-") for k in lower if k.startswith("x-ratelimit-reset-")]
    if any(k.startswith("x-ratelimit-remaining-") for k in lower) and not spent:
        return None  # a 429 with budget left (concurrency, a burst): back off instead
    waits = [duration(lower[f"x-ratelimit-reset-{n}"]) for n in names if f"x-ratelimit-reset-{n}" in lower]
    known = [w for w in waits if w is not None]
    return max(known) if known else None


def duration(text: str) -> float | None:
    """'1.5', '20ms', '6m0s', '1h2m3s' as seconds."""
    text = text.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    parts = _DURATION.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(n) * scale[u] for n, u in parts)


def json_body(resp: requests.Response, where: str) -> Any:
    """The parsed body. A body that is not JSON is the server's fault: transport.server_error, retryable
    (a proxy that cut the answer short usually answers whole the next time)."""
    try:
        return loads_json(resp.content, finite=False)  # depth-capped: the server is not trusted
    except (ValueError, requests.RequestException) as exc:
        raise ProviderError(Category.SERVER_ERROR, f"malformed JSON in the answer from {where}",
                            status=resp.status_code, retryable=True) from exc


def _error_text(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return clip(resp.text.strip(), 200)
    # Redacted, then capped: a server that echoes the key it was sent (some 401s do) must not leave part of it.
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            return clip(str(err["message"]), 200)
        if isinstance(err, str):
            return clip(err, 200)
    return clip(json.dumps(body), 200)


def _reason(exc: Exception) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Connection reset", "Name or service not known", "Remote end closed"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__


def _where(url: str) -> str:
    # Scheme, host and path only: a query string may carry a key (Azure's api-version does not, others might).
    return url.split("?", 1)[0]
