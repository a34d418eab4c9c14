"""The retrieval check's speed, run by hand (not a test):

    python benchmarks/retrieval_bench.py            # both figures
    python benchmarks/retrieval_bench.py --queries 10000 --depth 100 --http 500
    python benchmarks/retrieval_bench.py --queries 0 --http 500     # the http target alone (0 skips a part)

1. measures, comparison with a baseline and drift for N queries x depth D (synthetic rankings and judgements);
2. an http target answering in 20 ms, N queries at concurrency 16, against the ideal N / 16 * 20 ms, with the
   gate's CPU per query, and bare http.client threads on the same server for what the machine allows."""

from __future__ import annotations

import argparse
import json
import random
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prodgate_checks.retrieval.baseline import Baseline
from prodgate_checks.retrieval.compare import analyse
from prodgate_checks.retrieval.config import Drift, ResultShape, RetrievalConfig
from prodgate_checks.retrieval.inputs import Query
from prodgate_checks.retrieval.measures import compute


def _config(kind: str = "run", **kw: Any) -> RetrievalConfig:
    from pathlib import Path

    return RetrievalConfig(target={}, kind=kind, queries=Path("q"), qrels=Path("r"), corpus=None, run_file=None,
                           results=ResultShape(), **kw)


def bench_measures(n: int, depth: int) -> None:
    rng = random.Random(0)
    queries = {f"q{i}": Query(f"q{i}", f"query {i}", None, i + 1) for i in range(n)}
    qrels = {q: {f"d{rng.randrange(5000)}": rng.choice((1, 2)) for _ in range(8)} for q in queries}
    head = {q: tuple(dict.fromkeys(f"d{rng.randrange(5000)}" for _ in range(depth * 2)))[:depth] for q in queries}
    # The base run: the same rankings with a tenth of the queries reshuffled.
    base_rank = {q: (tuple(rng.sample(r, len(r))) if rng.random() < 0.1 else r) for q, r in head.items()}
    cfg = _config(k=depth, drift=Drift(depth=depth))
    measures = (*cfg.measures, cfg.judged.measure)
    base_values = compute(measures, qrels, base_rank, queries)
    baseline = Baseline(base_values, base_rank, "bench")
    started = time.perf_counter()
    values = compute(measures, qrels, head, queries)
    measured = time.perf_counter()
    analysis = analyse(cfg, queries, values, head, qrels, baseline)
    done = time.perf_counter()
    print(f"{n} queries x depth {depth}: measures {measured - started:.2f} s, comparison + drift "
          f"{done - measured:.2f} s, total {done - started:.2f} s (drift: {analysis.drift['changed']} moved)")


class _Slow(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    delay = 0.02
    disable_nagle_algorithm = True  # headers and body are two writes: Nagle would hold the second

    def do_GET(self) -> None:  # noqa: N802
        time.sleep(self.delay)
        q = parse_qs(urlsplit(self.path).query).get("q", [""])[0]
        data = json.dumps({"results": [{"id": f"{q}-{i}", "score": 10 - i} for i in range(10)]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


def _serve(ready: Any) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Slow)
    server.daemon_threads = True
    ready.put(server.server_address[1])
    server.serve_forever()


def bench_http(n: int, concurrency: int = 16) -> None:
    import multiprocessing

    from prodgate_checks.retrieval.target import retrieve

    from gate.progress import silent
    from gate.providers.endpoint import HttpProvider

    # The server in a process of its own: in this one it would share the client's interpreter lock.
    ready: Any = multiprocessing.Queue()
    server = multiprocessing.Process(target=_serve, args=(ready,), daemon=True)
    server.start()
    url = f"http://127.0.0.1:{ready.get(timeout=10)}/search"
    provider = HttpProvider({"url": url, "method": "GET", "query": {"q": "{{query}}", "k": "{{k}}"}}, {})
    cfg = _config("http", k=10, concurrency=concurrency)
    queries = [Query(f"q{i}", f"q{i}", None, i + 1) for i in range(n)]
    started, cpu = time.perf_counter(), time.process_time()
    got = retrieve(provider, cfg, queries, silent())
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    floor, floor_cpu = _bare_clients(url, n, concurrency)
    ideal = n / concurrency * _Slow.delay
    server.terminate()
    server.join()
    print(f"http: {n} queries at 20 ms, concurrency {concurrency}: {took:.3f} s, ideal {ideal:.3f} s, "
          f"{took / ideal:.2f}x ({len(got.rankings)} ranked, {len(got.failed)} failed); the gate's CPU "
          f"{cpu / n * 1000:.2f} ms per query. Bare http.client threads on the same server: {floor:.3f} s, "
          f"{floor / ideal:.2f}x, {floor_cpu / n * 1000:.2f} ms CPU per query")


def _bare_clients(url: str, n: int, concurrency: int) -> tuple[float, float]:
    """The same calls from bare http.client connections (no pool, retries, limits or parsing of a ranking):
    what this machine allows at this moment, to read the gate's figure against."""
    import http.client
    import queue
    import socket
    import threading

    parts = urlsplit(url)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(n):
        todo.put(i)

    def work() -> None:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port)
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as urllib3 sets it
        while True:
            try:
                i = todo.get_nowait()
            except queue.Empty:
                break
            conn.request("GET", f"{parts.path}?q=q{i}&k=10")
            json.loads(conn.getresponse().read())
        conn.close()

    threads = [threading.Thread(target=work) for _ in range(concurrency)]
    started, cpu = time.perf_counter(), time.process_time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return time.perf_counter() - started, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--depth", type=int, default=100)
    parser.add_argument("--http", type=int, default=500)
    args = parser.parse_args()
    if args.queries:
        bench_measures(args.queries, args.depth)
    if args.http:
        bench_http(args.http)


if __name__ == "__main__":
    main()
