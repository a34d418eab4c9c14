"""The service under test as real processes: ready, never ready, dying, and always stopped with its children."""

from __future__ import annotations

import sys
import textwrap
import time
from pathlib import Path

import pytest
from prodgate_checks.load.config import TargetConfig
from prodgate_checks.load.target import TargetFailed, running_target, tail

from gate.errors import CheckIncomplete
from tests.conftest import alive

# A service that starts a grandchild, writes both pids, and serves /healthz only if told to.
SERVICE = textwrap.dedent("""
    import http.server, subprocess, sys, time
    port, serve, pids = int(sys.argv[1]), sys.argv[2] == "serve", sys.argv[3]
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    open(pids, "w").write(f"{__import__('os').getpid()} {child.pid}")
    print("service starting", flush=True)
    if serve:
        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200); self.end_headers()
            def log_message(self, *a):
                pass
        http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
    time.sleep(120)
""")


def config(tmp_path: Path, mode: str, **kw: object) -> TargetConfig:
    script = tmp_path / "service.py"
    script.write_text(SERVICE, encoding="utf-8")
    base: dict[str, object] = dict(url="http://127.0.0.1:{port}", ready="/healthz", ready_timeout_s=10.0,
                                   start=("{python}", str(script), "{port}", mode, str(tmp_path / "pids")))
    base.update(kw)
    return TargetConfig(**base)  # type: ignore[arg-type]


def pids(tmp_path: Path) -> list[int]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        text = (tmp_path / "pids").read_text() if (tmp_path / "pids").exists() else ""
        if len(text.split()) == 2:
            return [int(p) for p in text.split()]
        time.sleep(0.05)
    raise AssertionError("the service never wrote its pids")


def gone(pid_list: list[int], within: float = 5.0) -> bool:
    deadline = time.monotonic() + within
    while any(alive(p) for p in pid_list) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not any(alive(p) for p in pid_list)


def test_running_target_ready_then_stopped_with_children(tmp_path: Path) -> None:
    with running_target(config(tmp_path, "serve"), tmp_path, tmp_path / "log") as target:
        assert target.url.startswith("http://127.0.0.1:") and "{port}" not in target.url
        started = pids(tmp_path)
        assert all(alive(p) for p in started)
        assert target.exit_code() is None
    assert gone(started)
    assert "service starting" in (tmp_path / "log").read_text()


def test_running_target_never_ready_incomplete_and_no_process_left(tmp_path: Path) -> None:
    cfg = config(tmp_path, "hang", ready_timeout_s=1.0)
    with pytest.raises(CheckIncomplete) as err:
        with running_target(cfg, tmp_path, tmp_path / "log"):
            pytest.fail("must not be reached")
    message = err.value.message
    assert "never became ready" in message and "/healthz" in message and "ready_timeout" in message
    # The last lines of its log go with the error, not in its message (a summary the PR comment shows).
    assert isinstance(err.value, TargetFailed) and "service starting" in err.value.log_tail
    assert "service starting" not in message
    assert gone(pids(tmp_path))


def test_running_target_start_exits_incomplete_with_code_and_log(tmp_path: Path) -> None:
    cfg = TargetConfig(url="http://127.0.0.1:{port}", ready_timeout_s=10.0,
                       start=f"{sys.executable} -c \"import sys; print('boom: address in use'); sys.exit(4)\"")
    t0 = time.monotonic()
    with pytest.raises(CheckIncomplete) as err:
        with running_target(cfg, tmp_path, tmp_path / "log"):
            pass
    assert err.value.message == "the target's start command exited with code 4 before it was ready"
    assert isinstance(err.value, TargetFailed) and err.value.log_tail == ["boom: address in use"]
    assert time.monotonic() - t0 < 5  # noticed at once, not after the ready timeout


def test_running_target_error_inside_stops_service(tmp_path: Path) -> None:
    with pytest.raises(KeyboardInterrupt):
        with running_target(config(tmp_path, "serve"), tmp_path, tmp_path / "log"):
            started = pids(tmp_path)
            raise KeyboardInterrupt  # what Ctrl-C (or SIGTERM, turned into it) does mid-run
    assert gone(started)


def test_running_target_unknown_command_incomplete(tmp_path: Path) -> None:
    cfg = TargetConfig(url="http://127.0.0.1:{port}", start="no-such-program-xyz --port {port}")
    with pytest.raises(CheckIncomplete) as err:
        with running_target(cfg, tmp_path, tmp_path / "log"):
            pass
    assert "cannot run 'no-such-program-xyz'" in err.value.message


def test_running_target_without_start_unreachable_incomplete(tmp_path: Path) -> None:
    from prodgate_checks.load.target import free_port

    cfg = TargetConfig(url=f"http://127.0.0.1:{free_port()}", ready_timeout_s=0.5)
    with pytest.raises(CheckIncomplete) as err:
        with running_target(cfg, tmp_path, tmp_path / "log"):
            pass
    assert "never became ready" in err.value.message and "refused" in err.value.message.lower()


def test_running_target_fixed_port_taken_incomplete_before_start(tmp_path: Path) -> None:
    import socket

    with socket.socket() as other:  # another process's service, already on the port
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        cfg = config(tmp_path, "serve", url=f"http://127.0.0.1:{port}",
                     start=("{python}", str(tmp_path / "service.py"), str(port), "serve", str(tmp_path / "pids")))
        with pytest.raises(CheckIncomplete) as err:
            with running_target(cfg, tmp_path, tmp_path / "log"):
                pytest.fail("must not be reached: the gate would test the other process")
    assert f"127.0.0.1:{port} already answers" in err.value.message and "{port}" in err.value.message
    assert not (tmp_path / "pids").exists()  # the start command never ran


def test_stop_interrupted_while_waiting_still_kills_the_group(tmp_path: Path) -> None:
    import signal
    import subprocess

    from prodgate_checks.load.target import stop

    # A service that ignores SIGTERM, so stop() waits out its grace period.
    proc = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                             "signal.SIG_IGN); print('up', flush=True); time.sleep(120)"],
                            stdout=subprocess.PIPE, start_new_session=True)
    assert proc.stdout is not None and proc.stdout.readline() == b"up\n"

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.3)  # the second signal arrives during the grace period
    try:
        with pytest.raises(KeyboardInterrupt):
            stop(proc, grace_s=30.0)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    try:
        assert gone([proc.pid])
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def test_tail_long_log_drops_the_line_cut_at_the_window_start(tmp_path: Path) -> None:
    log = tmp_path / "target.log"
    key = "Zq81-uT5v-Lm30-Pe77-Xa4k"
    # One long line whose end falls in the 64 KiB window: its cut-off rest would begin inside the key.
    log.write_text("token=" + "p" * (70 * 1024 - 30) + key + "\nready\nfatal: boom\n", encoding="utf-8")
    assert tail(log) == ["ready", "fatal: boom"]
    short = tmp_path / "short.log"
    short.write_text("first\nsecond\n", encoding="utf-8")
    assert tail(short) == ["first", "second"]
