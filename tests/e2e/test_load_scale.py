"""Beyond one process: `workers` (locust --processes) and locust's master/worker mode, on loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import gate
from tests.servers.load_support import load_result, write_load_repo
from tests.servers.openai_fake import Behaviour, serve
from tests.servers.ports import listen_port


def test_load_workers_open_loop_rate_shared_by_processes(tmp_path: Path) -> None:
    # What the test proves is the sharing, counted: not a rate hit in a short window (a busy machine delays
    # requests, and a late one is the generator's lag, measured elsewhere), hence a lenient max_lag.
    with serve(Behaviour(latency_s=0.02)) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "chat": {"dataset": "messages.jsonl",
                                                                           "stream": False},
                                   "workers": 2, "users": 4, "arrival_rate": 20, "warmup": "0.5s", "duration": "2s",
                                   "max_lag": "2s", "thresholds": {"error_rate": ["rate < 1%"]}})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
        served = server.count
    check = load_result(tmp_path / "r.json")
    assert res.exit_code == 0, check["summary"]
    processes = check["details"]["generator"]["processes"]
    assert sorted(p["proc"] for p in processes) == [0, 1] and {p["role"] for p in processes} == {"worker"}
    assert len({p["pid"] for p in processes}) == 2
    assert check["details"]["run"]["processes"] == 2
    # Each process takes every other slot of one schedule of 20/s over 2.5 s (50 slots): each takes its half
    # (and each user one more, the slot past the end that stops it), and the server sees the one schedule,
    # not one per process (100).
    slots = sorted(p["slots"] for p in processes)
    assert slots[0] >= 25 and slots[1] <= 25 + 4, slots
    assert 40 <= served <= 50 + 4, served
    assert check["metrics"]["intended_rps"] == 20


def test_load_distributed_master_and_two_workers(tmp_path: Path) -> None:
    port = listen_port()
    # The wait for workers bounds a failure; it is not what the test measures: three Pythons importing locust on a
    # busy machine took over 20 s to meet once.
    with serve(Behaviour(ttft_s=0.05, token_interval_s=0.005)) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "users": 4, "duration": "2s",
                                   "distributed": {"workers": 2, "bind_host": "127.0.0.1", "bind_port": port,
                                                   "wait": "90s"},
                                   "thresholds": {"ttft": ["p(95) < 1s"], "completed": ["count >= 20"]}})
        master = subprocess.Popen([sys.executable, "-m", "gate", "check", "-c", "gate.yaml", "--only", "load",
                                   "--report-json", "r.json"], cwd=tmp_path, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        # Workers as on other hosts: they fetch the locustfile from the master (`-f -`) and get the
        # scenario with the run's options.
        workers = [subprocess.Popen([sys.executable, "-m", "locust", "-f", "-", "--worker", "--master-host",
                                     "127.0.0.1", "--master-port", str(port)], cwd=tmp_path,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for _ in range(2)]
        try:
            _, err = master.communicate(timeout=180)
            codes = [w.wait(timeout=30) for w in workers]
        finally:
            for proc in (master, *workers):
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
    summary = load_result(tmp_path / "r.json")["summary"] if (tmp_path / "r.json").exists() else ""
    assert master.returncode == 0, (summary, err[-2000:])
    assert codes == [0, 0]  # workers leave when the run is over
    check = load_result(tmp_path / "r.json")
    processes = check["details"]["generator"]["processes"]
    assert sorted(p["proc"] for p in processes) == [0, 1]
    assert {p["pid"] for p in processes} == {w.pid for w in workers}
    assert check["details"]["run"]["distributed"] is True
    assert 50 * 0.99 <= check["metrics"]["ttft_ms"]["p50"] < 100  # the server's 50 ms, plus a busy machine's delay


def test_load_distributed_no_worker_exit_3(tmp_path: Path) -> None:
    with serve(Behaviour()) as server:
        write_load_repo(tmp_path, {"target": {"url": server.url}, "users": 2, "duration": "1s",
                                   "distributed": {"workers": 2, "bind_host": "127.0.0.1", "bind_port": listen_port(),
                                                   "wait": "2s"}})
        t0 = time.monotonic()
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 3, res.stderr
    assert time.monotonic() - t0 < 30
    check = load_result(tmp_path / "r.json")
    assert check["status"] == "error"
    assert "could not complete: " in check["summary"] and "worker" in check["summary"]


def test_load_distributed_port_in_use_is_said_in_words(tmp_path: Path) -> None:
    port = listen_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken, serve(Behaviour()) as server:
        taken.bind(("127.0.0.1", port))
        taken.listen()
        write_load_repo(tmp_path, {"target": {"url": server.url}, "users": 2, "duration": "1s",
                                   "distributed": {"workers": 1, "bind_host": "127.0.0.1", "bind_port": port,
                                                   "wait": "5s"}})
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=tmp_path)
    assert res.exit_code == 3, res.stderr
    summary = load_result(tmp_path / "r.json")["summary"]
    assert f"could not listen on 127.0.0.1:{port}: the port is in use (load.distributed.bind_port)" in summary
    assert "Traceback" not in summary and "^^^" not in summary
