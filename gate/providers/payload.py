"""What an app target is given for a case, and how its answer is read back."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from gate.prompts import render_template
from gate.providers.base import Category, ProviderError, Request, Response, Usage
from gate.providers.keys import plain

_WHOLE = re.compile(r"\{\{([^{}\s]+)\}\}")


def case_payload(request: Request) -> dict[str, Any]:
    """The case as command and python targets receive it: {"id", "repeat", "vars", "messages"}."""
    return {
        "id": request.case_id,
        "repeat": request.repeat,
        "vars": plain(request.variables),
        "messages": [{"role": m.role, "content": m.content} for m in request.messages],
    }


def template_variables(request: Request) -> dict[str, Any]:
    """The names an http template may use: the case's variables, then `messages`, `case_id`, `repeat`
    where the case has no variable of that name."""
    out: dict[str, Any] = {"messages": [{"role": m.role, "content": m.content} for m in request.messages],
                           "case_id": request.case_id or "", "repeat": request.repeat}
    out.update(plain(request.variables))
    return out


def fill(template: Any, variables: Mapping[str, Any]) -> Any:
    """`{{var}}` inside JSON string values. A string that is only `{{var}}` takes the variable's own JSON
    value (a list stays a list); elsewhere the value is written into the text."""
    if isinstance(template, str):
        whole = _WHOLE.fullmatch(template)
        if whole and whole.group(1) in variables:
            return variables[whole.group(1)]
        text_vars = {k: v if isinstance(v, str) else json.dumps(v) if isinstance(v, (list, dict)) else v
                     for k, v in variables.items()}
        return render_template(template, text_vars)
    if isinstance(template, Mapping):
        return {k: fill(v, variables) for k, v in template.items()}
    if isinstance(template, (list, tuple)):
        return [fill(v, variables) for v in template]
    return template


def as_text(value: Any) -> str:
    """An answer as the metrics see it: a string as is, anything else as JSON."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if type(value) is int:  # `{{k}}` in every http query: json.dumps' own cost for what str() writes the same
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def token_count(value: Any) -> int | None:
    """A token count an app reported: a whole number of tokens, or None for anything else (a string, a bool,
    NaN or Infinity, which JSON parsers accept and int() rejects, a negative number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return int(value)


def usage_from(raw: Any) -> Usage:
    if not isinstance(raw, Mapping):
        return Usage()
    def num(*names: str) -> int | None:
        for name in names:
            count = token_count(raw.get(name))
            if count is not None:
                return count
        return None
    return Usage(input_tokens=num("input_tokens", "prompt_tokens"), output_tokens=num("output_tokens", "completion_tokens"),
                 cached_input_tokens=num("cached_input_tokens"))


def app_answer(value: Any, where: str, latency: float, target: str) -> Response:
    """Read `{"output": ..., "usage": {...}}` (or a bare string) returned by a command or a function."""
    if isinstance(value, str):
        return Response(content=value, latency_s=latency, model=target)
    if isinstance(value, Mapping) and "output" in value:
        finish = value.get("finish_reason")
        return Response(content=as_text(value["output"]), usage=usage_from(value.get("usage")), latency_s=latency,
                        model=target, finish_reason=finish if isinstance(finish, str) else None)
    raise ProviderError(Category.SERVER_ERROR,
                        f"{where} must answer a string or an object with an `output` key, not {type(value).__name__}")
