"""What the built-in scenarios send: chat messages from the suites' cases, or HTTP requests from a dataset."""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.context import CheckContext
from gate.errors import CheckIncomplete
from gate.files import MAX_DATA_BYTES, FileError, lines, loads_json, read_text
from gate.prompts import PromptFile, load_prompt, render_template
from gate.render.words import counted
from gate.report import Finding, Severity
from gate.yamlfile import YamlError

from .config import ChatConfig, LoadConfig

MAX_REQUESTS = 500
_PARAMS = {"maxTokens": "max_tokens"}


@dataclass(frozen=True)
class Traffic:
    requests: tuple[Mapping[str, Any], ...]
    source: str  # where the requests came from, for the report
    findings: tuple[Finding, ...] = ()


def _spread(items: Sequence[Mapping[str, Any]]) -> tuple[Mapping[str, Any], ...]:
    """At most MAX_REQUESTS, evenly spaced, so every suite keeps its share and the spec stays small."""
    if len(items) <= MAX_REQUESTS:
        return tuple(items)
    step = len(items) / MAX_REQUESTS
    return tuple(items[int(i * step)] for i in range(MAX_REQUESTS))


def chat_traffic(ctx: CheckContext, cfg: LoadConfig) -> Traffic:
    return chat_requests(ctx, cfg.chat, "load")


def chat_requests(ctx: CheckContext, chat: ChatConfig, section: str) -> Traffic:
    """Chat requests from the prompts (or suites) and the dataset `chat` names; `section` names it in messages."""
    findings: list[Finding] = []
    models = _model_ids(ctx)
    if chat.prompts:
        items = _prompt_requests(ctx, list(chat.prompt_files), models, findings)
        source = f"testData of {section}.chat.prompts"
    else:
        suites = _suite_requests(ctx, models, findings)
        if suites is not None:
            items, source = suites
        else:
            items = _prompt_requests(ctx, list(ctx.config.prompt_files), models, findings)
            source = "testData of the prompt files"
    if chat.dataset is not None:
        extra = _dataset_messages(ctx, chat.dataset, findings)
        items += extra
        source += f" and {counted(len(extra), 'row')} of {ctx.display(chat.dataset)}"
    for item in items:
        if chat.model:
            item["model"] = chat.model
        if chat.max_tokens:
            item["max_tokens"] = chat.max_tokens
    if not items:
        raise CheckIncomplete(f"nothing to send: no prompt file has testData and {section}.chat.dataset gives no rows")
    return Traffic(_spread(items), f"{counted(len(items), 'request')} from the {source}", tuple(findings))


def _model_ids(ctx: CheckContext) -> dict[str, str]:
    if ctx.config.models_path is None:
        return {}
    from gate.models import load_models

    return {name: m.model for name, m in load_models(ctx.config.models_path, ctx.config.display).models.items()}


