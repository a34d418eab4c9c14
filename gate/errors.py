"""The gate's own failures, each carrying the exit code the CLI returns for it."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    INCOMPLETE = 3


class GateError(Exception):
    """Base of every error the gate reports without a traceback."""

    exit_code: ExitCode = ExitCode.INCOMPLETE

    def __init__(self, message: str, *, lines: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        # Further one-line messages (e.g. one per schema violation) printed after the first.
        self.lines = lines


class ConfigError(GateError):
    """gate.yaml, the command line, or a file gate.yaml names is unusable: exit 2."""

    exit_code = ExitCode.USAGE


class CheckIncomplete(GateError):
    """A check could not reach a verdict (provider unreachable, target never ready): exit 3."""

    exit_code = ExitCode.INCOMPLETE
