"""The service under test: start it in its own process group, wait until ready, always stop it."""

from __future__ import annotations

import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from gate.childenv import child_env
from gate.errors import CheckIncomplete

from .config import TargetConfig

if TYPE_CHECKING:
    from gate.context import CheckContext

LOG_TAIL_LINES = 20
POLL_INTERVAL_S = 0.1
STOP_GRACE_S = 5.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tail(path: Path, lines: int = LOG_TAIL_LINES) -> list[str]:
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            start = max(0, f.tell() - 64 * 1024)
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    found = text.splitlines()
    # A line cut at the start of the window may begin inside a credential, where no redaction finds it.
    return found[1 if start else 0:][-lines:]


@dataclass
class RunningTarget:
    url: str
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    def exit_code(self) -> int | None:
        return self.process.poll() if self.process else None

    def log_tail(self) -> list[str]:
        return tail(self.log) if self.process else []


class TargetFailed(CheckIncomplete):
    """The service never became ready; the end of its log goes with it (not into the message, which is public)."""

    def __init__(self, message: str, target: RunningTarget) -> None:
        super().__init__(message)
        self.url = target.url
        self.log_tail = target.log_tail()


class OutOfTime(TargetFailed):
    """The caller's own time ran out while the service was still starting, before its ready_timeout did:
    no verdict on the service, which might have become ready later."""

    def __init__(self, message: str, target: RunningTarget, waited_s: float, ready_timeout_s: float) -> None:
        super().__init__(message, target)
        self.waited_s = waited_s
        self.ready_timeout_s = ready_timeout_s


def _argv(start: tuple[str, ...] | str, port: str) -> list[str]:
    parts = shlex.split(start) if isinstance(start, str) else list(start)
    return [p.replace("{python}", sys.executable).replace("{port}", port) for p in parts]


@contextmanager
def running_target(cfg: TargetConfig, root: Path, log: Path, deadline: float | None = None) -> Iterator[RunningTarget]:
    """Yield the running service; whatever happens (error, Ctrl-C, SIGTERM) its whole process group is stopped.
    deadline: a time.monotonic() the start-up wait may not pass (OutOfTime), whatever ready_timeout allows."""
    port = str(free_port()) if "{port}" in cfg.url else ""
    target = RunningTarget(cfg.url.replace("{port}", port), log)
    with _sigterm_as_interrupt():
        try:
            if cfg.start is not None:
                if not port:
                    _refuse_taken_port(target.url, cfg.where)
                target.process = _spawn(cfg, root, log, port)
            _wait_ready(target, cfg, deadline)
            yield target
        finally:
            if target.process is not None:
                stop(target.process)


def _refuse_taken_port(url: str, where: str = "load.target") -> None:
    """A fixed port that already answers belongs to another process: the gate would test that one instead
    (the service it starts then fails to bind, and looks as if it died during the run)."""
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        with socket.create_connection((host, port), timeout=1.0):
            pass
    except OSError:
        return
    raise CheckIncomplete(f"{host}:{port} already answers before {where}.start ran: another process holds the "
                          f"target's port and would be tested instead; stop it, or put {{port}} in {where}.url "
                          "for a free one")


def _spawn(cfg: TargetConfig, root: Path, log: Path, port: str) -> subprocess.Popen[bytes]:
    assert cfg.start is not None
    argv = _argv(cfg.start, port)
    env = child_env({k: v.replace("{port}", port) for k, v in cfg.env.items()})
    with log.open("wb") as out:
        try:
            # Its own session: the group can be killed as one, and a Ctrl-C at the terminal reaches the
            # gate (which then stops it) rather than racing it.
            return subprocess.Popen(argv, cwd=cfg.cwd or root, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
        except OSError as exc:
            raise CheckIncomplete(f"{cfg.where}.start: cannot run {argv[0]!r}: {exc.strerror or exc}") from None


def _wait_ready(target: RunningTarget, cfg: TargetConfig, until: float | None = None) -> None:
    import urllib.error
    import urllib.request  # here: its HTTP, TLS and email modules are for a started target, not for validating

    url = target.url + (cfg.ready or "/")
    started = time.monotonic()
    deadline = started + cfg.ready_timeout_s
    cut = until is not None and until < deadline
    if until is not None:
        deadline = min(deadline, until)
    last = "no answer yet"
    while True:
        code = target.exit_code()
        if code is not None:
            raise TargetFailed(f"the target's start command exited with code {code} before it was ready", target)
        try:
            wait = max(min(2.0, cfg.ready_timeout_s, deadline - time.monotonic()), 0.05)
            with urllib.request.urlopen(url, timeout=wait) as resp:  # noqa: S310 - http(s) only, by schema
                if 200 <= resp.status < 300:
                    return
                last = f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            # Without a `ready` path, any answer shows that it listens, but "unavailable" and a proxy's
            # "no upstream" (502/503/504) say it is still starting.
            if cfg.ready is None and exc.code not in (502, 503, 504):
                return
            last = f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            last = str(reason.strerror if isinstance(reason, OSError) and reason.strerror else reason)
        if time.monotonic() >= deadline:
            if cut:
                raise OutOfTime(f"the target was still starting when the time left ran out, before "
                                f"{cfg.where}.ready_timeout ({cfg.ready_timeout_s:g}s): GET {url} gave {last}",
                                target, time.monotonic() - started, cfg.ready_timeout_s)
            raise TargetFailed(f"the target never became ready: GET {url} gave {last} for "
                               f"{cfg.ready_timeout_s:g}s ({cfg.where}.ready_timeout)", target)
        time.sleep(POLL_INTERVAL_S)


def stop(process: subprocess.Popen[bytes], grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group, SIGKILL what is left after the grace period, reap the leader."""
    _signal_group(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass
    finally:
        # Children may outlive the leader: the group is killed whatever the leader did, also when a
        # second interrupt (a CI cancel's SIGTERM after its SIGINT) ends the wait.
        _signal_group(process.pid, signal.SIGKILL)
    try:
        process.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        pass


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A CI cancel sends SIGTERM, which would end Python without running `finally`: turn it into an interrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def print_log_tail(ctx: CheckContext, check: str, tail: Sequence[str]) -> None:
    """The end of the service's log to the gate's own log (stderr), redacted: never to the report or the
    comment, which are public (a service's log may hold what they must not)."""
    from gate.redact import redact_text
    from gate.render.escape import no_workflow_commands, terminal_text
    from gate.runner import config_secrets

    if not tail:
        return
    secrets = config_secrets(ctx.config)
    lines = [f"{check}: the service's log ends with ({len(tail)} lines):"]
    lines += ["  | " + terminal_text(redact_text(line, secrets)).replace("\n", " ") for line in tail]
    print(no_workflow_commands("\n".join(lines)), file=sys.stderr)
