"""The Anthropic Messages API: system prompt apart, max_tokens required, usage in input/output tokens."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from gate.models import ModelConfig
from gate.providers import limits, transport
from gate.providers.base import Category, ProviderError, Request, Response, Usage
from gate.providers.keys import merged_params
from gate.providers.openai import credentials, extra_headers

API_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024
# Parameters the Messages API accepts; others (response_format, presence_penalty...) it rejects with a 400.
_ACCEPTED = frozenset({"max_tokens", "temperature", "top_p", "top_k", "stop_sequences", "metadata", "thinking",
                       "tool_choice", "tools", "service_tier"})
# Anthropic's stop reasons in the OpenAI spelling the rest of the gate reads.
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


class AnthropicProvider:
    def __init__(self, config: ModelConfig, env: Mapping[str, str], *, timeout: float | None = None) -> None:
        self.config = config
        self.timeout = timeout or config.timeout
        key, problem = credentials(config, env, {"anthropic": "ANTHROPIC_API_KEY"})
        headers, header_problem = extra_headers(config, env)
        self.problem = problem or header_problem
        self.headers = {"Content-Type": "application/json", "anthropic-version": config.api_version or API_VERSION,
                        **headers}
        if key:
            self.headers["x-api-key"] = key
        base = (config.url or "").rstrip("/")
        self.url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "anthropic", "url": self.url, "model": self.config.model, "params": dict(self.config.params)}

    def complete(self, request: Request) -> Response:
        if self.problem:
            raise ProviderError(Category.CLIENT_ERROR, self.problem, model=self.config.name)
        params = merged_params(self.config.params, request.params)
        if "stop" in params and "stop_sequences" not in params:
            stop = params.pop("stop")
            params["stop_sequences"] = [stop] if isinstance(stop, str) else stop
        body: dict[str, Any] = {k: v for k, v in params.items() if k in _ACCEPTED}
        body.setdefault("max_tokens", DEFAULT_MAX_TOKENS)
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        if system:
            body["system"] = system
        body["model"] = self.config.model
        body["messages"] = [{"role": m.role, "content": m.content} for m in request.messages if m.role != "system"]
        timeout = request.timeout_s or self.timeout
        limits.before_call()
        started = time.monotonic()
        resp = transport.send("POST", self.url, timeout=timeout, headers=self.headers, json_body=body)
        try:
            data = transport.json_body(resp, self.url)
        finally:
            resp.close()
        latency = time.monotonic() - started
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise ProviderError(Category.SERVER_ERROR, f"no content in the answer from {self.url}", retryable=True)
        text = "".join(str(b.get("text", "")) for b in blocks if isinstance(b, dict) and b.get("type") == "text")
        raw_usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        # Anthropic counts cache reads and writes apart from input_tokens; the gate's input_tokens is every
        # input token (as OpenAI counts them), cached_input_tokens the part read from the cache.
        fresh = _int(raw_usage.get("input_tokens"))
        read = _int(raw_usage.get("cache_read_input_tokens"))
        written = _int(raw_usage.get("cache_creation_input_tokens"))
        usage = Usage(input_tokens=None if fresh is None else fresh + (read or 0) + (written or 0),
                      output_tokens=_int(raw_usage.get("output_tokens")), cached_input_tokens=read)
        stop = data.get("stop_reason")
        return Response(content=text, usage=usage, latency_s=latency,
                        model=data.get("model") if isinstance(data.get("model"), str) else self.config.model,
                        finish_reason=_FINISH.get(stop, stop) if isinstance(stop, str) else None,
                        answered_by=self.config.name)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
