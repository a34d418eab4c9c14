"""The resilience proxy's own cost: added latency at p50 and streamed requests/s, direct vs through the proxy.

Run by hand: python benchmarks/resilience_proxy.py [--requests 2000] [--concurrency 32] [--rounds 3]. An aiohttp
upstream streams a short chat answer (6 SSE events, chunked, no delay); the proxy runs in its own process,
pinned to CPU 0 when taskset exists; the client and the upstream share the other core. Latency: one request
at a time, direct and proxied alternating, the medians compared (target: <= 1 ms added at p50). Throughput:
`--requests` streamed requests at `--concurrency`, direct and proxied, and the proxy's CPU time, giving the
streamed requests/s it serves per core (target: >= 1,500).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROXY = """
import sys, time
from prodgate_checks.resilience.proxy import Proxy, upstream_of
p = Proxy([upstream_of("up", sys.argv[1])])
p.start()
print(p.url("up"), flush=True)
time.sleep(3600)
"""
UPSTREAM = """
import asyncio, json, sys
from aiohttp import web
EVENTS = [b"data: " + json.dumps({"choices": [{"index": 0, "delta": {"content": w}}]}).encode() + b"\\n\\n"
          for w in ["Hello", " there,", " how", " can", " I", " help?"]]

async def chat(request):
    await request.read()
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await resp.prepare(request)
    for e in EVENTS:
        await resp.write(e)
    await resp.write(b"data: [DONE]\\n\\n")
    await resp.write_eof()
    return resp

app = web.Application()
app.router.add_post("/v1/chat/completions", chat)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""
BODY = b'{"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": true}'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else argv


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def one(session: object, url: str) -> float:
    from aiohttp import ClientSession

    assert isinstance(session, ClientSession)
    t0 = time.perf_counter()
    async with session.post(url, data=BODY, headers={"Content-Type": "application/json"}) as resp:
        async for _ in resp.content:
            pass
        assert resp.status == 200
    return time.perf_counter() - t0


async def latencies(direct: str, proxied: str, n: int) -> tuple[list[float], list[float]]:
    from aiohttp import ClientSession, TCPConnector

    a: list[float] = []
    b: list[float] = []
    async with ClientSession(connector=TCPConnector(limit=0)) as session:
        for _ in range(50):  # warm the connection pools
            await one(session, direct)
            await one(session, proxied)
        for _ in range(n):
            a.append(await one(session, direct))
            b.append(await one(session, proxied))
    return a, b


async def throughput(url: str, n: int, concurrency: int) -> float:
    from aiohttp import ClientSession, TCPConnector

    left = [n]
    async with ClientSession(connector=TCPConnector(limit=0)) as session:
        async def worker() -> None:
            while left[0] > 0:
                left[0] -= 1
                await one(session, url)

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return n / (time.perf_counter() - t0)


def wait_up(port: int) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listens on {port}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--latency-requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    port = free_port()
    upstream = subprocess.Popen(pinned(1, [sys.executable, "-c", UPSTREAM, str(port)]))
    proxy = None
    try:
        wait_up(port)
        direct = f"http://127.0.0.1:{port}/v1"
        proxy = subprocess.Popen(pinned(0, [sys.executable, "-c", PROXY, direct]), stdout=subprocess.PIPE, text=True,
                                 cwd=REPO)
        assert proxy.stdout is not None
        proxied = proxy.stdout.readline().strip()
        a, b = asyncio.run(latencies(direct + "/chat/completions", proxied + "/chat/completions",
                                     args.latency_requests))
        p50_direct, p50_proxied = statistics.median(a) * 1000, statistics.median(b) * 1000
        print(f"latency p50, one at a time ({args.latency_requests} each): direct {p50_direct:.2f} ms, "
              f"proxied {p50_proxied:.2f} ms, added {p50_proxied - p50_direct:.2f} ms")
        rows = []
        for _ in range(args.rounds):
            rps_direct = asyncio.run(throughput(direct + "/chat/completions", args.requests, args.concurrency))
            cpu0 = cpu_seconds(proxy.pid)
            t0 = time.perf_counter()
            rps_proxied = asyncio.run(throughput(proxied + "/chat/completions", args.requests, args.concurrency))
            wall = time.perf_counter() - t0
            cpu = cpu_seconds(proxy.pid) - cpu0
            rows.append((rps_direct, rps_proxied, args.requests / cpu if cpu else float("inf"), cpu / wall))
        med = [statistics.median(r[i] for r in rows) for i in range(4)]
        print(f"streamed requests/s at concurrency {args.concurrency} (median of {args.rounds}): direct {med[0]:.0f}, "
              f"proxied {med[1]:.0f}; the proxy serves {med[2]:.0f} per CPU-second of its own "
              f"(it used {100 * med[3]:.0f}% of a core)")
    finally:
        for p in (proxy, upstream):
            if p is not None:
                p.terminate()
                p.wait(10)


if __name__ == "__main__":
    main()
