"""HTTP for the providers: a kept-alive connection per thread and origin, transport failures in the taxonomy.

The standard library's http.client for a direct connection: requests cost three times its CPU per call and urllib3
twice (the regression check makes thousands), and neither adds anything a provider call must have. Nothing of
theirs a call must not have either: no ~/.netrc login in place of the key's header, no redirect to another host
(with the headers that carry keys: x-api-key, api-key, headers_env). A route through a proxy the environment
names (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, NO_PROXY) goes through urllib3's ProxyManager, imported then."""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import re
import select
import ssl
import threading
import time
import urllib.request
import zlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

from gate.files import loads_json
from gate.providers.base import Category, ProviderError
from gate.redact import clip

_local = threading.local()
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
_DEFAULT_PORTS = {"http": 80, "https": 443}
_tls_lock = threading.Lock()
_tls_context: list[ssl.SSLContext] = []


class Headers(Mapping[str, str]):
    """An answer's headers by name in any case; a repeated header's values joined with ", " (RFC 9110)."""

    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._by_name: dict[str, tuple[str, str]] = {}
        for name, value in pairs:
            key = name.lower()
            if key in self._by_name:
                value = f"{self._by_name[key][1]}, {value}"
            self._by_name[key] = (name, value)

    def __getitem__(self, name: str) -> str:
        return self._by_name[name.lower()][1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._by_name

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)


class HttpResponse:
    """What a provider reads of an answer: status, headers (any case), the body whole, or line by line when
    streamed. Close it: a connection goes back to its thread's pool only once its answer was read to the end."""

    def __init__(self, status: int, headers: Mapping[str, str], url: str, *, content: bytes | None = None,
                 reader: Callable[[], bytes] | None = None, release: Callable[[bool], None] | None = None) -> None:
        self.status_code = status
        self.headers = headers
        self.url = url
        self._content = content
        self._reader = reader
        self._release = release
        self._finished = content is not None

    def readline(self) -> bytes:
        """The next line of a streamed body (b"" at its end). A stall past the timeout raises TimeoutError; a
        body cut off, ConnectionError."""
        if self._reader is None:
            raise ValueError("not a streamed answer")
        line = self._reader()
        if not line:
            self._finished = True
        return line

    @property
    def content(self) -> bytes:
        if self._content is None:
            chunks = []
            while line := self.readline():
                chunks.append(line)
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
        release, self._release = self._release, None
        if release is not None:
            release(self._finished)


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        name, _, value = part.strip().partition("=")
        if name.lower() == "charset" and value:
            return value.strip("\"' ")
    return None


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        port = -1
    return parts.scheme, parts.hostname, port


def _bundle() -> tuple[str | None, str | None]:
    """(file, folder): the CA bundle requests would use: REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE (a file or a
    folder), else certifi's, else (None, None): the system's."""
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if bundle:
        return (None, bundle) if os.path.isdir(bundle) else (bundle, None)
    try:
        import certifi
    except ImportError:
        return None, None
    return certifi.where(), None


def _tls() -> ssl.SSLContext:
    """One verifying context for the run (certificates and host names checked), built on first use."""
    with _tls_lock:
        if not _tls_context:
            cafile, capath = _bundle()
            _tls_context.append(ssl.create_default_context(cafile=cafile, capath=capath))
        return _tls_context[0]


def _proxy_for(origin: tuple[str, str | None, int | None]) -> str | None:
    """The proxy the environment names for the origin, read once per thread and origin (it does not change)."""
    routes: dict[tuple[Any, ...], str | None] | None = getattr(_local, "routes", None)
    if routes is None:
        routes = _local.routes = {}
    if origin not in routes:
        proxies = urllib.request.getproxies()
        proxy = proxies.get(origin[0]) or proxies.get("all")
        routes[origin] = None if not proxy or urllib.request.proxy_bypass(origin[1] or "") else proxy
    return routes[origin]


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
    for _ in range(MAX_REDIRECTS + 1):
        resp = _request(method, url, sent, body, timeout, stream)
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


