"""The response cache on disk: one JSON file per answer, keyed by everything that shapes the answer.

Safe to share between concurrent runs and across CI runs (actions/cache on `.gate/cache`): files are
written to a temporary name and renamed into place, so a reader sees a whole file or none. Only
answers are cached, never failures. Each file carries the producer of its answer (keys.producer) and is
read only for that producer. Files tracked by git are never read: a pull request could commit them to
plant answers.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Collection, Mapping
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from gate.files import FileError, loads_json, read_bytes
from gate.providers.base import Provider, Request, Response, Usage
from gate.providers.keys import as_sent, cache_key, plain, producer, producers

DEFAULT_FOLDER = ".gate/cache"
FORMAT = 2  # 2: each file names its producer; format 1 files are asked again


def tracked_files(folder: Path) -> frozenset[Path]:
    """The files under `folder` that git tracks (one `git ls-files` per run); none outside a repository."""
    from gate.gitref import _git

    if not folder.is_dir():
        return frozenset()
    try:
        proc = _git(folder, "ls-files", "-z", "--full-name", "--", ".")
    except OSError:
        return frozenset()
    root = _git(folder, "rev-parse", "--show-toplevel")
    if proc.returncode != 0 or root.returncode != 0:
        return frozenset()
    top = Path(root.stdout.decode().strip())
    return frozenset((top / name).resolve() for name in proc.stdout.decode("utf-8", "replace").split("\0") if name)


class CachedProvider:
    """Answers from the cache when it can, else from `provider`, storing each success.
    `enabled=False` (the --no-cache flag) neither reads nor writes; nor does a provider whose
    `cacheable` attribute is False (app targets: their answers depend on code the key cannot see).
    `tracked` (tracked_files) are never read: the answer is asked for again and the file left alone."""

    def __init__(self, provider: Provider, folder: Path, *, enabled: bool = True,
                 tracked: Collection[Path] = frozenset()) -> None:
        self.provider = provider
        self.folder = folder
        self.enabled = enabled and bool(getattr(provider, "cacheable", True))
        self.tracked = tracked
        self._identity = dict(provider.identity())
        self._producers = producers(self._identity)
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
        planted = bool(self.tracked) and path.resolve() in self.tracked
        found = None if planted else _read(path, [as_sent(p, request.params) for p in self._producers], request.params)
        if found is not None:
            with self.lock:
                self.hits += 1
            return found
        with self.lock:
            self.misses += 1
        response = self.provider.complete(request)
        if not planted:
            _write(path, response, as_sent(producer(self._identity, response.answered_by), request.params))
        return response


def _read(path: Path, expected: list[Mapping[str, Any]], sent: Mapping[str, Any]) -> Response | None:
    """The answer cached at path, if a producer of `expected` (each called with `sent` on top) wrote it."""
    try:
        data = loads_json(read_bytes(path, str(path)))
    except (FileError, ValueError):
        return None  # absent, or damaged by something other than us: ask again and overwrite
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("response"), dict):
        return None
    who = data.get("producer")
    if not isinstance(who, dict) or as_sent(who, sent) not in expected:
        return None  # written for another producer (or by hand): not an answer of this target
    r = data["response"]
    try:
        usage = Usage(**r.get("usage") or {})
        return Response(content=str(r["content"]), usage=usage, latency_s=float(r.get("latency_s") or 0.0),
                        model=r.get("model"), finish_reason=r.get("finish_reason"), cached=True,
                        answered_by=r.get("answered_by"), ttft_s=r.get("ttft_s"), producer=data["producer"])
    except (KeyError, TypeError, ValueError):
        return None


def _write(path: Path, response: Response, made_by: Mapping[str, Any]) -> None:
    record = asdict(replace(response, cached=False, attempts=1))
    for dropped in ("cached", "attempts", "producer"):
        record.pop(dropped)
    data = json.dumps({"format": FORMAT, "producer": plain(made_by), "response": record}, ensure_ascii=False,
                      sort_keys=True)
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
