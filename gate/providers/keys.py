"""Stable keys for requests: canonical JSON and SHA-256, the same on every run and machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from gate.providers.base import Request


def plain(value: Any) -> Any:
    """Mappings, tuples and dataclass-free values as plain JSON types (tuples become lists)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def canonical(value: Any) -> str:
    """Sorted keys, no spaces, UTF-8 kept: one spelling per value, whatever built it."""
    return json.dumps(plain(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def request_fields(request: Request) -> dict[str, Any]:
    """What a request contributes to a key. The case id and the timeout are left out: neither shapes the answer."""
    return {
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        "params": plain(request.params),
        "variables": plain(request.variables),
        "repeat": request.repeat,
    }


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def request_key(request: Request) -> str:
    """The cassette key: the request alone, so a cassette replays whatever target recorded it."""
    return digest(request_fields(request))


def cache_key(identity: Mapping[str, Any], request: Request) -> str:
    """The response-cache key: the target's identity as well, so two models never share an answer."""
    return digest({"v": 1, "target": plain(identity), "request": request_fields(request)})
