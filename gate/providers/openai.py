"""OpenAI-compatible chat completions: OpenAI, Azure OpenAI, GitHub Models, vLLM, Ollama, a LiteLLM proxy."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from typing import Any

from gate.files import loads_json
from gate.models import ModelConfig
from gate.providers import limits, transport
from gate.providers.base import Category, ProviderError, Request, Response, Usage
from gate.providers.keys import merged_params
from gate.redact import clip

# The environment variable a key is read from when models.yaml names none.
DEFAULT_KEY_ENV = {"openai": "OPENAI_API_KEY", "github-models": "GITHUB_TOKEN", "azure-openai": "AZURE_OPENAI_API_KEY"}
AZURE_API_VERSION = "2024-10-21"

def credentials(config: ModelConfig, env: Mapping[str, str], defaults: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(key, problem): the key from the variable models.yaml names, or the provider's usual one."""
    name = config.api_key_env or defaults.get(config.provider)
    if name is None:
        return None, None
    value = env.get(name)
    if value:
        return value, None
    return None, f"environment variable {name} is not set (models.yaml: {config.name})"


def extra_headers(config: ModelConfig, env: Mapping[str, str]) -> tuple[dict[str, str], str | None]:
    headers: dict[str, str] = {}
    for header, var in config.headers_env.items():
        if not env.get(var):
            return {}, f"environment variable {var} for header {header} is not set (models.yaml: {config.name})"
        headers[header] = env[var]
    return headers, None


class OpenAIProvider:
    """POST {url}/chat/completions. Set `stream: true` in params to stream (time to first token measured;
    a stream that ends before [DONE] is output.truncated)."""

    def __init__(self, config: ModelConfig, env: Mapping[str, str], *, timeout: float | None = None) -> None:
        self.config = config
        self.timeout = timeout or config.timeout
        key, problem = credentials(config, env, DEFAULT_KEY_ENV)
        headers, header_problem = extra_headers(config, env)
        self.problem = problem or header_problem
        self.headers = {"Content-Type": "application/json", **headers}
        self.query: dict[str, str] = {}
        base = (config.url or "").rstrip("/")
        if config.provider == "azure-openai":
            if key:
                self.headers["api-key"] = key
            if "/deployments/" not in base and not base.endswith("/openai/v1"):
                base = f"{base}/openai/deployments/{config.model}"
            if not base.endswith("/openai/v1"):
                self.query["api-version"] = config.api_version or AZURE_API_VERSION
        elif key:
            self.headers["Authorization"] = f"Bearer {key}"
        self.url = f"{base}/chat/completions"

    def identity(self) -> Mapping[str, Any]:
        return {"kind": self.config.provider, "url": self.url, "model": self.config.model,
                "api_version": self.query.get("api-version"), "params": dict(self.config.params)}

    def complete(self, request: Request) -> Response:
        if self.problem:
            raise ProviderError(Category.CLIENT_ERROR, self.problem, model=self.config.name)
        params = merged_params(self.config.params, request.params)
        stream = bool(params.pop("stream", False))
        body: dict[str, Any] = {"model": self.config.model,
                                "messages": [{"role": m.role, "content": m.content} for m in request.messages], **params}
        headers = self.headers
        if stream:
            body["stream"] = True
            body.setdefault("stream_options", {"include_usage": True})
            # Read raw, line by line: no compression to undo.
            headers = {**self.headers, "Accept-Encoding": "identity"}
        timeout = request.timeout_s or self.timeout
        limits.before_call()
        started = time.monotonic()
        resp = transport.send("POST", self.url, timeout=timeout, headers=headers, json_body=body,
                              params=self.query or None, stream=stream)
        try:
            if stream:
                return self._read_stream(resp, started, timeout)
            data = transport.json_body(resp, self.url)
        finally:
            resp.close()
        return self._parse(data, time.monotonic() - started)

    def _parse(self, data: Any, latency: float) -> Response:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            # Some proxies answer 200 with an error object instead of a status.
            err = data.get("error") if isinstance(data, dict) else None
            detail = err.get("message") if isinstance(err, dict) else err if isinstance(err, str) else None
            raise ProviderError(Category.SERVER_ERROR, f"no choices in the answer from {self.url}"
                                + (f": {clip(str(detail), 200)}" if detail else ""), retryable=True)
        choice = choices[0]
        message: dict[str, Any] = choice["message"] if isinstance(choice.get("message"), dict) else {}
        content = _text(message.get("content"))
        if not content and isinstance(message.get("refusal"), str):
            content = message["refusal"]
        return Response(content=content, usage=usage_of(data.get("usage")), latency_s=latency,
                        model=data.get("model") if isinstance(data.get("model"), str) else self.config.model,
                        finish_reason=choice.get("finish_reason"), answered_by=self.config.name)

    def _read_stream(self, resp: transport.HttpResponse, started: float, timeout: float) -> Response:
        parts: list[str] = []
        ttft: float | None = None
        finish: str | None = None
        usage: Usage = Usage()
        model: str | None = None
        done = False
        for event in _events(resp, self.url, started, timeout):
            if event == "[DONE]":
                done = True
                break
            if not isinstance(event, dict):
                continue
            model = event.get("model") if isinstance(event.get("model"), str) else model
            if isinstance(event.get("usage"), dict):
                usage = usage_of(event["usage"])
            for choice in event.get("choices") or []:
                if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                    continue
                delta: dict[str, Any] = choice["delta"] if isinstance(choice.get("delta"), dict) else {}
                piece = _text(delta.get("content"))
                if piece:
                    parts.append(piece)
                    if ttft is None:
                        ttft = time.monotonic() - started
                finish = choice.get("finish_reason") or finish
        if not done and finish is None:
            raise ProviderError(Category.TRUNCATED, f"the stream from {self.url} ended before it finished "
                                f"({len(''.join(parts))} characters received)", retryable=True)
        return Response(content="".join(parts), usage=usage, latency_s=time.monotonic() - started,
                        model=model or self.config.model, finish_reason=finish, answered_by=self.config.name,
                        ttft_s=ttft)


