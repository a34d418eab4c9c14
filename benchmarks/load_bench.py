"""What the load benchmarks share: CPU pinning, a free port, waiting for a server, exact percentiles."""

from __future__ import annotations

import os
import shutil
import socket
import time

from prodgate_checks.load.stats import percentile as sorted_percentile
from prodgate_checks.load.target import free_port

__all__ = ["free_port", "percentile", "pinned", "wait_up"]


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if shutil.which("taskset") and (os.cpu_count() or 1) > 1 else argv


def wait_up(port: int, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"the benchmark's server on port {port} did not start")


def percentile(values: list[float], q: float) -> float:
    """The gate's own definition (numpy's linear interpolation), so truth and measurement compare alike."""
    return sorted_percentile(sorted(values), q)