def _entry(messages: list[dict[str, str]], model: str | None, params: Mapping[str, Any],
           models: Mapping[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"messages": messages, "model": models.get(model or "", model) or "default"}
    if params.get("max_tokens"):
        entry["max_tokens"] = params["max_tokens"]
    return entry


def _prompt_requests(ctx: CheckContext, files: list[Path], models: Mapping[str, str],
                     findings: list[Finding]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for path in files:
        display = ctx.display(path)
        try:
            prompt = load_prompt(path, display)
        except YamlError as exc:
            findings.append(Finding(Severity.ERROR, exc.problem, display, exc.line, exc.column))
            continue
        if not isinstance(prompt.data, dict):
            continue  # the schema check reports it
        params = {_PARAMS[k]: v for k, v in prompt.parameters.items() if k in _PARAMS}
        out += [_entry(_messages(prompt, row), prompt.model, params, models) for row in prompt.test_data]
    return out


def _messages(prompt: PromptFile, variables: Mapping[str, Any]) -> list[dict[str, str]]:
    # `expected` fills evaluator templates, never the messages a model sees.
    shown = {k: v for k, v in variables.items() if k != "expected"}
    return [{"role": m.role, "content": m.content} for m in prompt.render(shown)]


def _suite_requests(ctx: CheckContext, models: Mapping[str, str],
                    findings: list[Finding]) -> tuple[list[dict[str, Any]], str] | None:
    """The regression suites' cases, when gate.yaml has a regression section (None: no suites to read)."""
    if ctx.config.section("regression") is None:
        return None
    try:
        from ..regression.config import parse_config
        from ..regression.suites import SuiteLoader
    except ImportError:
        return None
    loader = SuiteLoader(ctx, parse_config(ctx.config))
    suites = loader.load()
    findings += loader.findings
    out: list[dict[str, Any]] = []
    for suite in suites:
        model = (suite.target or {}).get("model")
        for case in suite.cases:
            for request in suite.requests_for(case)[:1]:
                if request.messages:
                    messages = [{"role": m.role, "content": m.content} for m in request.messages]
                    out.append(_entry(messages, model, request.params, models))
    return out, f"cases of {counted(len(suites), 'regression suite')}"


def _dataset_messages(ctx: CheckContext, path: Path, findings: list[Finding]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for line, row in _jsonl(ctx, path, findings):
        messages = row.get("messages")
        ok = isinstance(messages, list) and messages and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
            for m in messages)
        if not ok:
            findings.append(Finding(Severity.ERROR, "a row needs `messages`: a list of {role, content} strings",
                                    ctx.display(path), line))
            continue
        out.append({"messages": messages, "model": str(row.get("model") or "default")})
    return out


def _jsonl(ctx: CheckContext, path: Path, findings: list[Finding]) -> list[tuple[int, dict[str, Any]]]:
    display = ctx.display(path)
    try:
        text = read_text(path, display, max_bytes=MAX_DATA_BYTES)
    except FileError as exc:
        findings.append(Finding(Severity.ERROR, exc.problem, display, exc.line or 1))
        return []
    rows: list[tuple[int, dict[str, Any]]] = []
    for n, line in lines(text):
        if not line.strip():
            continue
        try:
            row = loads_json(line)
        except ValueError as exc:
            findings.append(Finding(Severity.ERROR, f"not valid JSON: {exc.args[0] if exc.args else exc}",
                                    display, n))
            continue
        if not isinstance(row, dict):
            findings.append(Finding(Severity.ERROR, "a row must be a JSON object", display, n))
            continue
        rows.append((n, row))
    return rows


def fill(template: Any, variables: Mapping[str, Any]) -> Any:
    """A JSON template with `{{var}}` placeholders; a string that is exactly one placeholder keeps the value's type."""
    if isinstance(template, str):
        stripped = template.strip()
        if stripped.startswith("{{") and stripped.endswith("}}") and stripped[2:-2] in variables \
                and stripped.count("{{") == 1:
            return variables[stripped[2:-2]]
        return render_template(template, {k: v if isinstance(v, str) else json.dumps(v) for k, v in variables.items()})
    if isinstance(template, list):
        return [fill(v, variables) for v in template]
    if isinstance(template, dict):
        return {k: fill(v, variables) for k, v in template.items()}
    return template


def fill_path(template: str, variables: Mapping[str, Any]) -> str:
    """A path template: values are URL-quoted, so a row cannot change the path's shape."""
    quoted = {k: urllib.parse.quote(v if isinstance(v, str) else json.dumps(v), safe="") for k, v in variables.items()}
    return render_template(template, quoted)


def http_traffic(ctx: CheckContext, cfg: LoadConfig) -> Traffic:
    assert cfg.http is not None
    findings: list[Finding] = []
    rows = _jsonl(ctx, cfg.http.dataset, findings) if cfg.http.dataset is not None else [(0, {})]
    items: list[Mapping[str, Any]] = [{"path": fill_path(cfg.http.path, row), "body": fill(cfg.http.body, row)}
                                      for _, row in rows]
    if not items:
        raise CheckIncomplete(f"nothing to send: {ctx.display(cfg.http.dataset or ctx.root)} has no usable row")
    source = f"rows of {ctx.display(cfg.http.dataset)}" if cfg.http.dataset else "load.http"
    return Traffic(_spread(items), f"{counted(len(items), 'request')} from the {source}", tuple(findings))
