"""Build a provider from a target spec.

A target spec is a mapping with exactly one of these keys, plus an optional `timeout` (seconds per
attempt, overriding the target's own):

    {"model": "primary"}                 a models.yaml name: its provider, `params` and `timeout`, and its
                                         fallback chain; a "publisher/model" id not in models.yaml means
                                         GitHub Models with GITHUB_TOKEN (as gh-models reads prompt files)
    {"http": {"url": ..., "method": "POST", "headers": {...}, "headers_env": {"Header": "ENV"},
              "body": {...template...}, "query": {...}, "answer": "$.answer",
              "usage": {"input_tokens": "$.usage.in", "output_tokens": "$.usage.out"}, "timeout": 30}}
                                         the team's own endpoint (gate.providers.endpoint)
    {"command": "python app.py"}         or a list of arguments; case JSON on stdin, {"output", "usage"} on stdout
    {"python": "pkg.mod:function"}       called with the case dict; the gate.yaml folder on sys.path
    {"replay": "cassettes/x.jsonl"}      a cassette, relative to the gate.yaml folder

Command and python targets receive the case as {"id", "repeat", "vars", "messages"}.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gate.models import ModelConfig, ModelsFile
from gate.prompts import is_model_id
from gate.providers.base import Provider
from gate.providers.cassette import ReplayProvider
from gate.providers.command import CommandProvider
from gate.providers.endpoint import HttpProvider
from gate.providers.fallback import FallbackProvider
from gate.providers.keys import producer
from gate.providers.pycall import PythonProvider
from gate.providers.spec import KINDS, TargetError, expect_timeout


class TargetUnavailable(TargetError):
    """The spec is fine but nothing in it can be called here (no model in the chain has its key): exit 3."""


def build_provider(spec: Mapping[str, Any], models: ModelsFile | None, root: Path,
                   env: Mapping[str, str]) -> Provider:
    if not isinstance(spec, Mapping):
        raise TargetError(f"a target must be a mapping with one of: {', '.join(KINDS)}")
    kinds = [k for k in KINDS if k in spec]
    unknown = sorted(set(spec) - set(KINDS) - {"timeout"})
    if unknown:
        raise TargetError(f"target: unknown key {unknown[0]!r} (one of {', '.join(KINDS)}, and timeout)")
    if len(kinds) != 1:
        raise TargetError(f"a target needs exactly one of {', '.join(KINDS)}" +
                          (f", not {' and '.join(kinds)}" if kinds else ""))
    kind = kinds[0]
    value = spec[kind]
    timeout = expect_timeout(spec.get("timeout"), "target")
    if kind == "model":
        return model_target(value, models, env, timeout=timeout)
    if kind == "http":
        return HttpProvider(value, env, timeout=timeout)
    if kind == "command":
        return CommandProvider(value, root, env, timeout=timeout)
    if kind == "python":
        return PythonProvider(value, root, timeout=timeout)
    if not isinstance(value, str) or not value:
        raise TargetError("replay must be the path of a cassette file")
    return ReplayProvider(root / value, display=value)


def model_config(name: str, models: ModelsFile | None) -> ModelConfig:
    if models is not None and name in models.models:
        return models.models[name]
    if is_model_id(name):  # the rule the schema check applies to prompt files: one for both
        return ModelConfig(name=name, provider="github-models", model=name, api_key_env="GITHUB_TOKEN")
    where = f" in {models.display}" if models is not None else " (gate.yaml names no models file)"
    raise TargetError(f"model: no model named {name!r}{where}")


def model_provider(config: ModelConfig, env: Mapping[str, str], *, timeout: float | None = None) -> Provider:
    # Imported here: the HTTP client they load is not needed to read recordings (model_links) or to validate.
    from gate.providers.anthropic import AnthropicProvider
    from gate.providers.openai import OpenAIProvider

    if config.provider == "anthropic":
        return AnthropicProvider(config, env, timeout=timeout)
    return OpenAIProvider(config, env, timeout=timeout)


def model_target(name: Any, models: ModelsFile | None, env: Mapping[str, str], *,
                 timeout: float | None = None) -> Provider:
    """A models.yaml name with its fallback chain (a single model needs no chain)."""
    if not isinstance(name, str) or not name:
        raise TargetError("model must be the name of a model in models.yaml")
    first = model_config(name, models)
    names = models.chain(name) if models is not None and name in models.models else [name]
    links: list[tuple[str, Provider]] = []
    problems: list[str] = []
    for n in names:
        config = first if n == name else model_config(n, models)
        provider = model_provider(config, env, timeout=timeout)
        links.append((n, provider))
        problem = getattr(provider, "problem", None)
        if problem:
            problems.append(problem)
    if len(problems) == len(links):
        raise TargetUnavailable("; ".join(problems))
    return links[0][1] if len(links) == 1 else FallbackProvider(links)


def model_links(name: str, models: ModelsFile | None) -> list[tuple[str, dict[str, Any]]]:
    """(models.yaml name, producer) of every link that may answer for the model target `name` (it, then its
    fallbacks), as keys.producer describes the answers a live run records: no key and no network needed.
    Raises TargetError for an unknown name."""
    first = model_config(name, models)
    names = models.chain(name) if models is not None and name in models.models else [name]
    out = []
    for n in names:
        config = first if n == name else model_config(n, models)
        out.append((n, producer({"kind": config.provider, "url": config.url, "model": config.model,
                                 "params": dict(config.params)})))
    return out


def model_producers(name: str, models: ModelsFile | None) -> list[dict[str, Any]]:
    """The producers of model_links, in chain order."""
    return [who for _, who in model_links(name, models)]
