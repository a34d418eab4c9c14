"""What the end of an answer the proxy relayed says: whether its stream reached its last event, and its usage."""

from __future__ import annotations

import json
from typing import Any

# The events that end an answer, in the APIs a service calls: OpenAI's chat stream ends its answer with a finish
# reason and its stream with `[DONE]`; Anthropic's with `message_stop`; OpenAI's Responses API with
# `response.completed`; Gemini's last chunk carries a `finishReason`.
_DONE = b"[DONE]"
_LAST_TYPES = frozenset({"message_stop", "response.completed"})


def stream_ended(tail: bytes) -> bool:
    """Whether the tail of a stream holds an event that ends its answer, on a whole line (a line still being
    written has not reached the service's reader)."""
    whole = tail[:tail.rfind(b"\n") + 1]
    for line in reversed(whole.splitlines()):
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == _DONE:
            return True
        if b"stop" in data or b"finish" in data or b"completed" in data:
            try:
                event = json.loads(data)
            except ValueError:
                continue
            if isinstance(event, dict) and _ends(event):
                return True
    return False


def _ends(event: dict[str, Any]) -> bool:
    if event.get("type") in _LAST_TYPES:
        return True
    for key, reason in (("choices", "finish_reason"), ("candidates", "finishReason")):
        items = event.get(key)
        if isinstance(items, list) and any(isinstance(c, dict) and c.get(reason) for c in items):
            return True
    return False


def usage(tail: bytes) -> tuple[int | None, int | None]:
    """Tokens from the answer's `usage` (the last SSE event carrying one, or the JSON body)."""
    at = tail.rfind(b'"usage"')
    if at < 0:
        return None, None
    candidates = [tail]
    start = tail.rfind(b"data:", 0, at)
    if start >= 0:
        candidates.insert(0, tail[start + 5:].split(b"\n", 1)[0])
    for text in candidates:
        try:
            data = json.loads(text)
        except ValueError:
            continue
        found = data.get("usage") if isinstance(data, dict) else None
        if isinstance(found, dict):
            tin, tout = found.get("prompt_tokens"), found.get("completion_tokens")
            return (tin if isinstance(tin, int) else None), (tout if isinstance(tout, int) else None)
    return None, None