def _request(method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float,
             stream: bool) -> HttpResponse:
    origin = _origin(url)
    if origin[0] not in _DEFAULT_PORTS or not origin[1] or origin[2] == -1:
        raise ProviderError(Category.CLIENT_ERROR, f"request to {_where(url)} failed: not an http(s) URL with a host "
                            "and a valid port")
    try:
        proxy = _proxy_for(origin)
        if proxy:
            return _proxied(proxy, method, url, headers, body, timeout, stream)
        return _direct(origin, method, url, headers, body, timeout, stream)
    except ProviderError:
        raise
    except TimeoutError as exc:
        raise ProviderError(Category.TIMEOUT, f"no answer from {_where(url)} within {timeout:g} s",
                            retryable=True) from exc
    except ssl.SSLCertVerificationError as exc:  # also a ValueError: not the request's fault, and no retry helps
        raise ProviderError(Category.CONNECTION, f"cannot connect to {_where(url)}: its TLS certificate is not "
                            f"trusted ({exc.verify_message or 'verification failed'}; a private authority's "
                            "bundle goes in REQUESTS_CA_BUNDLE)") from exc
    except (http.client.InvalidURL, UnicodeError, ValueError) as exc:
        raise ProviderError(Category.CLIENT_ERROR, f"request to {_where(url)} failed: {_reason(exc)}") from exc
    except (http.client.HTTPException, ConnectionResetError, BrokenPipeError, ConnectionAbortedError) as exc:
        # Only once connected: the server took the request and dropped it (a handler that crashed, most often).
        raise ProviderError(Category.CONNECTION, f"{_where(url)} closed the connection without a whole answer: "
                            f"{_reason(exc)}", retryable=True) from exc
    except OSError as exc:
        raise ProviderError(Category.CONNECTION, f"cannot connect to {_where(url)}: {_reason(exc)}",
                            retryable=True) from exc


def _direct(origin: tuple[str, str | None, int | None], method: str, url: str, headers: Mapping[str, str],
            body: bytes | None, timeout: float, stream: bool) -> HttpResponse:
    """Over this thread's kept-alive connection to the origin. A connection the server closed while it sat idle
    is replaced before use; one that fails before any answer when it was reused is tried once afresh."""
    pool: _Pool | None = getattr(_local, "conns", None)
    if pool is None:
        pool = _local.conns = _Pool()
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    conn = pool.pop(origin, None)  # taken while in use: a streamed answer holds it until closed
    if conn is not None and _dropped(conn):
        conn.close()
        conn = None
    for attempt in (0, 1):
        reused = conn is not None
        if conn is None:
            conn = _connect(origin, timeout)
        try:
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request(method, target, body=body, headers=headers)
            raw = conn.getresponse()
            break
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            conn.close()
            conn = None
            if not reused or attempt:
                raise
        except BaseException:
            conn.close()
            raise
    assert conn is not None
    kept = conn

    def release(finished: bool) -> None:
        if finished and not raw.will_close:  # read to its end: the connection carries the next request
            raw.close()
            pool[origin] = kept
        else:
            kept.close()  # half read: never back in the pool

    return _answer(raw.status, raw.headers.items(), raw.read1, url, timeout, stream, release)


def _answer(status: int, headers: Iterable[tuple[str, str]], read1: Callable[[int], bytes], url: str,
            timeout: float, stream: bool, release: Callable[[bool], None]) -> HttpResponse:
    """The response over its body: read whole now, or line by line as it streams. release(finished) hands the
    connection back when the response is closed, or at once (False) when reading the body fails."""
    header = Headers(headers)
    try:
        body = _Body(read1, header.get("Content-Encoding"), url, time.monotonic() + timeout)
        if stream:
            return HttpResponse(status, header, url, reader=body.readline, release=release)
        content = body.read()
    except BaseException:
        release(False)
        raise
    return HttpResponse(status, header, url, content=content, release=release)


class _Pool(dict[tuple[Any, ...], http.client.HTTPConnection]):
    """A thread's idle connections by origin, closed when the thread ends (its thread-local data is dropped)."""

    def __del__(self) -> None:
        for conn in self.values():
            conn.close()


