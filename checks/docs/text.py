"""Reading a document safely, and judging a field's text: placeholder, owner, model names."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gate.files import FileError, read_bytes

from .catalogue import normalise

DEFAULT_MAX_BYTES = 512 * 1024

_MARKERS = re.compile(r"(?<![A-Za-z])(TODO|TBD|TBC|FIXME|XXX)(?![A-Za-z])")
_LOREM = re.compile(r"lorem\s+ipsum", re.IGNORECASE)
# Whole values that say nothing.
_EMPTY_WORDS = frozenset(normalise(w) for w in (
    "todo", "to do", "tbd", "tbc", "fixme", "to be defined", "to be determined", "to be decided",
    "to be confirmed", "to be written", "coming soon", "placeholder", "fill in", "fill me in", "fill this in",
    "n/a", "na", "none", "nothing", "unknown", "same as above", "see above", "description", "details", "text",
))
_BRACKETED = re.compile(r"^\s*(\[.*\]|<.*>|\{\{.*\}\})\s*$", re.DOTALL)

_HANDLE = re.compile(r"(?<![\w.@/])@[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:/[A-Za-z0-9][\w.-]*)?(?![\w@])")
_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")


def placeholder(text: str, names: Iterable[str]) -> str | None:
    """Why a field's text says nothing (empty, TODO, lorem ipsum, its own name), or None if it says something."""
    if not text.strip():
        return "is empty"
    words = normalise(text)
    if not words:
        return f"is only a placeholder ({text.strip()[:20]!r})"
    if words in _EMPTY_WORDS:
        return f"says only {text.strip()[:30]!r}: say what happens instead"
    if _BRACKETED.match(text) and len(words.split()) <= 8:
        return f"is a template placeholder ({text.strip()[:40]!r})"
    marker = _MARKERS.search(text)
    if marker:
        return f"contains the placeholder {marker.group(1)}"
    if _LOREM.search(text):
        return "is lorem ipsum"
    if words in {normalise(n) for n in names}:
        return "only repeats its own name"
    return None


def owners(text: str, hrefs: Iterable[str] = ()) -> list[str]:
    """The @handles, @org/teams and email addresses in an owner field."""
    found = _HANDLE.findall(text) + _EMAIL.findall(text)
    found += [h.removeprefix("mailto:") for h in hrefs if h.startswith("mailto:") and _EMAIL.fullmatch(h[7:])]
    return list(dict.fromkeys(found))


def names_model(text: str, names: Iterable[str]) -> bool:
    """Whether text names any of names as a whole word (case-insensitive): `backup`, backup, Backup."""
    for name in names:
        if name and re.search(rf"(?<![\w/.-]){re.escape(name)}(?![\w/-]|\.\w)", text, re.IGNORECASE):
            return True
    return False


@dataclass(frozen=True)
class ReadProblem:
    message: str
    line: int = 1
    column: int | None = None


def read_document(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> str | ReadProblem:
    """The text of a markdown file, or the one problem that stops it from being read."""
    try:
        if path.is_dir():
            return ReadProblem("is a directory, not a markdown file")
        size = path.stat().st_size
        if size > max_bytes:
            return ReadProblem(f"is {_size(size)}, over the {_size(max_bytes)} limit for a document "
                               "(raise docs.max_bytes in gate.yaml if it really is that long)")
        data = read_bytes(path, str(path), max_bytes=max_bytes)
    except FileError as exc:
        return ReadProblem(f"cannot be read: {exc.problem}")
    except OSError as exc:
        return ReadProblem(f"cannot be read: {exc.strerror or exc}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        return ReadProblem(f"is not valid UTF-8 (byte 0x{data[exc.start]:02x} at line {line}, column {column}): "
                           "save it as UTF-8", line, column)
    if not text.strip():
        return ReadProblem("is empty")
    return text


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):.1f} MiB"
    if n >= 1024:
        return f"{n / 1024:.0f} KiB"
    return f"{n} bytes"
