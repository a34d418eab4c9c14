"""The providers' HTTP transport against a real server on loopback: kept-alive connections, a connection the
server dropped while idle, compressed answers and the cap on what is read."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import ssl
import subprocess
import sys
import threading
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gate.providers import transport
from gate.providers.base import Category, ProviderError


class _Server:
    """Answers GET /<name> with the body `bodies[name]`; counts the TCP connections it accepted."""

    def __init__(self) -> None:
        self.bodies: dict[str, tuple[bytes, dict[str, str]]] = {}
        self.peers: set[tuple[str, int]] = set()
        self.close_after: set[str] = set()  # answer, then close the connection without saying so
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.peers.add(self.client_address)
                name = self.path.lstrip("/")
                body, headers = owner.bodies[name]
                self.send_response(200)
                for key, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
                if name in owner.close_after:
                    self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}"


@contextmanager
def _serving() -> Iterator[_Server]:
    server = _Server()
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


def _get(url: str, *, stream: bool = False) -> transport.HttpResponse:
    return transport.send("GET", url, timeout=10, stream=stream)


def _in_thread(fn: Any) -> Any:
    """Run fn in a fresh thread (a fresh pool of connections) and return what it returned or raise what it raised."""
    out: dict[str, Any] = {}

    def call() -> None:
        try:
            out["value"] = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            out["error"] = exc

    thread = threading.Thread(target=call)
    thread.start()
    thread.join(30)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_transport_sequential_calls_one_thread_share_one_connection() -> None:
    with _serving() as server:
        server.bodies["a"] = (b'{"n": 1}', {"Content-Type": "application/json"})

        def five() -> list[Any]:
            answers = []
            for _ in range(5):
                resp = _get(server.url + "/a")
                answers.append(resp.json())
                resp.close()
            return answers

        assert _in_thread(five) == [{"n": 1}] * 5
        assert len(server.peers) == 1


def test_transport_connection_dropped_while_idle_replaced_answer_still_read() -> None:
    with _serving() as server:
        server.bodies["bye"] = (b"first", {})
        server.bodies["again"] = (b"second", {})
        server.close_after.add("bye")

        def two() -> list[bytes]:
            first = _get(server.url + "/bye")
            body = first.content
            first.close()  # goes back to the pool: the server did not say it would close
            second = _get(server.url + "/again")
            try:
                return [body, second.content]
            finally:
                second.close()

        assert _in_thread(two) == [b"first", b"second"]
        assert len(server.peers) == 2


@pytest.mark.parametrize("encoding, packed", [
    ("gzip", gzip.compress(b'{"answer": "gzipped"}')),
    ("deflate", zlib.compress(b'{"answer": "gzipped"}')),
    ("deflate", zlib.compress(b'{"answer": "gzipped"}')[2:-4]),  # raw deflate, as some servers send it
], ids=["gzip", "zlib-deflate", "raw-deflate"])
def test_transport_compressed_answer_decoded(encoding: str, packed: bytes) -> None:
    with _serving() as server:
        server.bodies["z"] = (packed, {"Content-Encoding": encoding, "Content-Type": "application/json"})
        resp = _in_thread(lambda: _get(server.url + "/z"))
        assert resp.json() == {"answer": "gzipped"}
        resp.close()


def test_transport_streamed_gzip_lines_read_one_by_one() -> None:
    with _serving() as server:
        server.bodies["s"] = (gzip.compress(b"data: 1\n\ndata: 2\n"), {"Content-Encoding": "gzip"})

        def lines() -> list[bytes]:
            resp = _get(server.url + "/s", stream=True)
            out = []
            while line := resp.readline():
                out.append(line)
            resp.close()
            return out

        assert _in_thread(lines) == [b"data: 1\n", b"\n", b"data: 2\n"]


def test_transport_compression_bomb_stopped_at_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 100_000)
    with _serving() as server:
        server.bodies["bomb"] = (gzip.compress(b"0" * 5_000_000), {"Content-Encoding": "gzip"})
        with pytest.raises(ProviderError) as caught:
            _in_thread(lambda: _get(server.url + "/bomb"))
    assert caught.value.category is Category.SERVER_ERROR
    assert "larger than" in str(caught.value)


def test_transport_answer_over_cap_not_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(transport, "MAX_ANSWER_BYTES", 1000)
    with _serving() as server:
        server.bodies["big"] = (b"x" * 5000, {})
        server.bodies["small"] = (b"ok", {})

        def both() -> bytes:
            with pytest.raises(ProviderError, match="larger than"):
                _get(server.url + "/big")
            resp = _get(server.url + "/small")  # the cut connection was not put back half read
            try:
                return resp.content
            finally:
                resp.close()

        assert _in_thread(both) == b"ok"


def test_transport_unknown_content_encoding_server_error() -> None:
    with _serving() as server:
        server.bodies["br"] = (b"\x00\x01", {"Content-Encoding": "br"})
        with pytest.raises(ProviderError) as caught:
            _in_thread(lambda: _get(server.url + "/br"))
    assert caught.value.category is Category.SERVER_ERROR
    assert "'br'" in str(caught.value)


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/x", "http:///nohost", "http://127.0.0.1:99999/x"])
def test_transport_url_not_http_with_host_client_error(url: str) -> None:
    with pytest.raises(ProviderError) as caught:
        _get(url)
    assert caught.value.category is Category.CLIENT_ERROR


TLS_CALL = """
import json, sys
from gate.providers import transport
from gate.providers.base import ProviderError
try:
    resp = transport.send("GET", sys.argv[1], timeout=10)
    print(json.dumps({"body": resp.json()}))
    resp.close()
except ProviderError as exc:
    print(json.dumps({"category": exc.category.value, "message": str(exc)}))
"""


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[_Server, Path]]:
    """The test server behind TLS, with a certificate for 127.0.0.1 that no public authority signed."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True, timeout=60)
    with _serving() as server:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        server.httpd.socket = context.wrap_socket(server.httpd.socket, server_side=True)
        server.bodies["t"] = (b'{"over": "tls"}', {"Content-Type": "application/json"})
        yield server, cert


def _tls_call(url: str, **env: str) -> dict[str, Any]:
    clean = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")}
    proc = subprocess.run([sys.executable, "-c", TLS_CALL, url], env={**clean, **env}, capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def test_transport_https_verified_against_the_bundle_the_environment_names(tls_server: tuple[_Server, Path]) -> None:
    server, cert = tls_server
    url = server.url.replace("http://", "https://") + "/t"
    assert _tls_call(url, REQUESTS_CA_BUNDLE=str(cert)) == {"body": {"over": "tls"}}
    # Without it, certifi's authorities do not know the certificate: refused, never read unverified.
    refused = _tls_call(url)
    assert refused["category"] == "transport.connection"
    assert refused["message"].startswith(f"cannot connect to {url}: its TLS certificate is not trusted (")
    assert refused["message"].endswith("; a private authority's bundle goes in REQUESTS_CA_BUNDLE)")
