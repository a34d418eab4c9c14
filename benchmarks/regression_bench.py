"""Shared by the regression benchmarks: the fake OpenAI server as its own process, and timing helpers."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FAKE = REPO / "tests" / "servers" / "openai_fake.py"


@contextmanager
def fake_server(latency_s: float) -> Iterator[str]:
    """The test suite's OpenAI-compatible server in a process of its own, so the client under test
    and the server do not share an interpreter lock. Yields its base URL."""
    proc = subprocess.Popen([sys.executable, str(FAKE), "--latency", str(latency_s)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        if not url.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the fake server did not start: {url!r}")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def served(url: str) -> int:
    """Requests the fake server has answered so far."""
    with urllib.request.urlopen(url + "/stats", timeout=5) as resp:
        return int(json.load(resp)["requests"])


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def median(samples: list[float]) -> float:
    return statistics.median(samples)
