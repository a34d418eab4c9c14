"""The provider protocol: a Request in, a Response out, or a ProviderError with its failure category."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

# Where a ProviderError's category comes from; the providers import it from here with the rest of the protocol.
from gate.taxonomy import Category as Category

_SURROGATE = re.compile("[\ud800-\udfff]")


def valid_unicode(value: Any) -> Any:
    """value with every lone surrogate (JSON allows "\\ud800"; no UTF-8 file, request or report can carry one)
    replaced by U+FFFD, through lists and mappings: for text entering the gate from a model, an app or a file."""
    if isinstance(value, str):
        return _text(value)
    if not isinstance(value, (list, dict)) or not _holds_surrogate(value):
        return value  # nothing to replace: a parsed baseline of 200,000 cases is not copied
    # Iterative, not recursive: a value nested thousands deep must not exhaust the stack.
    root: list[Any] = [None]
    stack: list[tuple[Any, Any, Any]] = [(value, root, 0)]  # (value, its new container, its key there)
    while stack:
        item, parent, key = stack.pop()
        if isinstance(item, str):
            parent[key] = _text(item)
        elif isinstance(item, list):
            parent[key] = copy = [None] * len(item)
            stack.extend((v, copy, i) for i, v in enumerate(item))
        elif isinstance(item, dict):
            mapping: dict[Any, Any] = {}
            parent[key] = mapping
            pending = []
            for k, v in item.items():
                k = _text(k) if isinstance(k, str) else k
                mapping[k] = None  # keeps the order of keys
                pending.append((v, mapping, k))
            stack.extend(reversed(pending))  # popped in order: a key repeated after scrubbing keeps the last value
        else:
            parent[key] = item
    return root[0]


def _holds_surrogate(value: Any) -> bool:
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            todo.extend(item.keys())
            todo.extend(item.values())
    return False


def _text(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value) if _SURROGATE.search(value) else value


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class Request:
    """One call. `messages` for model targets; `variables` (the case) for http/command/python targets."""

    messages: tuple[ChatMessage, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)  # temperature, max_tokens, top_p, response_format...
    variables: Mapping[str, Any] = field(default_factory=dict)
    case_id: str | None = None
    repeat: int = 0
    # Per-attempt limit in seconds; None means the target's own (models.yaml `timeout`, the spec's).
    # Not part of any cache or cassette key: it does not shape the answer.
    timeout_s: float | None = None


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None = None
    output_tokens: int | None = None
    cached_input_tokens: int | None = None


@dataclass(frozen=True)
class Response:
    content: str
    usage: Usage = field(default_factory=Usage)
    latency_s: float = 0.0
    model: str | None = None
    finish_reason: str | None = None
    cached: bool = False  # served from prodgate's response cache or a cassette, not the network
    answered_by: str | None = None  # the models.yaml name that answered (differs from the target after a fallback)
    attempts: int = 1  # calls it took, retries included
    ttft_s: float | None = None  # time to the first content token, for streamed answers
    # Who produced a recorded or cached answer (keys.producer: provider, model, host, params); None for a live
    # answer, whose producer is the target itself, and for a recording made before producers were kept.
    producer: Mapping[str, Any] | None = None

    def __post_init__(self) -> None:
        # Every provider's answer passes here: what a model or an app wrote is made encodable once, for all.
        for name in ("content", "model", "finish_reason", "answered_by"):
            object.__setattr__(self, name, valid_unicode(getattr(self, name)))


class ProviderError(Exception):
    """A call that failed; `retryable` says whether trying again may help (429, 5xx, timeouts)."""

    def __init__(self, category: Category, message: str, *, status: int | None = None, retryable: bool = False,
                 retry_after_s: float | None = None, attempts: int = 1, model: str | None = None) -> None:
        message = valid_unicode(message)  # it may quote what a server or a program wrote
        super().__init__(message)
        self.category = category
        self.message = message
        self.status = status
        self.retryable = retryable
        self.retry_after_s = retry_after_s
        self.attempts = attempts  # calls made before giving up, retries included
        self.model = model  # the models.yaml name that failed last, for model targets


class Provider(Protocol):
    """Anything that answers a Request. Implementations must be safe to call from several threads."""

    def identity(self) -> Mapping[str, Any]:
        """Everything about the target that shapes the answer (kind, url, model...): part of cache keys."""
        ...

    def complete(self, request: Request) -> Response:
        """Answer or raise ProviderError; never another exception for a transport or output problem."""
        ...