def _connect(origin: tuple[str, str | None, int | None], timeout: float) -> http.client.HTTPConnection:
    scheme, host, port = origin
    assert host is not None and port is not None
    connect_timeout = min(timeout, 10.0)
    conn: http.client.HTTPConnection
    if scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=_tls())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=connect_timeout)
    conn.connect()  # refused, unreachable, a TLS failure: worded by _request, as every transport failure is
    return conn


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle connection can no longer carry a request: the server closed it (readable at EOF)."""
    sock = conn.sock
    if sock is None:
        return True
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


class _Body:
    """Reads a body as it arrives (read1: what has come, never waiting for more) and undoes gzip or deflate; at
    most MAX_ANSWER_BYTES once decoded, and all of it before the deadline (the call's timeout from its answer's
    start: a server that trickles without end is cut off there). A body cut off, or not the encoding it says,
    raises ConnectionError; a stall, TimeoutError; too much or too late, ProviderError."""

    def __init__(self, read1: Callable[[int], bytes], encoding: str | None, url: str, deadline: float) -> None:
        self._read1, self._url, self._deadline = read1, url, deadline
        self._size = 0
        self._pending = bytearray()
        self._ended = False
        name = (encoding or "").strip().lower()
        if name not in ("", "identity", "gzip", "x-gzip", "deflate"):
            raise ProviderError(Category.SERVER_ERROR, f"an answer in an encoding not asked for: {clip(name, 40)!r}")
        self._deflate = name == "deflate"
        # gzip or zlib, told apart by the header; raw deflate when a "deflate" body has no zlib header
        self._unzip = zlib.decompressobj(zlib.MAX_WBITS | 32) if name not in ("", "identity") else None
        self._started = False

    def read(self) -> bytes:
        while not self._ended:
            self._more()
        out = bytes(self._pending)
        self._pending.clear()
        return out

    def readline(self) -> bytes:
        while b"\n" not in self._pending and not self._ended:
            self._more()
        cut = self._pending.find(b"\n") + 1 or len(self._pending)
        line = bytes(self._pending[:cut])
        del self._pending[:cut]
        return line

    def _more(self) -> None:
        try:
            chunk = self._read1(_CHUNK)
        except http.client.IncompleteRead as exc:
            raise ConnectionError("the answer was cut off") from exc
        except http.client.HTTPException as exc:
            raise ConnectionError(f"a malformed answer: {type(exc).__name__}") from exc
        piece = self._decode(chunk) if self._unzip is not None else chunk
        self._size += len(piece)
        if self._size > MAX_ANSWER_BYTES:
            raise self._refused(f"larger than {MAX_ANSWER_BYTES // (1 << 20)} MiB")
        self._pending.extend(piece)
        if not chunk:
            self._ended = True
        elif time.monotonic() > self._deadline:
            raise self._refused("still arriving when its time ran out")

    def _decode(self, data: bytes) -> bytes:
        assert self._unzip is not None
        try:
            try:
                out: bytes = self._unzip.decompress(data, MAX_ANSWER_BYTES + 1)
            except zlib.error:
                if not self._deflate or self._started:
                    raise
                self._unzip = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send it
                out = self._unzip.decompress(data, MAX_ANSWER_BYTES + 1)
            self._started = self._started or bool(data)
            if self._unzip.unconsumed_tail:  # more than the cap from what has come: a bomb, not an answer
                raise self._refused(f"larger than {MAX_ANSWER_BYTES // (1 << 20)} MiB")
            return out if data else out + self._unzip.flush()
        except zlib.error as exc:
            raise ConnectionError("a corrupt compressed answer") from exc

    def _refused(self, what: str) -> ProviderError:
        return ProviderError(Category.SERVER_ERROR, f"the answer from {_where(self._url)} is {what}: not read further")


def _proxied(proxy: str, method: str, url: str, headers: Mapping[str, str], body: bytes | None, timeout: float,
             stream: bool) -> HttpResponse:
    """Through the proxy, with urllib3's ProxyManager (a CONNECT tunnel for https), one per thread and proxy."""
    import urllib3

    managers: dict[str, urllib3.ProxyManager] | None = getattr(_local, "proxies", None)
    if managers is None:
        managers = _local.proxies = {}
    manager = managers.get(proxy)
    if manager is None:
        cafile, capath = _bundle()
        manager = managers[proxy] = urllib3.ProxyManager(proxy, maxsize=4, retries=False, ca_certs=cafile,
                                                         ca_cert_dir=capath)
    limit = urllib3.Timeout(connect=min(timeout, 10.0), read=timeout)
    try:
        raw = manager.request(method, url, headers=headers, body=body, timeout=limit, redirect=False,
                              retries=False, preload_content=False, decode_content=False)
    except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError to urllib3, but refused is refused
        raise ProviderError(Category.CONNECTION, f"cannot connect to {_where(url)}: {_reason(exc)}",
                            retryable=True) from exc
    except urllib3.exceptions.TimeoutError as exc:
        raise TimeoutError(str(exc)) from exc
    except (urllib3.exceptions.LocationValueError, urllib3.exceptions.URLSchemeUnknown) as exc:
        raise ValueError(str(exc)) from exc
    except urllib3.exceptions.HTTPError as exc:
        raise ConnectionError(_reason(exc)) from exc

    def read1(size: int) -> bytes:
        try:
            return raw.read1(size)
        except urllib3.exceptions.TimeoutError as exc:
            raise TimeoutError("the answer stalled") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise ConnectionError(_reason(exc)) from exc

    def release(finished: bool) -> None:
        if not finished:
            raw.close()  # a body left unread must not be taken for the next answer on this connection
        raw.release_conn()

    return _answer(raw.status, raw.headers.items(), read1, url, timeout, stream, release)


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
    except (ValueError, OSError) as exc:
        raise ProviderError(Category.SERVER_ERROR, f"malformed JSON in the answer from {where}",
                            status=resp.status_code, retryable=True) from exc


def _error_text(resp: HttpResponse) -> str:
    try:
        body = resp.json()
    except ProviderError:
        return ""  # a body too large or too slow to read explains nothing
    except (ValueError, OSError):
        try:
            return clip(resp.text.strip(), 200)
        except OSError:
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
