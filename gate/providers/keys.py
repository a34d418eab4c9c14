"""Stable keys for requests: canonical JSON and SHA-256, the same on every run and machine."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

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


# gh-models spells these in camelCase in prompt files; the APIs want snake_case.
_PARAM_NAMES = {"maxTokens": "max_tokens", "topP": "top_p", "maxCompletionTokens": "max_completion_tokens"}


def merged_params(config_params: Mapping[str, Any], request_params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a model is called with: models.yaml params, then the request's own (a prompt's
    modelParameters) on top."""
    out: dict[str, Any] = {}
    for source in (config_params, request_params):
        for key, value in source.items():
            out[_PARAM_NAMES.get(key, key)] = value
    return out


def as_sent(who: Mapping[str, Any], sent: Mapping[str, Any]) -> Mapping[str, Any]:
    """A model's producer with the parameters a request of `sent` (its own params) is answered with: the model's
    own, the request's on top. Two producers that differ only where the request overrides them answer alike."""
    params = who.get("params")
    if "model" not in who or not isinstance(params, Mapping):
        return who  # an app target, or a hand-made line naming a model alone
    return {**who, "params": merged_params(params, sent)}


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value).encode("utf-8")).hexdigest()


def request_key(request: Request) -> str:
    """The cassette key: the request alone. Which model answered is kept beside it (`producer`) and compared
    with the target's, so a recording never stands in for another model's answer."""
    return digest(request_fields(request))


def url_host(url: Any) -> str | None:
    """The host (and an explicit port) of a base URL, never its credentials or path."""
    if not isinstance(url, str) or not url:
        return None
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    return f"{host}:{port}" if port is not None else host or None


def producer(identity: Mapping[str, Any], answered_by: str | None = None) -> dict[str, Any]:
    """Who produced an answer, from a provider's identity: provider, model id, base URL host and parameters
    for a model; the kind and its spec for an app target. Behind a fallback chain, the link that answered."""
    if identity.get("kind") == "fallback":
        chain = [link for link in identity.get("chain") or [] if isinstance(link, Mapping)]
        link = next((x for x in chain if x.get("name") == answered_by), chain[0] if chain else {})
        return producer(link)
    if "model" in identity:
        return {"provider": identity.get("kind"), "model": identity.get("model"), "host": url_host(identity.get("url")),
                "params": plain(identity.get("params") or {})}
    app: dict[str, Any] = plain({"provider": identity.get("kind"),
                                 **{k: v for k, v in identity.items() if k not in ("kind", "name")}})
    return app


def answered_for(who: Mapping[str, Any] | None, answered_by: str | None,
                 links: Sequence[tuple[str, Mapping[str, Any]]], sent: Mapping[str, Any] | None = None) -> bool:
    """Whether a recorded answer is evidence for a chain of (models.yaml name, producer) links: made by the
    link it says answered (a fallback's answer, recorded when the primary failed), or, naming no link of the
    chain, by its first. So a model that answered as the primary when recorded, and is a fallback now,
    never stands in for the new primary. Parameters are compared as the model is called with them: `sent`
    (the request's own, a prompt's modelParameters, which the request key holds) on top of each side's."""
    if who is None or not links:
        return False
    by_name = dict(links)
    link = by_name[answered_by] if answered_by is not None and answered_by in by_name else links[0][1]
    return as_sent(who, sent or {}) == as_sent(link, sent or {})


def producers(identity: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every producer that may answer for a target: each link of a fallback chain, else the target itself."""
    if identity.get("kind") == "fallback":
        return [producer(link) for link in identity.get("chain") or [] if isinstance(link, Mapping)]
    return [producer(identity)]


def describe(who: Mapping[str, Any], other: Mapping[str, Any] | None = None) -> str:
    """A producer as a reviewer names it: the model id, plus whatever tells it apart from `other`. Each part
    is cut short: a cassette is the checkout's, and may say anything."""
    name = _short(who.get("model") or who.get("provider") or "an unknown producer")
    if other is None:
        return name
    extra = [f"{key} unknown" if who.get(key) is None else f"{key} {_short(canonical(who.get(key)))}" if key == "params"
             else f"{key} {_short(who.get(key))}" for key in ("provider", "host", "params") if who.get(key) != other.get(key)]
    return f"{name} ({', '.join(extra)})" if extra and who.get("model") == other.get("model") else name


def _short(value: Any, limit: int = 80) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def cache_key(identity: Mapping[str, Any], request: Request) -> str:
    """The response-cache key: the target's whole identity (kind, URL, model, parameters) as well, so two
    models, two servers or two settings never share an answer. Parameters as the model is called with them
    (the request's on top of models.yaml's): a models.yaml value every request overrides changes no answer."""
    return digest({"v": 2, "target": plain(as_called(identity, request.params)), "request": request_fields(request)})


def as_called(identity: Mapping[str, Any], sent: Mapping[str, Any]) -> Mapping[str, Any]:
    """A target's identity with each model's parameters as a request of `sent` calls it (as_sent), a fallback
    chain's links each so."""
    if identity.get("kind") == "fallback":
        chain = [as_sent(link, sent) if isinstance(link, Mapping) else link for link in identity.get("chain") or []]
        return {**identity, "chain": chain}
    return as_sent(identity, sent)
