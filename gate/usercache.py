"""The user's cache folder ($XDG_CACHE_HOME or ~/.cache, then prodgate/): what depends only on the installed
packages or on a content hash, kept between runs so a later run skips a slow import.

Never the checkout's folder: everything there is untrusted input, and a pull request could plant a "cached"
answer. A cache file that is missing, unreadable, corrupt or unwritable (a read-only home) is a miss, never an
error; its readers check the shape of every value they take from it."""

from __future__ import annotations

import atexit
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gate.files import FileError, loads_json, read_bytes, write_atomic

FOLDER = "prodgate"
# A cache is small (a few prices, a few schema verdicts): a larger file is not ours to trust or to parse.
MAX_BYTES = 1024 * 1024
# Verdicts kept per file; the oldest make room for new ones.
MAX_VERDICTS = 512


def cache_dir() -> Path | None:
    """prodgate's folder in the user's cache; None when there is no home to put it in."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if os.path.isabs(base):  # the XDG rule: a relative value is invalid and ignored
        return Path(base) / FOLDER
    try:
        return Path.home() / ".cache" / FOLDER
    except RuntimeError:  # no HOME and no passwd entry
        return None


def read_cache(name: str, folder: Path | None = None) -> dict[str, Any]:
    """The JSON object stored under name (in folder, by default cache_dir()); {} for a miss of any kind."""
    folder = folder or cache_dir()
    if folder is None:
        return {}
    try:
        value = loads_json(read_bytes(folder / name, name, max_bytes=MAX_BYTES))
    except (FileError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def write_cache(name: str, value: dict[str, Any], folder: Path | None = None) -> None:
    """Store value whole or not at all (a concurrent run reads the old file or the new one); a folder that
    cannot be written leaves the cache as it was."""
    folder = folder or cache_dir()
    if folder is None:
        return
    try:
        write_atomic(folder / name, [json.dumps(value, separators=(",", ":"))])
    except (OSError, ValueError):
        pass


def safe_name(text: str) -> str:
    """text (e.g. a package version) as part of a file name: no separator, no way out of the folder."""
    return "".join(c if c.isalnum() or c in ".-+_" else "_" for c in text).lstrip(".") or "_"


def content_key(value: Any) -> str | None:
    """A hash of a JSON value's content (key order aside); None for a value JSON cannot hold as it is (json.dumps
    would write the key 1 as "1", and two different values would share a key)."""
    import hashlib  # not for the runs that never ask

    try:
        if not _str_keys(value):
            return None
        text = json.dumps(value, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _str_keys(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _str_keys(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_str_keys(v) for v in value)
    return True


def remembered_verdict(name: str, value: Any, judge: Callable[[Any], str | None]) -> str | None:
    """judge(value): a problem, or None for none; remembered in cache file `name` by value's content hash, so a
    later run with the same content need not judge it (nor import what judging takes). The file is read once a
    process and written once, when it ends: a dataset may hold thousands of inline schemas."""
    key = verdict_key(value, judge)
    if key is None:
        return judge(value)
    where = (cache_dir(), name)
    table = _verdicts.get(where)
    if table is None:
        stored = read_cache(name, where[0]) if where[0] is not None else {}
        table = _verdicts[where] = {k: v for k, v in stored.items() if v is None or isinstance(v, str)}
    if key not in table:
        if len(table) >= 8 * MAX_VERDICTS:  # bounded in memory too: the newest are the ones saved
            table = _verdicts[where] = dict(list(table.items())[-MAX_VERDICTS:])
        table[key] = judge(value)
        if not _unsaved:
            atexit.register(_save_verdicts)
        _unsaved.add(where)
    return table[key]


def verdict_key(value: Any, judge: Callable[[Any], str | None]) -> str | None:
    """The cache key of judge's verdict on value: the code that judges and the value's content."""
    key = content_key(value)
    return None if key is None else f"{_code_stamp(judge)}:{key}"


def _code_stamp(judge: Callable[[Any], str | None]) -> str:
    """Which code judged: the judge's module file by size and modification time. A verdict given by other code
    (an upgrade, an edited checkout of prodgate) is never taken for this code's."""
    module = sys.modules.get(getattr(judge, "__module__", "") or "")
    path = getattr(module, "__file__", None)
    try:
        info = os.stat(path) if path else None
    except OSError:
        info = None
    name = getattr(judge, "__qualname__", "?")
    return f"{name}@{info.st_size}.{info.st_mtime_ns}" if info else name


# This process's verdicts by cache folder and file, and those not written yet.
_verdicts: dict[tuple[Path | None, str], dict[str, str | None]] = {}
_unsaved: set[tuple[Path | None, str]] = set()


def _save_verdicts() -> None:
    for folder, name in sorted(_unsaved, key=str):
        if folder is None:
            continue
        # Merged with what other runs wrote meanwhile; the newest MAX_VERDICTS kept.
        stored = {k: v for k, v in read_cache(name, folder).items() if v is None or isinstance(v, str)}
        merged = {**stored, **_verdicts[folder, name]}
        write_cache(name, dict(list(merged.items())[-MAX_VERDICTS:]), folder)
    _unsaved.clear()
