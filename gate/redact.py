"""Keeps credentials out of every output: known token shapes and the values of secret variables."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SecretKind:
    name: str
    pattern: re.Pattern[str]


SECRET_KINDS: tuple[SecretKind, ...] = (
    SecretKind("Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
    SecretKind("OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    SecretKind("GitHub token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})")),
    SecretKind("AWS access key id", re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b")),
    SecretKind("bearer token", re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/-]{20,}=*")),
)

_SECRET_NAME = re.compile(r"(?i)(KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL)")
MIN_SECRET_LEN = 8
REDACTED = "[redacted]"


def find_secrets(text: str) -> list[tuple[SecretKind, int]]:
    """(kind, offset) of every credential-shaped string; one hit per position, most specific kind first."""
    hits: dict[int, SecretKind] = {}
    for kind in SECRET_KINDS:
        for m in kind.pattern.finditer(text):
            hits.setdefault(m.start(), kind)
    # An Anthropic key also matches the OpenAI shape one character later: keep the first.
    out = sorted(hits.items())
    kept: list[tuple[SecretKind, int]] = []
    last_end = -1
    for start, kind in out:
        if start < last_end:
            continue
        match = kind.pattern.match(text, start)
        last_end = match.end() if match else start + 1
        kept.append((kind, start))
    return kept


def secret_env_values(env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> list[str]:
    env = os.environ if env is None else env
    wanted = set(names) | {k for k in env if _SECRET_NAME.search(k)}
    values = {env[k] for k in wanted if k in env and len(env[k]) >= MIN_SECRET_LEN}
    return sorted(values, key=len, reverse=True)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def redact_text(text: str, values: Iterable[str] = ()) -> str:
    """Credentials out, and lone surrogates (valid in JSON, not in UTF-8) replaced so the text can be written."""
    text = _LONE_SURROGATE.sub("\ufffd", text)
    for value in values:
        text = text.replace(value, REDACTED)
    for kind in SECRET_KINDS:
        text = kind.pattern.sub(REDACTED, text)
    return text


def redact(obj: Any, values: Iterable[str] = ()) -> Any:
    """A copy of a JSON-like value with every string redacted."""
    values = list(values)
    if isinstance(obj, str):
        return redact_text(obj, values)
    if isinstance(obj, dict):
        return {k: redact(v, values) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact(v, values) for v in obj]
    return obj
