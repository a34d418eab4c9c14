"""run_all against a real server and real processes: order, concurrency, rate limit, retries, Ctrl-C."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import textwrap
import threading
import time
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from servers.openai_fake import Behaviour, Fault, echo_last_user, serve

from gate.models import ModelConfig
from gate.progress import StreamProgress
from gate.providers.base import Category, ChatMessage, ProviderError, Request, Response
from gate.providers.executor import run_all
from gate.providers.limits import Backoff
from gate.providers.openai import OpenAIProvider
from tests.conftest import alive

FAST = Backoff(base_s=0.01, cap_s=0.05)
TESTS = Path(__file__).resolve().parent.parent


def asks(n: int) -> list[Request]:
    return [Request(messages=(ChatMessage("user", f"question {i}"),), case_id=f"c{i}") for i in range(n)]


def model(url: str, **kw: Any) -> OpenAIProvider:
    return OpenAIProvider(ModelConfig(name="m", provider="openai-compatible", model="fake", base_url=url + "/v1", **kw), {})


def uneven(body: dict[str, Any]) -> str:
    # Later questions answer sooner, so completion order differs from input order.
    text = echo_last_user(body)
    time.sleep((zlib.crc32(text.encode()) % 5) * 0.01)
    return text


def test_run_all_results_in_input_order() -> None:
    with serve(Behaviour(answer=uneven)) as srv:
        results = run_all(model(srv.url), asks(40), concurrency=8)
    assert [r.content for r in results if isinstance(r, Response)] == [f"You said: question {i}" for i in range(40)]


class Counting:
    """A python-side target that counts calls in flight: the concurrency bound, seen from the target."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = 0

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "counting"}

    def complete(self, request: Request) -> Response:
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        time.sleep(0.02)
        with self.lock:
            self.now -= 1
        return Response(content=str(request.case_id))


def test_run_all_concurrency_bound_never_exceeded() -> None:
    target = Counting()
    results = run_all(target, asks(60), concurrency=5)
    assert target.peak == 5 and len(results) == 60


def test_run_all_rpm_spaces_request_starts() -> None:
    with serve() as srv:
        started = time.monotonic()
        results = run_all(model(srv.url), asks(11), concurrency=8, rpm=1200)  # one start per 50 ms
        elapsed = time.monotonic() - started
        arrivals = sorted(r["at"] for r in srv.requests)
    assert all(isinstance(r, Response) for r in results)
    assert elapsed >= 0.5
    # Lower bounds only, so a loaded machine cannot break them: the k-th start is granted no sooner than
    # k intervals after the run began, and a request arrives after its start (gaps between two arrivals
    # can shrink when one thread is scheduled late, so they are not asserted).
    assert all(at - started >= k * 0.05 for k, at in enumerate(arrivals))


def test_run_all_429_retry_after_honoured_by_every_worker() -> None:
    # The other workers' answers take 0.4 s: time enough, even on a loaded machine, for the worker that got
    # the 429 to set the shared hold before any of them asks for its next start.
    behaviour = Behaviour(latency_s=0.4, faults=[Fault("status", status=429, headers={"Retry-After": "1"})])
    with serve(behaviour) as srv:
        results = run_all(model(srv.url), asks(8), concurrency=4, backoff=FAST)
        arrivals = sorted(r["at"] for r in srv.requests)
    assert all(isinstance(r, Response) for r in results)
    assert sorted(r.attempts for r in results if isinstance(r, Response)) == [1] * 7 + [2]
    assert len(arrivals) == 9
    # The 429 came first and at once; everything sent after it waited for the server's second.
    assert all(t - arrivals[0] >= 0.95 for t in arrivals[4:])


def test_run_all_500_retried_400_not_retried() -> None:
    with serve(Behaviour(faults=[Fault("status", status=500, times=2)])) as srv:
        [ok] = run_all(model(srv.url), asks(1), retries=3, backoff=FAST)
        assert isinstance(ok, Response) and ok.attempts == 3 and len(srv.requests) == 3
    with serve(Behaviour(faults=[Fault("status", status=400, times=5)])) as srv:
        [bad] = run_all(model(srv.url), asks(1), retries=3, backoff=FAST)
        assert isinstance(bad, ProviderError) and bad.category is Category.CLIENT_ERROR
        assert bad.attempts == 1 and len(srv.requests) == 1


def test_run_all_retries_exhausted_error_result_with_attempts() -> None:
    with serve(Behaviour(error_every=1, error_status=503)) as srv:
        results = run_all(model(srv.url), asks(3), retries=2, backoff=FAST)
    assert [(r.category, r.attempts) for r in results if isinstance(r, ProviderError)] == [
        (Category.SERVER_ERROR, 3)] * 3


def test_run_all_timeout_per_attempt_then_retry_succeeds() -> None:
    # A per-attempt limit wide enough for a healthy answer on a busy machine; the retry ends long before the hang.
    with serve(Behaviour(faults=[Fault("hang", seconds=10)])) as srv:
        started = time.monotonic()
        [r] = run_all(model(srv.url), asks(1), retries=1, timeout=1.5, backoff=FAST)
        assert isinstance(r, Response) and r.attempts == 2 and time.monotonic() - started < 8
    with serve(Behaviour(faults=[Fault("hang", seconds=3)])) as srv:
        [e] = run_all(model(srv.url), asks(1), retries=0, timeout=0.3)
        assert isinstance(e, ProviderError) and e.category is Category.TIMEOUT


def test_run_all_progress_one_line_per_tenth_in_logs() -> None:
    out = io.StringIO()
    with serve() as srv:
        run_all(model(srv.url), asks(20), progress=StreamProgress(out, tty=False), label="suite faq")
    lines = out.getvalue().splitlines()
    assert lines[0] == "suite faq: 0/20 (0%)" and lines[-1] == "suite faq: 20/20 (100%)" and len(lines) == 11


def test_run_all_bug_in_provider_raised_to_caller() -> None:
    class Broken(Counting):
        def complete(self, request: Request) -> Response:
            raise ValueError("a bug, not a transport failure")

    with pytest.raises(ValueError, match="a bug"):
        run_all(Broken(), asks(5))
    assert run_all(Broken(), []) == []


INTERRUPTED = """
import os, sys
sys.path.insert(0, {tests!r})
from gate.providers.base import Request
from gate.providers.command import CommandProvider
from gate.providers.executor import run_all
provider = CommandProvider([sys.executable, "sleepy.py"], __import__("pathlib").Path({folder!r}), dict(os.environ))
try:
    run_all(provider, [Request(case_id=str(i)) for i in range(6)], concurrency=2)
except KeyboardInterrupt:
    print("interrupted", flush=True)
    sys.exit(130)
"""


def test_run_all_ctrl_c_stops_fast_and_kills_programs(tmp_path: Path) -> None:
    (tmp_path / "sleepy.py").write_text(textwrap.dedent("""
        import json, os, sys, time
        case = json.load(sys.stdin)
        open(f"pid-{case['id']}", "w").write(str(os.getpid()))
        time.sleep(60)
    """), encoding="utf-8")
    script = tmp_path / "run.py"
    script.write_text(INTERRUPTED.format(tests=str(TESTS), folder=str(tmp_path)), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while len(list(tmp_path.glob("pid-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    pids = [int(p.read_text() or 0) for p in tmp_path.glob("pid-*")]
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=10)
    assert (proc.returncode, out.strip()) == (130, "interrupted")
    assert time.monotonic() - sent < 3
    assert len(pids) == 2 and not any(alive(pid) for pid in pids)
    assert len(list(tmp_path.glob("pid-*"))) == 2  # no new case started after Ctrl-C

