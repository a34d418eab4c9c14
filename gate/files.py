"""Reading the files the gate is given: regular files only, bounded in size, JSON bounded in depth."""

from __future__ import annotations

import errno
import json
import math
import os
import re
import stat
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

MAX_BYTES = 10 * 1024 * 1024
# Datasets and cassettes: data, not configuration, so larger; still bounded.
MAX_DATA_BYTES = 200 * 1024 * 1024
# Deeper than any real schema, dataset value or answer; shallow enough that no recursive consumer of the
# parsed value (validators, scrubbers, json.dumps) runs out of stack.
MAX_DEPTH = 100

# O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused right after, by its type).
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)


class FileError(Exception):
    """A file the gate cannot use; str() is one line: file[:line[:col]]: problem."""

    def __init__(self, file: str, message: str, line: int | None = None, column: int | None = None):
        self.file = file
        self.line = line
        self.column = column
        # One line whatever the source said: a finding or an error message is never split.
        self.problem = " ".join(message.splitlines())
        where = file if line is None else f"{file}:{line}" + (f":{column}" if column else "")
        super().__init__(f"{where}: {self.problem}")


def read_bytes(path: Path, display: str, *, max_bytes: int = MAX_BYTES) -> bytes:
    """The bytes of a regular file of at most max_bytes; anything else (a device, a FIFO, a folder, a file
    too large, an OS error) is a FileError. Never reads more than max_bytes + 1 bytes."""
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        raise FileError(display, _os_problem(exc)) from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise FileError(display, "is a directory, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise FileError(display, "is not a regular file (a device, pipe or socket)")
        if info.st_size > max_bytes:
            raise FileError(display, _too_large(info.st_size, max_bytes))
        chunks: list[bytes] = []
        left = max_bytes + 1  # the file may grow between fstat and read
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
    except OSError as exc:
        raise FileError(display, _os_problem(exc)) from None
    finally:
        os.close(fd)
    raw = b"".join(chunks)
    if len(raw) > max_bytes:
        raise FileError(display, _too_large(len(raw), max_bytes))
    return raw


def decode(raw: bytes, display: str) -> str:
    """UTF-8 (a leading BOM dropped); a bad byte is a FileError at its line and column."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise FileError(display, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x})", line, column) from None


def read_text(path: Path, display: str, *, max_bytes: int = MAX_BYTES) -> str:
    return decode(read_bytes(path, display, max_bytes=max_bytes), display)


def lines(text: str) -> Iterator[tuple[int, str]]:
    """(number, line) of a data file, split at \\n alone: str.splitlines() also splits at U+2028, U+2029
    and U+0085, which JSON strings may hold raw, and would shift every later line number."""
    # One line at a time, not text.split(): a cassette of 200,000 answers would be held twice over.
    start, number = 0, 1
    while True:
        end = text.find("\n", start)
        line = text[start:] if end < 0 else text[start:end]
        yield number, line[:-1] if line.endswith("\r") else line
        if end < 0:
            return
        start, number = end + 1, number + 1


class _NotFinite(Exception):
    pass


def _constant(name: str) -> Any:
    raise _NotFinite(name)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e999
        raise _NotFinite(text)
    return value


# A JSON string (unrolled, so the regex engine does not step per character), or one bracket.
_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"?'
_STRINGS = re.compile(_STRING, re.DOTALL)
_NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
_TOKENS = re.compile(_STRING + r"|[\[\]{}]", re.DOTALL)
_NUMBERS = re.compile(_STRING + r"|-?(?:Infinity|NaN)|-?\d+(?:\.\d+)?[eE][+-]?\d+", re.DOTALL)


def loads_json(text: str | bytes, *, max_depth: int = MAX_DEPTH, finite: bool = True,
               object_hook: Callable[[dict[str, Any]], Any] | None = None,
               object_pairs_hook: Callable[[list[tuple[str, Any]]], Any] | None = None) -> Any:
    """json.loads for untrusted text: nesting deeper than max_depth, and (with `finite`) NaN, Infinity and
    numbers too large for a float, are json.JSONDecodeError (a ValueError) with a position, like any other
    syntax error. finite=False is for answers from services, whose every number the reader checks itself
    (Python's json and many frameworks write NaN: an answer with NaN usage is an answer, its usage unknown).
    object_hook and object_pairs_hook, as json.loads takes them: each object as it is parsed (to keep less of a
    large file)."""
    if isinstance(text, (bytes, bytearray)):
        text = text.decode("utf-8-sig")  # UnicodeDecodeError is a ValueError too
    # Counting brackets is cheap; only text with many of them needs the scan that skips strings.
    if text.count("[") + text.count("{") > max_depth and _too_deep(text, max_depth):
        _raise_too_deep(text, max_depth)
    try:
        if not finite:
            return json.loads(text, object_hook=object_hook, object_pairs_hook=object_pairs_hook)
        return json.loads(text, parse_constant=_constant, parse_float=_float, object_hook=object_hook,
                          object_pairs_hook=object_pairs_hook)
    except _NotFinite as exc:
        pos = _first_non_finite(text, str(exc))
        raise json.JSONDecodeError(f"{exc} is not a finite number", text, pos) from None
    except RecursionError:
        raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise json.JSONDecodeError(str(exc), text, 0) from None


def _too_deep(text: str, max_depth: int) -> bool:
    """Whether brackets outside strings nest deeper than max_depth. Each pass drops the innermost pairs,
    all in C: a few passes for real JSON, at most max_depth for any."""
    brackets = _NOT_BRACKETS.sub("", _STRINGS.sub("", text))
    for _ in range(max_depth):
        shorter = _INNERMOST.sub("", brackets)  # one level per pass: `{[]}` needs two
        if not shorter or len(shorter) == len(brackets):
            return False  # balanced within the limit, or unbalanced: json.loads says where
        brackets = shorter
    return True


def _raise_too_deep(text: str, max_depth: int) -> None:
    depth = 0
    for match in _TOKENS.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            if depth > max_depth:
                raise json.JSONDecodeError(f"nested deeper than {max_depth} levels", text, match.start())
        elif char in "]}":
            depth -= 1


def _first_non_finite(text: str, literal: str) -> int:
    for match in _NUMBERS.finditer(text):
        if not match.group().startswith('"') and match.group().lstrip("-") == literal.lstrip("-"):
            return match.start()
    for match in _NUMBERS.finditer(text):
        if not match.group().startswith('"'):
            return match.start()
    return 0


def _too_large(size: int, max_bytes: int) -> str:
    limit = f"{max_bytes // 2**20} MiB" if max_bytes >= 2**20 else f"{max_bytes:,} bytes"
    return f"file is {size / 1e6:.1f} MB, larger than the {limit} limit"


def _os_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "file not found"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "permission denied"
    if exc.errno == errno.ELOOP:
        return "too many levels of symbolic links"
    return exc.strerror or str(exc)


_resolved: dict[str, Path] = {}


def resolved(path: Path) -> Path:
    """path.resolve(), remembered for the run: the glob that finds a few thousand prompt files resolves each,
    and every finding and base read asks for the same ones again. A resolved path is its own answer."""
    key = str(path)
    found = _resolved.get(key)
    if found is None:
        found = path.resolve()
        _resolved[key] = found
        _resolved.setdefault(str(found), found)
    return found


def interned_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object_pairs_hook for JSON Lines: json interns an object's keys within one document only, so every
    line of a 200,000-line file would hold its own copy of the same few key names."""
    return {sys.intern(k): v for k, v in pairs}


def forget_resolved() -> None:
    _resolved.clear()


def write_atomic(path: Path, chunks: Iterable[str]) -> Path:
    """Write a file meant to be committed (a baseline, a cassette) whole or not at all: to a temporary name in
    its folder, then renamed over it, so no reader (a concurrent run, a cache restored mid-write) sees half of
    it. Readable by all (0644), as files in a repository are; mkstemp's 0600 would surprise."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            for chunk in chunks:
                f.write(chunk)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path