def _events(resp: transport.HttpResponse, where: str, started: float, timeout: float) -> Iterator[Any]:
    """Server-sent events, `data:` lines only, read line by line as they arrive (a buffered read would wait
    for more bytes and misstate the time to first token); the whole stream must finish within the timeout."""
    try:
        while True:
            raw = resp.readline()
            if not raw:
                return
            if time.monotonic() - started > timeout:
                raise ProviderError(Category.TIMEOUT, f"the stream from {where} took longer than {timeout:g} s",
                                    retryable=True)
            line = raw.decode("utf-8", "replace").strip()
            if not line.startswith("data:"):
                continue
            payload = line[5:].strip()
            if payload == "[DONE]":
                yield payload
                return
            try:
                yield loads_json(payload, finite=False)
            except ValueError as exc:
                raise ProviderError(Category.SERVER_ERROR, f"malformed JSON in the stream from {where}",
                                    retryable=True) from exc
    except TimeoutError as exc:
        raise ProviderError(Category.TIMEOUT, f"the stream from {where} stalled for {timeout:g} s",
                            retryable=True) from exc
    except OSError as exc:
        raise ProviderError(Category.TRUNCATED, f"the stream from {where} was cut off", retryable=True) from exc


def usage_of(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    details = raw.get("prompt_tokens_details")
    cached = details.get("cached_tokens") if isinstance(details, dict) else None
    return Usage(input_tokens=_int(raw.get("prompt_tokens")), output_tokens=_int(raw.get("completion_tokens")),
                 cached_input_tokens=_int(cached))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(content: Any) -> str:
    """A message's content: a string, or a list of parts of which the text ones count."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""
