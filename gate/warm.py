"""Modules a run will need once its answers are in, imported while it waits for them: a check asks with later(),
the executor imports them with now() once its calls are in flight, on a thread that would only wait."""

from __future__ import annotations

import importlib
import threading

_lock = threading.Lock()
_wanted: list[str] = []


def later(*modules: str) -> None:
    """Ask for the modules to be imported at the run's next wait on the network (or when they are needed)."""
    with _lock:
        _wanted.extend(m for m in modules if m not in _wanted)


def now() -> None:
    """Import what later() asked for. An import that fails is left to the code that needs the module: it
    imports it again and reports what went wrong there."""
    while True:
        with _lock:
            if not _wanted:
                return
            name = _wanted.pop(0)
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - reported by the import that needs it
            continue
