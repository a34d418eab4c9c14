"""HTTP for the providers: urllib3 connection pools per thread, and transport failures mapped to the taxonomy.

urllib3 directly, not requests: a third of the CPU per call (which the regression check makes thousands of),
and nothing of requests' that a provider call must not have: no ~/.netrc login in place of the key's header,
no redirect to another host (with the headers that carry keys: x-api-key, api-key, headers_env)."""

from __future__ import annotations

import email.utils
import json
import math
import os
import re
import threading
import time
import urllib.request
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import urllib3

from gate.files import loads_json
from gate.providers.base import Category, ProviderError
from gate.redact import clip

_local = threading.local()
_AUTHORITY = re.compile(r"[^/?#]*//[^/?#]*")  # scheme://user@host:port of a url
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
# 5xx that say "this server will not do that", whatever the time: retrying cannot help.
_PERMANENT_5XX = frozenset({501, 505})
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 10
# An answer is read up to this many (decoded) bytes and within its timeout as a whole: a server that sends
# without end, slowly or at full speed, or a small gzip that inflates to gigabytes, costs a bounded read.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
_CHUNK = 1 << 16
_DEFAULT_HEADERS = {"User-Agent": "prodgate", "Accept": "*/*", "Accept-Encoding": "gzip, deflate"}


class HttpResponse:
    """What a provider reads of an answer: status, headers (any case), the body whole or as a stream (`raw`)."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, url: str, deadline: float = math.inf) -> None:
        self.raw = raw
        self.url = url
        self.status_code = raw.status
        self.headers = raw.headers
        self.deadline = deadline  # time.monotonic() by which the whole body must have arrived
        self._content: bytes | None = None

    @property
    def content(self) -> bytes:
        """The body, read once: at most MAX_ANSWER_BYTES, before the deadline; else a ProviderError."""
        if self._content is None:
            chunks, size = [], 0
            while chunk := _read(self.raw, self.url):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_ANSWER_BYTES or time.monotonic() > self.deadline:
                    self.raw.close()  # the rest is never read: the connection must not go back to the pool
                    what = (f"larger than {MAX_ANSWER_BYTES // (1 << 20)} MiB" if size > MAX_ANSWER_BYTES
                            else "still arriving when its time ran out")
                    raise ProviderError(Category.SERVER_ERROR, f"the answer from {_where(self.url)} is {what}: not "
                                        "read further")
            self._content = b"".join(chunks)
        return self._content

    @property
    def text(self) -> str:
        charset = _charset(self.headers.get("Content-Type", ""))
        try:
            return self.content.decode(charset or "utf-8", "replace")
        except LookupError:
            return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    @property
    def is_redirect(self) -> bool:
        return self.status_code in _REDIRECTS and "location" in self.headers

    def close(self) -> None:
        if self._content is None and not self.raw.closed:
            # A body left unread (a redirect's, a stream given up) would be read as the next answer on this
            # connection; draining it could take without end: the connection is dropped instead.
            self.raw.close()
        self.raw.release_conn()


def _read(raw: urllib3.BaseHTTPResponse, url: str) -> bytes:
    """The next piece of a body, as much as has arrived (read() would wait for a whole chunk of a trickle); a
    failure while it arrives is the transport's, as when the request was sent."""
    try:
        return raw.read1(_CHUNK)
    except urllib3.exceptions.TimeoutError as exc:
        raise ProviderError(Category.TIMEOUT, f"the answer from {_where(url)} stopped arriving", retryable=True) from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ProviderError(Category.CONNECTION, f"the answer from {_where(url)} was cut off: {_reason(exc)}",
                            retryable=True) from exc


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        port = -1
    return parts.scheme, parts.hostname, port


