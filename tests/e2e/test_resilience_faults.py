"""Each fault of the proxy as a client sees it: a real proxy in front of real OpenAI-compatible servers on loopback."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from prodgate_checks.resilience.faults import Fault, How, Kind, Plan
from prodgate_checks.resilience.proxy import Call, Proxy, upstream_of
from prodgate_checks.resilience.traffic import Traffic, run

from tests.conftest import EXAMPLE
from tests.servers.openai_fake import Behaviour, serve
from tests.servers.ports import listen_port


@dataclass(frozen=True)
class Seen:
    """One chat call as its client saw it."""

    status: int
    headers: dict[str, str]
    ttft_s: float | None  # to the first content token of a stream
    total_s: float
    done: bool  # the stream ended with [DONE]
    body: bytes


def call(base: str, model: str = "m1", stream: bool = True, timeout: float = 20) -> Seen:
    host, port = base.split("/")[2].split(":")
    path = "/" + base.split("/", 3)[3] + "/chat/completions"
    body = {"model": model, "messages": [{"role": "user", "content": "hello there"}], "stream": stream}
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    t0 = time.monotonic()
    try:
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        resp = conn.getresponse()
        headers = dict(resp.getheaders())
        if not stream or resp.status != 200:
            return Seen(resp.status, headers, None, time.monotonic() - t0, False, resp.read())
        ttft, done, raw = None, False, b""
        while True:
            line = resp.readline()
            if not line:
                break
            raw += line
            if line.startswith(b"data: [DONE]"):
                done = True
            elif line.startswith(b"data: {"):
                choices = json.loads(line[6:]).get("choices") or []
                if ttft is None and any((c.get("delta") or {}).get("content") for c in choices):
                    ttft = time.monotonic() - t0
        return Seen(resp.status, headers, ttft, time.monotonic() - t0, done, raw)
    finally:
        conn.close()


def settled(proxy: Proxy, n: int) -> list[Call]:
    """The proxy records a call once its answer is sent: the client may read it a moment before."""
    deadline = time.monotonic() + 10
    while len(proxy.calls()) < n and time.monotonic() < deadline:
        time.sleep(0.01)
    return proxy.calls()


@pytest.fixture
def upstream() -> Iterator[Any]:
    with serve(Behaviour(ttft_s=0.02)) as server:
        yield server


@pytest.fixture
def proxy(upstream: Any) -> Iterator[Proxy]:
    with Proxy([upstream_of("openai", upstream.url + "/v1")], hang_s=1.0) as p:
        yield p


def test_resilience_fault_slow_delays_first_token_by_its_ttfb_on_its_share(proxy: Proxy) -> None:
    ttfb, per_chunk = 1.0, 0.2
    proxy.begin(Plan((Fault(Kind.SLOW, share=0.5, ttfb_s=ttfb, per_chunk_s=per_chunk),), 5, time.monotonic()))
    seen = [call(proxy.url("openai")) for _ in range(10)]
    calls = settled(proxy, 10)
    assert all(s.status == 200 and s.done for s in seen)  # slow, but whole
    assert all(c.completed and c.status == 200 for c in calls)
    slowed = [s for s, c in zip(seen, calls, strict=True) if c.fault == "slow"]
    plain = [s for s, c in zip(seen, calls, strict=True) if c.fault is None]
    assert slowed and plain, [c.fault for c in calls]
    for s in slowed:
        # The headers wait `ttfb`, and the first content is at least one chunk later again.
        assert s.ttft_s is not None and ttfb + per_chunk <= s.ttft_s < ttfb + 20 * per_chunk + 3
    for s in plain:
        assert s.ttft_s is not None and s.ttft_s < ttfb  # the upstream's own 20 ms, far below the delay


@pytest.mark.parametrize("how", ["ttfb", "hang"])
def test_resilience_fault_held_call_ends_when_the_service_gives_up(upstream: Any, how: str) -> None:
    """A service that gives up on a held call: the proxy lets it go then, not at the end of the hold, and records
    that no status reached the service."""
    fault = Fault(Kind.SLOW, ttfb_s=30) if how == "ttfb" else Fault(Kind.OUTAGE, how=How.HANG)
    with Proxy([upstream_of("openai", upstream.url + "/v1")], hang_s=30) as proxy:
        proxy.begin(Plan((fault,), 0, time.monotonic()))
        with pytest.raises((OSError, http.client.HTTPException)):  # the service's own timeout
            call(proxy.url("openai"), timeout=0.5)
        [recorded] = settled(proxy, 1)
    assert (recorded.status, recorded.completed) == (None, False)
    assert recorded.duration_s < 15  # not the 30 s hold


def test_resilience_fault_flap_down_inside_its_window_up_outside(proxy: Proxy) -> None:
    down, every, edge = 1.0, 2.5, 0.25
    t0 = time.monotonic()
    proxy.begin(Plan((Fault(Kind.FLAP, down_s=down, every_s=every, status=502),), 0, t0))
    expected: list[bool | None] = []  # per call: down, up, or too near an edge of the window to say
    statuses = []
    while time.monotonic() - t0 < 2 * every + down:
        sent = time.monotonic() - t0
        status = call(proxy.url("openai"), stream=False).status
        back = time.monotonic() - t0
        statuses.append(status)
        inside = [edge < p < down - edge for p in (sent % every, back % every)]
        outside = [down + edge < p < every - edge for p in (sent % every, back % every)]
        same_cycle = sent // every == back // every
        expected.append(True if all(inside) and same_cycle else False if all(outside) and same_cycle else None)
        time.sleep(0.1)
    calls = settled(proxy, len(statuses))
    judged = [(e, s, c.fault) for e, s, c in zip(expected, statuses, calls, strict=True) if e is not None]
    assert sum(e for e, _, _ in judged) >= 3 and sum(not e for e, _, _ in judged) >= 3, expected
    for is_down, status, fault in judged:
        assert (status, fault) == ((502, "flap") if is_down else (200, None))


def test_resilience_fault_outage_of_a_whole_upstream_downs_every_model_on_it() -> None:
    with serve() as a, serve() as b, Proxy([upstream_of("A", a.url + "/v1"), upstream_of("B", b.url + "/v1")]) as p:
        p.begin(Plan((Fault(Kind.OUTAGE, upstream="A"),), 0, time.monotonic()))
        on_a = [call(p.url("A"), model, stream=False).status for model in ("m1", "m2", "other")]
        on_b = [call(p.url("B"), model, stream=False).status for model in ("m1", "m2", "other")]
        calls = settled(p, 6)
    assert on_a == [503, 503, 503] and on_b == [200, 200, 200]
    assert a.requests == [] and len(b.requests) == 3  # a downed upstream is never reached
    assert [(c.upstream, c.fault) for c in calls] == [("A", "outage")] * 3 + [("B", None)] * 3


@pytest.mark.parametrize("stream", [True, False])
def test_resilience_fault_malformed_is_invalid_json_to_the_client(proxy: Proxy, stream: bool) -> None:
    proxy.begin(Plan((Fault(Kind.MALFORMED, model="m1"),), 0, time.monotonic()))
    bodies = [{"model": "m1", "messages": [{"role": "user", "content": "hi"}]},
              {"model": "m2", "messages": [{"role": "user", "content": "hi"}]}]
    traffic = Traffic(proxy.url("openai"), "/chat/completions", bodies, stream, 10, "X-Request-Id", {})
    broken, fine = run(traffic, "malformed", 2, 1, 30)
    assert (broken.ok, broken.status, broken.category) == (False, 200, "output.invalid_json")
    assert fine.ok and fine.category is None
    assert [c.fault for c in settled(proxy, 2)] == ["malformed", None]


def test_resilience_fault_rate_limit_answers_429_with_retry_after(proxy: Proxy, upstream: Any) -> None:
    proxy.begin(Plan((Fault(Kind.RATE_LIMIT, retry_after_s=1.5),), 0, time.monotonic()))
    for stream in (True, False):
        seen = call(proxy.url("openai"), stream=stream)
        assert (seen.status, seen.headers["Retry-After"]) == (429, "1.5")
        assert json.loads(seen.body)["error"]["code"] == "rate_limit_exceeded"
    assert upstream.requests == []
    assert [(c.status, c.fault, c.completed) for c in settled(proxy, 2)] == [(429, "rate_limit", False)] * 2


def test_resilience_proxy_hang_outliving_its_scenario_is_recorded_in_its_own(upstream: Any) -> None:
    with Proxy([upstream_of("openai", upstream.url + "/v1")], hang_s=3.0) as proxy:
        proxy.begin(Plan((Fault(Kind.OUTAGE, how=How.HANG),), 0, time.monotonic()))
        held: list[float] = []

        def hang() -> None:
            t0 = time.monotonic()
            with pytest.raises((OSError, http.client.HTTPException)):
                call(proxy.url("openai"), stream=False)
            held.append(time.monotonic() - t0)

        hung = threading.Thread(target=hang)
        hung.start()
        time.sleep(1.0)  # the hang is held; the next scenario starts before it ends
        proxy.begin(Plan((), 0, time.monotonic()))
        assert call(proxy.url("openai"), stream=False).status == 200
        hung.join(15)
        assert held and held[0] >= 2.5  # it was held through the change of scenario
        time.sleep(0.3)
        assert [(c.fault, c.status) for c in proxy.calls()] == [(None, 200)]


def test_resilience_fault_rate_limit_retry_after_reaches_the_service_which_waits_it_out(upstream: Any) -> None:
    """The example service, rate-limited on the one model it may use, waits the Retry-After before its retry."""
    port = listen_port()
    with Proxy([upstream_of("openai", upstream.url + "/v1")]) as proxy:
        proc = subprocess.Popen([sys.executable, str(EXAMPLE / "app.py"), "--port", str(port), "--no-fallback"],
                                env={**os.environ, "OPENAI_BASE_URL": proxy.url("openai")}, stdout=subprocess.PIPE,
                                text=True)
        try:
            assert proc.stdout is not None and proc.stdout.readline().startswith("support-bot on")
            proxy.begin(Plan((Fault(Kind.RATE_LIMIT, retry_after_s=1.5),), 0, time.monotonic()))
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20)
            conn.request("POST", "/chat", json.dumps({"messages": [{"role": "user", "content": "hi"}]}),
                         {"Content-Type": "application/json", "X-Request-Id": "r-1"})
            resp = conn.getresponse()
            status, body = resp.status, json.loads(resp.read())
            conn.close()
        finally:
            proc.terminate()
            proc.wait(10)
            if proc.stdout:
                proc.stdout.close()
        first, second = settled(proxy, 2)
    assert status == 503 and "HTTP 429" in body["error"]["message"]
    assert (first.fault, second.fault, first.request_id) == ("rate_limit", "rate_limit", "r-1")
    assert 1.4 <= second.t_s - first.t_s < 10  # it waited the 1.5 s it was told to


def test_resilience_fault_rate_limit_holds_for_the_request_until_its_retry_after(proxy: Proxy) -> None:
    """`share` draws which calls meet the limit; a request told to wait that comes back early is refused again, as
    a provider would, whatever the next draw. Another request, or the same one after its wait, draws as before."""
    # Seed 2 draws 0.150, 0.946, 0.643: a 429, then two calls let through.
    proxy.begin(Plan((Fault(Kind.RATE_LIMIT, model="m1", share=0.5, retry_after_s=1.5),), 2, time.monotonic()))
    host, port = proxy.url("openai").split("/")[2].split(":")

    def ask(rid: str) -> int:
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
        try:
            conn.request("POST", "/v1/chat/completions", json.dumps({"model": "m1", "messages": []}),
                         {"Content-Type": "application/json", "X-Request-Id": rid})
            resp = conn.getresponse()
            resp.read()
            return resp.status
        finally:
            conn.close()

    assert [ask("r-1"), ask("r-1"), ask("r-2")] == [429, 429, 200]
    time.sleep(1.6)  # r-1's Retry-After is up
    assert ask("r-1") == 200
    calls = settled(proxy, 4)
    assert [(c.request_id, c.status, c.fault) for c in calls] == [
        ("r-1", 429, "rate_limit"), ("r-1", 429, "rate_limit"), ("r-2", 200, None), ("r-1", 200, None)]


def test_resilience_proxy_calls_sharing_keep_alive_connections_each_recorded_once(proxy: Proxy) -> None:
    """Services keep their provider connections open: four workers, each one connection for all its calls, some
    rate-limited on the way. Every call is recorded once, with its own request id, and every answer as whole."""
    proxy.begin(Plan((Fault(Kind.RATE_LIMIT, model="m1", share=0.5, retry_after_s=0),), 0, time.monotonic()))
    host, port = proxy.url("openai").split("/")[2].split(":")
    seen: list[tuple[str, int, bool]] = []

    def worker(w: int) -> None:
        conn = http.client.HTTPConnection(host, int(port), timeout=20)
        try:
            for i in range(6):
                for model in ("m1", "m2"):  # rate-limited on m1: on to m2, on the same connection
                    conn.request("POST", "/v1/chat/completions", json.dumps(
                        {"model": model, "stream": True, "messages": [{"role": "user", "content": "hi there"}]}),
                        {"Content-Type": "application/json", "X-Request-Id": f"w{w}-{i}"})
                    resp = conn.getresponse()
                    body = resp.read()
                    seen.append((f"w{w}-{i}", resp.status, body.rstrip().endswith(b"data: [DONE]")))
                    if resp.status == 200:
                        break
        finally:
            conn.close()

    workers = [threading.Thread(target=worker, args=(w,)) for w in range(4)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    calls = settled(proxy, len(seen))
    assert len(seen) > 24 and {s for _, s, _ in seen} == {200, 429}
    assert sorted((c.request_id or "", c.status or 0, c.completed) for c in calls) == sorted(seen)
