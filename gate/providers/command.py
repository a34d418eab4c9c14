"""The `command` target: a program given the case as JSON on stdin, answering JSON on stdout."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gate.childenv import child_env
from gate.files import loads_json
from gate.providers import limits
from gate.providers.base import Category, ProviderError, Request, Response
from gate.providers.payload import app_answer, case_payload
from gate.providers.spec import TargetError
from gate.redact import clip

DEFAULT_TIMEOUT = 60.0


class CommandProvider:
    """command: "python app.py" or ["python", "app.py"]. Runs in the gate.yaml folder with the gate's
    environment. stdin: {"id", "repeat", "vars", "messages"}; stdout: {"output": ..., "usage": {...}}
    (or any JSON string). On timeout the program and everything it started are killed."""

    # Its answers depend on code the spec does not show (the app changes in the pull request): never cached.
    cacheable = False

    def __init__(self, raw: Any, root: Path, env: Mapping[str, str], *, timeout: float | None = None) -> None:
        if isinstance(raw, str):
            argv = shlex.split(raw)
        elif isinstance(raw, list) and all(isinstance(a, str) for a in raw):
            argv = list(raw)
        else:
            raise TargetError("command must be a string or a list of strings")
        if not argv:
            raise TargetError("command is empty")
        self.argv = argv
        self.root = root
        self.env = child_env(base=env)
        self.timeout = timeout or DEFAULT_TIMEOUT

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "command", "argv": self.argv}

    def complete(self, request: Request) -> Response:
        timeout = request.timeout_s or self.timeout
        stdin = json.dumps(case_payload(request), ensure_ascii=False).encode("utf-8")
        limits.before_call()
        started = time.monotonic()
        try:
            # A session of its own, so a timeout kills the program's children too.
            proc = subprocess.Popen(self.argv, cwd=self.root, env=self.env, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        except OSError as exc:
            raise ProviderError(Category.CONNECTION, f"cannot start {self.argv[0]}: {exc.strerror}") from exc
        cancel = limits.current().cancel
        pending: bytes | None = stdin
        try:
            while True:
                remaining = started + timeout - time.monotonic()
                if remaining <= 0:
                    raise ProviderError(Category.TIMEOUT, f"{self.argv[0]} did not answer within {timeout:g} s",
                                        retryable=True)
                try:
                    # Short waits, so a cancelled run (Ctrl-C) kills the program instead of waiting it out.
                    out, err = proc.communicate(pending, timeout=min(remaining, 0.25))
                    break
                except subprocess.TimeoutExpired:
                    pending = None
                    if cancel.is_set():
                        raise limits.Cancelled() from None
        except BaseException:
            _kill_group(proc)  # cancelled or interrupted in the middle: leave no program behind
            raise
        latency = time.monotonic() - started
        if proc.returncode != 0:
            tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no message"]
            raise ProviderError(Category.SERVER_ERROR,
                                f"{self.argv[0]} exited with status {proc.returncode}: {clip(tail[0], 200)}")
        try:
            value = loads_json(out.decode("utf-8"), finite=False)
        except (UnicodeDecodeError, ValueError) as exc:
            raise ProviderError(Category.SERVER_ERROR, f"{self.argv[0]} did not write JSON on stdout") from exc
        return app_answer(value, self.argv[0], latency, "command")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.communicate()
