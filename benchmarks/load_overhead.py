"""The load check's own overhead: achieved rps against a trivial endpoint, gate vs plain locust, one core each.

Run by hand: python benchmarks/load_overhead.py [--runs 3] [--users 20] [--duration 10]. A trivial
HTTP endpoint (a gevent keep-alive responder, 2 bytes per answer) runs pinned to CPU 1; the generator is
pinned to CPU 0. Plain locust runs a FastHttpUser that GETs `/` (`--run-time`, `--json-file`); the
gate runs its http scenario (the same FastHttpUser with catch_response, the recorder and raw samples
sent to the file) for the same users and duration. Runs alternate, and the medians are compared:
target >= 90% of plain locust's rps. The gate's figure is also the generator's capacity on one core
when the generator process is near 100% CPU (printed).
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from load_bench import free_port, pinned, wait_up

REPO = Path(__file__).resolve().parent.parent
PLAIN = """
from locust import FastHttpUser, task

class Plain(FastHttpUser):
    @task
    def get(self):
        self.client.get("/")
"""
GATE = """version: 1
load:
  target: {{url: "{url}"}}
  scenario: http
  http: {{method: GET, path: /}}
  users: {users}
  duration: {duration}s
  timeout: 5s
"""


def serve(port: int) -> None:
    """A keep-alive HTTP/1.1 responder: each request's answer in one write (no Nagle stalls), nothing else."""
    from gevent.server import StreamServer

    answer = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"

    def handle(sock: socket.socket, _: object) -> None:
        buffer = b""
        while True:
            try:
                data = sock.recv(65536)
            except OSError:
                return  # the generator dropped its connections at the end of a run
            if not data:
                return
            buffer += data
            while b"\r\n\r\n" in buffer:  # GETs only: a request ends with its headers
                _, buffer = buffer.split(b"\r\n\r\n", 1)
                sock.sendall(answer)

    StreamServer(("127.0.0.1", port), handle, backlog=2048).serve_forever()


def plain_locust(url: str, users: int, duration: float, folder: Path) -> float:
    (folder / "plain.py").write_text(PLAIN, encoding="utf-8")
    out = folder / "plain.json"
    subprocess.run(pinned(0, [sys.executable, "-m", "locust", "-f", str(folder / "plain.py"), "--headless",
                              "--host", url, "-u", str(users), "-r", str(users), "--run-time", f"{duration:g}s",
                              "--json-file", str(out.with_suffix("")), "--only-summary"]),
                   cwd=folder, capture_output=True, check=True)
    (stats,) = json.loads(out.read_text())
    return float(stats["num_requests"]) / (stats["last_request_timestamp"] - stats["start_time"])


def gate_run(url: str, users: int, duration: float, folder: Path) -> tuple[float, float]:
    (folder / "gate.yaml").write_text(GATE.format(url=url, users=users, duration=duration), encoding="utf-8")
    proc = subprocess.run(pinned(0, [sys.executable, "-m", "gate", "check", "--only", "load", "--format", "json"]),
                          cwd=folder, capture_output=True, text=True, check=False)
    check = next(c for c in json.loads(proc.stdout)["checks"] if c["name"] == "load")
    (process,) = check["details"]["generator"]["processes"]
    return float(check["metrics"]["achieved_rps"]), process["cpu_s"] / process["wall_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    server = subprocess.Popen(pinned(1, [sys.executable, __file__, "--serve", str(port)]))
    url = f"http://127.0.0.1:{port}"
    plain: list[float] = []
    gated: list[float] = []
    cpu: list[float] = []
    try:
        wait_up(port)
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(args.runs):
                plain.append(plain_locust(url, args.users, args.duration, Path(tmp)))
                rps, share = gate_run(url, args.users, args.duration, Path(tmp))
                gated.append(rps)
                cpu.append(share)
                print(f"run {i + 1}: plain locust {plain[-1]:,.0f} rps, gate {gated[-1]:,.0f} rps "
                      f"(generator CPU {share:.0%})", flush=True)
    finally:
        server.terminate()
        server.wait()
    p, g = statistics.median(plain), statistics.median(gated)
    print(f"\nmedian of {args.runs}: plain locust {p:,.0f} rps, gate {g:,.0f} rps = {g / p:.0%} of plain "
          f"(target >= 90%); generator CPU {statistics.median(cpu):.0%} of one core")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
