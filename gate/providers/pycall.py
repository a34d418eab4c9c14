"""The `python` target: "pkg.mod:function" called with the case, imported with the gate.yaml folder on sys.path."""

from __future__ import annotations

import importlib
import inspect
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gate.providers import limits
from gate.providers.base import Category, ProviderError, Request, Response
from gate.providers.payload import app_answer, case_payload
from gate.providers.spec import TargetError
from gate.redact import clip

_import_lock = threading.Lock()


def load_function(ref: str, root: Path) -> Callable[..., Any]:
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise TargetError(f"python: {ref!r} must be \"package.module:function\"")
    with _import_lock:
        added = str(root) not in sys.path
        if added:
            sys.path.insert(0, str(root))
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # any import-time failure of the user's code is a spec problem
            raise TargetError(f"python: cannot import {module_name}: {type(exc).__name__}: {exc}") from exc
        finally:
            if added:
                sys.path.remove(str(root))
    target: Any = module
    for part in attr.split("."):
        target = getattr(target, part, None)
    if not callable(target):
        raise TargetError(f"python: {module_name} has no function {attr}")
    return target  # type: ignore[no-any-return]


class PythonProvider:
    """python: "pkg.mod:function". The function gets the case dict {"id", "repeat", "vars", "messages"} and
    returns a string or {"output": ..., "usage": {...}}; it may be async, and may raise ProviderError itself.
    With a timeout it runs in a thread of its own and is abandoned (not killed) when late."""

    # Its answers depend on code the spec does not show (the app changes in the pull request): never cached.
    cacheable = False

    def __init__(self, ref: Any, root: Path, *, timeout: float | None = None) -> None:
        if not isinstance(ref, str):
            raise TargetError("python must be a string \"package.module:function\"")
        self.ref = ref
        self.function = load_function(ref, root)
        self.timeout = timeout

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "python", "function": self.ref}

    def complete(self, request: Request) -> Response:
        case = case_payload(request)
        timeout = request.timeout_s or self.timeout
        limits.before_call()
        started = time.monotonic()
        value = self._call(case) if timeout is None else self._call_within(case, timeout)
        return app_answer(value, self.ref, time.monotonic() - started, "python")

    def _call(self, case: dict[str, Any]) -> Any:
        try:
            result = self.function(case)
            if inspect.isawaitable(result):
                import asyncio  # here: only an async function needs it, and validating a target calls none

                result = asyncio.run(_awaited(result))
            return result
        except ProviderError:
            raise
        except Exception as exc:  # the app's own failure is a finding, not a crash of the gate
            raise ProviderError(Category.SERVER_ERROR, clip(f"{self.ref} raised {type(exc).__name__}: {exc}", 300)) from exc

    def _call_within(self, case: dict[str, Any], timeout: float) -> Any:
        return call_within(lambda: self._call(case), timeout, self.ref, "prodgate-python-target")


async def _awaited(awaitable: Any) -> Any:
    return await awaitable


def call_within(call: Callable[[], Any], timeout: float, what: str, name: str) -> Any:
    """call() in a thread of its own, waited for at most `timeout` seconds (a function of the team's cannot be
    stopped, only left behind: the thread is a daemon). Its ProviderError is raised here; running over is a
    retryable transport.timeout."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except ProviderError as exc:
            box["error"] = exc

    worker = threading.Thread(target=run, daemon=True, name=name)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise ProviderError(Category.TIMEOUT, f"{what} did not return within {timeout:g} s", retryable=True)
    if "error" in box:
        raise box["error"]
    return box["value"]