def _tls() -> dict[str, Any]:
    """The CA bundle requests would use: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (a file or a folder), else
    certifi's, else the system's."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return {"ca_cert_dir": bundle} if os.path.isdir(bundle) else {"ca_certs": bundle}
    try:
        import certifi
    except ImportError:
        return {}
    return {"ca_certs": certifi.where()}


def _pool(url: str) -> urllib3.PoolManager:
    """This thread's pool for url's origin: direct, or through the proxy the environment names for it
    (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY, read once per origin: the environment does not change)."""
    pools: dict[str | None, urllib3.PoolManager] | None = getattr(_local, "pools", None)
    routes: dict[str, str | None] | None = getattr(_local, "routes", None)
    if pools is None or routes is None:
        pools = _local.pools = {}
        routes = _local.routes = {}
    # Keyed by the url's scheme and authority as written: parsing the url on every call cost more than the rest.
    found = _AUTHORITY.match(url)
    key = found.group() if found else url
    if key not in routes:
        origin = _origin(url)
        proxies = urllib.request.getproxies()
        proxy = proxies.get(origin[0]) or proxies.get("all")
        host = origin[1] or ""
        routes[key] = None if not proxy or urllib.request.proxy_bypass(host) else proxy
    proxy = routes[key]
    pool = pools.get(proxy)
    if pool is None:
        kwargs: dict[str, Any] = {"maxsize": 4, "retries": False, **_tls()}
        pool = pools[proxy] = urllib3.ProxyManager(proxy, **kwargs) if proxy else urllib3.PoolManager(**kwargs)
    return pool


def send(method: str, url: str, *, timeout: float, headers: Mapping[str, str] | None = None,
         json_body: Any = None, params: Mapping[str, str] | None = None, stream: bool = False) -> HttpResponse:
    """One HTTP call; a transport failure or an error status becomes a ProviderError. A redirect is followed
    only within the origin (307 and 308 keep the method and body; 301, 302 and 303 turn a POST into a GET)."""
    if params:
        url += ("&" if urlsplit(url).query else "?") + urlencode(params)
    sent = {**_DEFAULT_HEADERS, **(headers or {})}
    body: bytes | None = None
    if json_body is not None:
        body = json.dumps(json_body, allow_nan=False).encode("utf-8")
        sent.setdefault("Content-Type", "application/json")
    limit = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
    for _ in range(MAX_REDIRECTS + 1):
        raw = _request(method, url, sent, body, limit)
        resp = HttpResponse(raw, url, time.monotonic() + timeout)
        if resp.status_code >= 400:
            try:
                raise status_error(resp.status_code, resp.headers, _error_text(resp), _where(url))
            finally:
                resp.close()
        if not resp.is_redirect:
            return resp
        target = urljoin(url, resp.headers["location"])
        resp.close()
        if _origin(target) != _origin(url):
            parts = urlsplit(target)
            raise ProviderError(Category.CLIENT_ERROR, f"HTTP {resp.status_code} from {_where(url)} redirects to "
                                f"another origin ({parts.scheme}://{parts.netloc.rpartition('@')[2]}): not followed, "
                                "so that no credential goes there; configure the final URL")
        if resp.status_code in (301, 302, 303) and method != "HEAD":
            method, body = "GET", None
            sent = {k: v for k, v in sent.items() if k.lower() not in ("content-type", "content-length")}
        url = target
    raise ProviderError(Category.CLIENT_ERROR, f"more than {MAX_REDIRECTS} redirects from {_where(url)}")


def _request(method: str, url: str, headers: Mapping[str, str], body: bytes | None,
             limit: urllib3.Timeout) -> urllib3.BaseHTTPResponse:
    # Never preloaded: HttpResponse.content reads the body with a bound, a stream reads it as it comes.
    try:
        return _pool(url).request(method, url, headers=headers, body=body, timeout=limit, redirect=False,
                                  retries=False, preload_content=False)
    except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError to urllib3, but refused is refused
        raise ProviderError(Category.CONNECTION, f"cannot connect to {_where(url)}: {_reason(exc)}",
                            retryable=True) from exc
    except urllib3.exceptions.TimeoutError as exc:
        raise ProviderError(Category.TIMEOUT, f"no answer from {_where(url)} within {limit.read_timeout:g} s",
                            retryable=True) from exc
    except (urllib3.exceptions.LocationValueError, urllib3.exceptions.URLSchemeUnknown, ValueError) as exc:
        raise ProviderError(Category.CLIENT_ERROR, f"request to {_where(url)} failed: {_reason(exc)}") from exc
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise ProviderError(Category.CONNECTION, f"cannot connect to {_where(url)}: {_reason(exc)}",
                            retryable=True) from exc


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


def json_body(resp: HttpResponse, where: str) -> Any:
    """The parsed body. A body that is not JSON is the server's fault: transport.server_error, retryable
    (a proxy that cut the answer short usually answers whole the next time)."""
    try:
        return loads_json(resp.content, finite=False)  # depth-capped: the server is not trusted
    except (ValueError, urllib3.exceptions.HTTPError, OSError) as exc:
        raise ProviderError(Category.SERVER_ERROR, f"malformed JSON in the answer from {where}",
                            status=resp.status_code, retryable=True) from exc


def _error_text(resp: HttpResponse) -> str:
    try:
        body = resp.json()
    except ProviderError:
        return ""  # a body too large or too slow to read explains nothing
    except (ValueError, urllib3.exceptions.HTTPError, OSError):
        try:
            return clip(resp.text.strip(), 200)
        except (ProviderError, urllib3.exceptions.HTTPError, OSError):
            return ""
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
