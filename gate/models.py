"""models.yaml: named model configurations with fallback chains, and the problems a file can have."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from gate.files import read_text
from gate.report import non_finite
from gate.schemas import validate
from gate.yamlfile import Position, YamlDocument, YamlError, format_path, parse_yaml

# Providers reached at an address the user must give.
NEEDS_BASE_URL = frozenset({"azure-openai", "openai-compatible", "vllm", "ollama", "litellm"})
DEFAULT_BASE_URLS = {
    "openai": "https://api.openai.com/v1",
    "github-models": "https://models.github.ai/inference",
    "anthropic": "https://api.anthropic.com",
}


@dataclass(frozen=True)
class ModelConfig:
    name: str
    provider: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    api_version: str | None = None
    headers_env: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 60.0
    fallback: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict)

    @property
    def url(self) -> str | None:
        return self.base_url or DEFAULT_BASE_URLS.get(self.provider)


@dataclass(frozen=True)
class Problem:
    message: str
    position: Position


@dataclass(frozen=True)
class ModelsFile:
    display: str
    doc: YamlDocument | None
    models: Mapping[str, ModelConfig]
    default: str | None
    problems: tuple[Problem, ...]

    def chain(self, name: str) -> list[str]:
        """name followed by its fallbacks, depth first (preorder), each once."""
        out: list[str] = []
        seen: set[str] = set()
        stack = [name]
        while stack:
            n = stack.pop()
            if n in seen or n not in self.models:
                continue
            seen.add(n)
            out.append(n)
            stack.extend(reversed(self.models[n].fallback))
        return out


def _fallbacks(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return ()


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _positive(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else None


def load_models(path: Path, display: str) -> ModelsFile:
    """Parse models.yaml; every defect is a Problem with its position, none is raised."""
    try:
        text = read_text(path, display)
    except YamlError as exc:
        return ModelsFile(display, None, {}, None, (Problem(exc.problem, Position(exc.line or 1, exc.column or 1)),))
    return models_from_text(text, display)


# Several checks of one command read the same models.yaml: it is parsed and checked once per content.
@lru_cache(maxsize=8)
def models_from_text(text: str, display: str) -> ModelsFile:
    """models.yaml from its text (the work tree's, or the base commit's)."""
    try:
        doc = parse_yaml(text, display)
    except YamlError as exc:
        return ModelsFile(display, None, {}, None, (Problem(exc.problem, Position(exc.line or 1, exc.column or 1)),))
    if not isinstance(doc.data, dict):
        return ModelsFile(display, doc, {}, None, (Problem("models.yaml must be a mapping with a `models:` key", Position(1, 1)),))
    problems = [Problem(f"{format_path(v.path)}: {v.message}", v.position) for v in validate(doc, "models")]
    for v in problems:
        if "unknown key 'api_key'" in v.message:
            problems[problems.index(v)] = Problem(
                v.message + ": never put a key in a file; name its environment variable with api_key_env", v.position)
    models: dict[str, ModelConfig] = {}
    raw_models = doc.data.get("models")
    if isinstance(raw_models, dict):
        for name, raw in raw_models.items():
            if not isinstance(raw, dict) or not isinstance(raw.get("provider"), str) or not isinstance(raw.get("model"), str):
                continue
            # A value of the wrong type is a schema problem above; here it falls back to the default.
            headers = raw.get("headers_env")
            params = raw.get("params")
            models[name] = ModelConfig(
                name=name, provider=raw["provider"], model=raw["model"], base_url=_str(raw.get("base_url")),
                api_key_env=_str(raw.get("api_key_env")), api_version=_str(raw.get("api_version")),
                headers_env={k: v for k, v in headers.items() if isinstance(v, str)} if isinstance(headers, dict) else {},
                params=dict(params) if isinstance(params, dict) else {},
                timeout=_positive(raw.get("timeout")) or 60.0,
                fallback=_fallbacks(raw.get("fallback")), raw=raw,
            )
    problems += _semantic_problems(doc, models)
    default = doc.data.get("default") if isinstance(doc.data.get("default"), str) else None
    problems.sort(key=lambda p: (p.position.line, p.position.column))
    return ModelsFile(display, doc, models, default, tuple(problems))


def _semantic_problems(doc: YamlDocument, models: Mapping[str, ModelConfig]) -> list[Problem]:
    problems: list[Problem] = []
    default = doc.data.get("default")
    if isinstance(default, str) and default not in models:
        problems.append(Problem(f"default: no model named {default!r} in models", doc.locate(["default"])))
    for name, m in models.items():
        if m.provider in NEEDS_BASE_URL and not m.base_url:
            problems.append(Problem(f"models.{name}: provider {m.provider} needs a base_url", doc.locate(["models", name])))
        raw_fb = m.raw.get("fallback")
        for i, target in enumerate(m.fallback):
            at = ["models", name, "fallback"] + ([i] if isinstance(raw_fb, list) else [])
            if target not in models:
                problems.append(Problem(f"models.{name}.fallback: no model named {target!r}", doc.locate(at)))
            elif target == name:
                problems.append(Problem(f"models.{name}.fallback: a model cannot fall back to itself", doc.locate(at)))
    problems += _cycles(doc, models)
    problems += _non_finite(doc, models)
    return problems


def _cycles(doc: YamlDocument, models: Mapping[str, ModelConfig]) -> list[Problem]:
    """Each fallback cycle once, found by an iterative three-colour depth-first search: linear in models and
    fallback edges (a path-by-path walk is exponential on shared fallback lists) and free of recursion limits."""
    problems: list[Problem] = []
    done: set[str] = set()
    reported: set[str] = set()  # one cycle per model's fallback line is enough to act on
    for start in models:
        if start in done:
            continue
        path: list[str] = [start]  # the grey nodes, in order
        on_path = {start}
        edges: list[Iterator[str]] = [iter(models[start].fallback)]
        while edges:
            nxt = next(edges[-1], None)
            if nxt is None:
                edges.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif nxt in on_path and nxt != path[-1] and nxt not in reported:  # a self-fallback has its own problem
                reported.add(nxt)
                cycle = path[path.index(nxt):]
                problems.append(Problem(
                    f"models.{cycle[0]}.fallback: fallback chain is a cycle: {' -> '.join(cycle + [nxt])}",
                    doc.locate(["models", cycle[0], "fallback"])))
            elif nxt in models and nxt not in done and nxt not in on_path:
                path.append(nxt)
                on_path.add(nxt)
                edges.append(iter(models[nxt].fallback))
    return problems


def _non_finite(doc: YamlDocument, models: Mapping[str, ModelConfig]) -> list[Problem]:
    """A NaN or infinite number in a model (a price, a timeout, a parameter) would be carried silently into
    every figure computed from it ("$nan/mo"): it is a defect at its line."""
    found = non_finite({name: m.raw for name, m in models.items()}, ("models",))
    return [Problem(f"{format_path(at)}: {value} is not a finite number", doc.locate(at)) for at, value in found]
