"""Progress for long checks: a bar on a terminal, a line per 10% in CI logs, nothing in tests."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def start(self, label: str, total: int) -> None: ...
    def advance(self, n: int = 1) -> None: ...
    def finish(self) -> None: ...


class _Silent:
    def start(self, label: str, total: int) -> None:
        pass

    def advance(self, n: int = 1) -> None:
        pass

    def finish(self) -> None:
        pass


def silent() -> Progress:
    return _Silent()


class StreamProgress:
    """Writes to stderr, so stdout stays clean for `--format json`."""

    def __init__(self, stream: TextIO | None = None, tty: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty() if tty is None else tty
        self.label, self.total, self.done, self.last_decile = "", 0, 0, -1
        self.started = 0.0

    def start(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.last_decile = label, max(total, 0), 0, -1
        self.started = time.monotonic()
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done = min(self.total, self.done + n)
        self._draw()

    def finish(self) -> None:
        if self.tty and self.total:
            self.stream.write("\r\033[K")
            self.stream.flush()

    def _draw(self) -> None:
        if not self.total:
            return
        fraction = self.done / self.total
        if self.tty:
            width = 30
            filled = int(width * fraction)
            bar = "#" * filled + "-" * (width - filled)
            elapsed = time.monotonic() - self.started
            self.stream.write(f"\r{self.label} [{bar}] {self.done}/{self.total} {elapsed:.0f}s")
            self.stream.flush()
            return
        decile = int(fraction * 10)
        if decile > self.last_decile:
            self.last_decile = decile
            self.stream.write(f"{self.label}: {self.done}/{self.total} ({decile * 10}%)\n")
            self.stream.flush()
