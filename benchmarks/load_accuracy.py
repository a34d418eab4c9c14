"""Accuracy of the load check at 20 concurrent streams: measured latency and TTFT against the server's own clock.

Run by hand: python benchmarks/load_accuracy.py [--runs 3] [--users 20] [--duration 10]. A streaming
OpenAI-compatible server (its own process, pinned to CPU 1) draws each answer's time to first token
from a log-normal (median 250 ms) and sends 30 tokens 10 ms apart, and logs for every request the
time from reading it to its first content byte and to its last byte. The gate (pinned to CPU 0)
runs its openai-chat scenario with `users` concurrent streams and no warm-up, so both sides see the
same requests. Target: the gate's p50/p95/p99 of latency and TTFT within 5% of the server's.
For contrast, locust's own rounded percentile of a plain request is not used anywhere.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from load_bench import free_port, percentile, pinned, wait_up

REPO = Path(__file__).resolve().parent.parent
TOKENS, TPOT_S = 30, 0.010
GATE = """version: 1
load:
  target: {{url: "{url}"}}
  chat: {{dataset: messages.jsonl}}
  users: {users}
  spawn_rate: {users}
  duration: {duration}s
"""


def serve(port: int, log: Path) -> None:
    lock = threading.Lock()
    rng = random.Random(1)
    out = log.open("w", encoding="utf-8")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            t0 = time.perf_counter()
            with lock:
                ttft = rng.lognormvariate(-1.386, 0.35)  # median e^-1.386 = 250 ms
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            first = 0.0
            for i in range(TOKENS):
                time.sleep(ttft if i == 0 else TPOT_S)
                self._event({"choices": [{"index": 0, "delta": {"content": f" t{i}"}}]})
                first = first or time.perf_counter()
            self._event({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                         "usage": {"completion_tokens": TOKENS}})
            self._event("[DONE]")
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            done = time.perf_counter()
            with lock:
                out.write(json.dumps({"ttft_ms": (first - t0) * 1000, "ms": (done - t0) * 1000}) + "\n")
                out.flush()

        def _event(self, event: Any) -> None:
            data = b"data: " + (event.encode() if isinstance(event, str) else json.dumps(event).encode()) + b"\n\n"
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 1024

    Server(("127.0.0.1", port), Handler).serve_forever()


def one_run(users: int, duration: float, folder: Path) -> dict[str, Any]:
    port = free_port()
    log = folder / "server.jsonl"
    server = subprocess.Popen(pinned(1, [sys.executable, __file__, "--serve", str(port), "--log", str(log)]))
    try:
        wait_up(port)
        (folder / "messages.jsonl").write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
        (folder / "gate.yaml").write_text(GATE.format(url=f"http://127.0.0.1:{port}", users=users,
                                                      duration=duration), encoding="utf-8")
        proc = subprocess.run(pinned(0, [sys.executable, "-m", "gate", "check", "--only", "load", "--format", "json"]),
                              cwd=folder, capture_output=True, text=True, check=False)
    finally:
        server.terminate()
        server.wait()
    check = next(c for c in json.loads(proc.stdout)["checks"] if c["name"] == "load")
    if check["status"] == "error":
        raise SystemExit(f"the load check did not complete: {check['summary']}")
    truth = [json.loads(line) for line in log.read_text().splitlines()]
    (process,) = check["details"]["generator"]["processes"]
    out: dict[str, Any] = {"gate_requests": check["metrics"]["completed"], "server_requests": len(truth),
                           "cpu": process["cpu_s"] / process["wall_s"]}
    for metric, key in (("latency", "latency_ms"), ("ttft", "ttft_ms")):
        for p in (50, 95, 99):
            measured = check["metrics"][key][f"p{p}"]
            true = percentile([t["ms" if metric == "latency" else "ttft_ms"] for t in truth], p)
            out[f"{metric} p{p}"] = (measured, true, measured / true - 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--log", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.log)
        return
    runs = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(one_run(args.users, args.duration, Path(tmp)))
        r = runs[-1]
        print(f"run {i + 1}: {r['gate_requests']} requests measured, {r['server_requests']} served, "
              f"generator CPU {r['cpu']:.0%}; "
              + ", ".join(f"{k} {v[0]:.1f} vs {v[1]:.1f} ms ({v[2]:+.1%})" for k, v in r.items() if " p" in k),
              flush=True)
    print(f"\nmedian of {args.runs} runs at {args.users} concurrent streams (gate vs server, error):")
    for key in [k for k in runs[0] if " p" in k]:
        m = statistics.median(r[key][0] for r in runs)
        t = statistics.median(r[key][1] for r in runs)
        worst = max(abs(r[key][2]) for r in runs)
        print(f"  {key}: {m:.1f} ms vs {t:.1f} ms, median error {m / t - 1:+.1%}, worst run {worst:.1%} (target 5%)")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
