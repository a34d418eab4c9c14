"""The response cache on disk: one JSON file per answer, keyed by everything that shapes the answer.

Safe to share between concurrent runs and across CI runs (actions/cache on `.gate/cache`): files are
written to a temporary name and renamed into place, so a reader sees a whole file or none. Only
answers are cached, never failures.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from gate.files import FileError, loads_json, read_bytes
from gate.providers.base import Provider, Request, Response, Usage
from gate.providers.keys import cache_key

DEFAULT_FOLDER = ".gate/cache"
FORMAT = 1


class CachedProvider:
    """Answers from the cache when it can, else from `provider`, storing each success.
    `enabled=False` (the --no-cache flag) neither reads nor writes; nor does a provider whose
    `cacheable` attribute is False (app targets: their answers depend on code the key cannot see)."""

    def __init__(self, provider: Provider, folder: Path, *, enabled: bool = True) -> None:
        self.provider = provider
        self.folder = folder
        self.enabled = enabled and bool(getattr(provider, "cacheable", True))
        self._identity = dict(provider.identity())
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def identity(self) -> Mapping[str, Any]:
        return self._identity

    def path_for(self, request: Request) -> Path:
        key = cache_key(self._identity, request)
        return self.folder / key[:2] / f"{key}.json"

    def complete(self, request: Request) -> Response:
        if not self.enabled:
            return self.provider.complete(request)
        path = self.path_for(request)
        found = _read(path)
        if found is not None:
            with self.lock:
                self.hits += 1
            return found
        with self.lock:
            self.misses += 1
        response = self.provider.complete(request)
        _write(path, response)
        return response


def _read(path: Path) -> Response | None:
    try:
        data = loads_json(read_bytes(path, str(path)))
    except (FileError, ValueError):
        return None  # absent, or damaged by something other than us: ask again and overwrite
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("response"), dict):
        return None
    r = data["response"]
    try:
        usage = Usage(**r.get("usage") or {})
        return Response(content=str(r["content"]), usage=usage, latency_s=float(r.get("latency_s") or 0.0),
                        model=r.get("model"), finish_reason=r.get("finish_reason"), cached=True,
                        answered_by=r.get("answered_by"), ttft_s=r.get("ttft_s"))
    except (KeyError, TypeError, ValueError):
        return None


def _write(path: Path, response: Response) -> None:
    record = asdict(replace(response, cached=False, attempts=1))
    for dropped in ("cached", "attempts"):
        record.pop(dropped)
    data = json.dumps({"format": FORMAT, "response": record}, ensure_ascii=False, sort_keys=True)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=".json", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(data)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError:
        pass  # a cache that cannot be written costs a request next time, never the run
