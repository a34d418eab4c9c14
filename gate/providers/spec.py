"""Target specs: the one error type for a spec that cannot be built, and small readers for its values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KINDS = ("model", "http", "command", "python", "replay")


class TargetError(ValueError):
    """A target spec that cannot be built: unknown model, bad key, missing file, import failure.
    The message names the spec key; the caller adds the gate.yaml position (exit 2)."""


def expect_str(raw: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str | None:
    value = raw.get(key)
    if value is None:
        if required:
            raise TargetError(f"{where}.{key} is required")
        return None
    if not isinstance(value, str) or not value:
        raise TargetError(f"{where}.{key} must be a non-empty string")
    return value


def expect_timeout(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise TargetError(f"{where}: timeout must be a number of seconds above 0")
    return float(value)


def expect_str_map(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise TargetError(f"{where} must map names to strings")
    return dict(value)
