"""What is installed (the entry points of prodgate's groups, the versions of the packages whose answers the
user cache keeps), read once and kept in the user's cache with the modification time of every folder on
sys.path.

Installing or removing a distribution changes its folder (importlib.metadata's own caches rely on this), so an
unchanged key proves the record current, and a run needs neither importlib.metadata (a tenth of `gate --help`)
nor a scan of every installed distribution."""

from __future__ import annotations

import os
import sys
from typing import Any

from gate.usercache import read_cache, write_cache

GROUPS = ("prodgate.checks", "prodgate.commands")
# The packages whose version keys a cache of their answers (prices, JSON Schema verdicts).
VERSIONED = ("genai-prices", "jsonschema", "referencing", "jsonschema-specifications")
CACHE = "installed.json"
# Records kept, the latest first: `gate` and `python -m gate` (the working folder on sys.path) see different paths.
KEPT = 8


def entry_points(group: str) -> list[tuple[str, str]]:
    """(name, target) of the group's entry points (one of GROUPS), in importlib.metadata's order."""
    return [(name, target) for name, target in _record()["entry_points"][group]]


def version(distribution: str) -> str | None:
    """The installed version of a distribution of VERSIONED; None when it is not installed."""
    found = _record()["versions"][distribution]
    return found if isinstance(found, str) else None


# The record this process read or made, with its key: asked for once per entry point group and version.
_last: list[tuple[list[Any], dict[str, Any]]] = []


def _record() -> dict[str, Any]:
    key = _path_key()
    if _last and _last[0][0] == key:
        return _last[0][1]
    _last[:] = [(key, _read_or_scan(key))]
    return _last[0][1]


def _read_or_scan(key: list[Any]) -> dict[str, Any]:
    stored = read_cache(CACHE).get("records")
    records: list[dict[str, Any]] = [r for r in stored if isinstance(r, dict)] if isinstance(stored, list) else []
    found = next((r for r in records if r.get("key") == key), None)
    if found is not None and _shaped(found):
        return found
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import entry_points as scan
    from importlib.metadata import version as version_of

    def installed(name: str) -> str | None:
        try:
            return version_of(name)
        except PackageNotFoundError:
            return None

    points = scan()
    record = {"key": key, "entry_points": {g: [[ep.name, ep.value] for ep in points.select(group=g)] for g in GROUPS},
              "versions": {name: installed(name) for name in VERSIONED}}
    write_cache(CACHE, {"records": [record, *(r for r in records if r.get("key") != key)][:KEPT]})
    return record


def _path_key() -> list[Any]:
    def mtime(entry: str) -> int:
        try:
            return os.stat(entry).st_mtime_ns
        except OSError:
            return -1

    # Absolute: `python -m gate` puts the working folder on sys.path as "", which names another folder elsewhere.
    folders = [os.path.abspath(entry or ".") for entry in sys.path]
    return [sys.version, [[folder, mtime(folder)] for folder in folders]]


def _shaped(record: dict[str, Any]) -> bool:
    """Whether a cached record holds exactly the types written: it is read, never trusted."""
    groups, versions = record.get("entry_points"), record.get("versions")
    return (isinstance(groups, dict) and all(_pairs(groups.get(g)) for g in GROUPS) and isinstance(versions, dict)
            and all(name in versions and (versions[name] is None or isinstance(versions[name], str))
                    for name in VERSIONED))


def _pairs(value: Any) -> bool:
    return isinstance(value, list) and all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value)
