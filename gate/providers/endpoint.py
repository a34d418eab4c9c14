"""The `http` target: the team's own endpoint, a JSON request template and JSON paths to the answer."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from gate.providers import jsonpath, limits
from gate.providers.base import Category, ProviderError, Request, Response, Usage
from gate.providers.payload import as_text, fill, template_variables, token_count
from gate.providers.spec import TargetError, expect_str, expect_str_map, expect_timeout

KEYS = ("url", "method", "headers", "headers_env", "body", "query", "answer", "usage", "timeout")
METHODS = ("GET", "POST", "PUT", "PATCH")


class HttpProvider:
    """http: {url, method: POST, headers, headers_env: {Header: ENV_VAR}, body: <JSON template>,
    query: {name: template}, answer: "$.path", usage: {input_tokens: "$.path", output_tokens: "$.path"}, timeout}.

    `{{var}}` is replaced inside the url (URL-encoded), query values and JSON string values of body; a string
    that is only `{{var}}` takes the variable's JSON value. Without `answer`, the answer is the whole body
    (a JSON string body is unquoted)."""

    # Its answers depend on code the spec does not show (the app changes in the pull request): never cached.
    cacheable = False

    def __init__(self, raw: Any, env: Mapping[str, str], *, timeout: float | None = None) -> None:
        if not isinstance(raw, Mapping):
            raise TargetError("http must be a mapping with at least `url`")
        unknown = sorted(set(raw) - set(KEYS))
        if unknown:
            raise TargetError(f"http: unknown key {unknown[0]!r} (known: {', '.join(KEYS)})")
        self.url_template = expect_str(raw, "url", "http", required=True) or ""
        if not self.url_template.startswith(("http://", "https://")):
            raise TargetError("http.url must start with http:// or https://")
        self.method = (expect_str(raw, "method", "http") or "POST").upper()
        if self.method not in METHODS:
            raise TargetError(f"http.method must be one of {', '.join(METHODS)}")
        self.headers = {"Accept": "application/json", **expect_str_map(raw.get("headers"), "http.headers")}
        self.problem: str | None = None
        for header, var in expect_str_map(raw.get("headers_env"), "http.headers_env").items():
            if env.get(var):
                self.headers[header] = env[var]
            else:
                self.problem = f"environment variable {var} for header {header} is not set (http.headers_env)"
        self.body = raw.get("body")
        self.query = expect_str_map(raw.get("query"), "http.query")
        self.answer = _path(raw.get("answer"), "http.answer")
        usage = expect_str_map(raw.get("usage"), "http.usage")
        bad = sorted(set(usage) - {"input_tokens", "output_tokens", "cached_input_tokens"})
        if bad:
            raise TargetError(f"http.usage: unknown key {bad[0]!r} (input_tokens, output_tokens, cached_input_tokens)")
        self.usage: dict[str, tuple[str | int, ...]] = {}
        for name, text in usage.items():
            steps = _path(text, f"http.usage.{name}")
            if steps is not None:
                self.usage[name] = steps
        self.timeout = timeout or expect_timeout(raw.get("timeout"), "http") or 60.0
        self.raw_identity = {k: raw.get(k) for k in ("url", "method", "body", "query", "answer")}

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "http", **self.raw_identity}

    def complete(self, request: Request) -> Response:
        data, text, latency, where = self._exchange(request, with_text=True)
        answer = self.answer
        if answer is None:
            content = data if isinstance(data, str) else text or ""
        else:
            content = as_text(self._at_answer(data, where))
        counts: dict[str, int | None] = {}
        for name, steps in self.usage.items():
            try:
                value = jsonpath.find(data, steps)
            except KeyError:
                value = None
            counts[name] = token_count(value)
        return Response(content=content, usage=Usage(**counts), latency_s=latency, model="http")


    def answer_value(self, request: Request) -> tuple[Any, float]:
        """(the answer, seconds) for a reader of JSON: the value at `answer` (else the whole body) as parsed,
        when the body is JSON or `answer` is set; else the body's text. The same answer `complete` gives as
        text, without writing it out and parsing it again (a string it would give as is, this gives as is)."""
        data, text, latency, where = self._exchange(request, with_text=False)
        if self.answer is not None:
            found = self._at_answer(data, where)
            return ("" if found is None else found), latency  # as_text's "" for null
        return (text if text is not None else data), latency

    def _exchange(self, request: Request, *, with_text: bool) -> tuple[Any, str | None, float, str]:
        """(parsed body or None, body text, seconds, where) of one call. The body is parsed when it says it is
        JSON or a path is read from it; its text is decoded when asked for or when it was not parsed (else
        None)."""
        if self.problem:
            raise ProviderError(Category.CLIENT_ERROR, self.problem)
        variables = template_variables(request)
        url = self.url_template
        if "{{" in url:  # a url without placeholders needs none of its variables quoted
            url = fill(url, {k: quote(v if isinstance(v, str) else as_text(v), safe="") for k, v in variables.items()})
        query = {k: as_text(fill(v, variables)) for k, v in self.query.items()} or None
        body = fill(self.body, variables) if self.body is not None and self.method != "GET" else None
        timeout = request.timeout_s or self.timeout
        from gate.providers import transport  # here: validating a target spec (gate validate) sends nothing

        limits.before_call()
        started = time.monotonic()
        resp = transport.send(self.method, url, timeout=timeout, headers=self.headers, json_body=body, params=query)
        where = url.split("?", 1)[0]
        try:
            data: Any = None
            parsed = self.answer is not None or bool(self.usage) or _is_json(resp.headers.get("Content-Type", ""))
            if parsed:
                data = transport.json_body(resp, where)
            text = resp.text if with_text or not parsed else None
        finally:
            resp.close()
        return data, text, time.monotonic() - started, where

    def _at_answer(self, data: Any, where: str) -> Any:
        assert self.answer is not None
        try:
            return jsonpath.find(data, self.answer)
        except KeyError as exc:
            raise ProviderError(Category.SERVER_ERROR,
                                f"the answer from {where} has nothing at {exc.args[0]} "
                                f"(http.answer: {jsonpath.format_path(self.answer)})") from exc


def _is_json(content_type: str) -> bool:
    return "json" in content_type.lower()


def _path(value: Any, where: str) -> tuple[str | int, ...] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TargetError(f"{where} must be a JSON path such as $.answer")
    try:
        return jsonpath.parse(value)
    except jsonpath.PathError as exc:
        raise TargetError(f"{where}: {exc}") from exc
