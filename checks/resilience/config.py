"""The `resilience:` section of gate.yaml as typed values; every problem is a ConfigError at its line."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from gate.config import GateConfig

from ..load.config import ChatConfig, TargetConfig, fraction, parse_chat, parse_target, seconds
from ..load.thresholds import Threshold, ThresholdError, parse
from .faults import Fault, How, Kind

SECTION = "resilience"
DEFAULT_REQUESTS = 20
DEFAULT_CONCURRENCY = 4
DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_DURATION = 600.0
MAX_SCENARIO_S = 120.0


@dataclass(frozen=True)
class UpstreamConfig:
    name: str  # how faults name it: `name`, else the environment variable
    env: str  # the variable the service reads the provider's base URL from
    to: str  # the real provider, or a stub (`{port}` with `start`)
    target: TargetConfig | None  # how to start it, when the gate starts it


@dataclass(frozen=True)
class Expect:
    success_rate: Threshold | None = None
    latency: tuple[Threshold, ...] = ()
    ttft: tuple[Threshold, ...] = ()
    fallback: str | None = None  # a model's name in models.yaml (or its id)
    fallback_id: str | None = None
    max_upstream_calls_per_request: int | None = None
    time_to_error: Threshold | None = None
    lines: Mapping[str, int] = field(default_factory=dict)  # expectation -> gate.yaml line


@dataclass(frozen=True)
class Scenario:
    name: str
    faults: tuple[Fault, ...]
    expect: Expect
    requests: int
    concurrency: int
    line: int


@dataclass(frozen=True)
class ResilienceConfig:
    target: TargetConfig
    upstreams: tuple[UpstreamConfig, ...]
    chat: ChatConfig
    timeout_s: float
    seed: int
    request_id_header: str
    scenarios: tuple[Scenario, ...]
    model_names: Mapping[str, str]  # model id -> its name in models.yaml
    max_duration_s: float = DEFAULT_MAX_DURATION  # the whole check; the scenarios left when it is up are not run
    max_duration_line: int = 0

    def scenario_budget_s(self, scenario: Scenario) -> float:
        """The longest a scenario may take: every round of requests timing out, at most MAX_SCENARIO_S."""
        rounds = -(-scenario.requests // scenario.concurrency)
        return min(MAX_SCENARIO_S, rounds * (self.timeout_s + 1) + 5)


def parse_resilience(config: GateConfig) -> ResilienceConfig:
    raw = config.section(SECTION) or {}
    target = parse_target(config, raw.get("target") or {}, (SECTION, "target"))
    upstreams = tuple(_upstream(config, u, i) for i, u in enumerate(raw.get("upstreams") or []))
    names = [u.name for u in upstreams]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise config.error([SECTION, "upstreams", i], f"two upstreams are named {name!r}: give one a `name`")
    models = _models(config)
    chat = parse_chat(config, raw.get("chat") or {}, (SECTION, "chat"))
    requests, concurrency = int(raw.get("requests", DEFAULT_REQUESTS)), int(raw.get("concurrency", DEFAULT_CONCURRENCY))
    timeout_s = seconds(raw.get("timeout", DEFAULT_TIMEOUT))
    if timeout_s <= 0:
        raise config.error([SECTION, "timeout"], f"timeout must be above 0, not {raw.get('timeout')!r}")
    max_duration_s = seconds(raw.get("max_duration", DEFAULT_MAX_DURATION))
    if max_duration_s <= 0:
        raise config.error([SECTION, "max_duration"], f"max_duration must be above 0, not {raw.get('max_duration')!r}")
    scenarios = []
    for i, s in enumerate(raw.get("scenarios") or []):
        scenarios.append(_scenario(config, s, i, names, models, requests, concurrency))
        if scenarios[-1].expect.ttft and not chat.stream:  # it could only ever fail, with "no answer to measure"
            raise config.error([SECTION, "scenarios", i, "expect", "ttft"], "ttft needs streamed requests "
                               "(resilience.chat.stream: true): a plain answer has no first token")
    seen = [s.name for s in scenarios]
    for i, name in enumerate(seen):
        if name in seen[:i]:
            raise config.error([SECTION, "scenarios", i, "name"], f"two scenarios are named {name!r}")
    return ResilienceConfig(target, upstreams, chat, timeout_s, int(raw.get("seed", 0)),
                            str(raw.get("request_id_header", "X-Request-Id")), tuple(scenarios),
                            {model_id: name for name, model_id in reversed(list(models.items()))},
                            max_duration_s, config.doc.locate((SECTION, "max_duration")).line)


def _upstream(config: GateConfig, u: Mapping[str, Any], i: int) -> UpstreamConfig:
    at: tuple[str | int, ...] = (SECTION, "upstreams", i)
    to = str(u["to"])
    if "{port}" in to and "start" not in u:
        raise config.error([*at, "to"], "to uses {port} but there is no `start`: the gate would not know what "
                                        "listens there")
    parts = urlsplit(to.replace("{port}", "1"))
    if parts.query or parts.fragment or parts.username or parts.password:
        raise config.error([*at, "to"], f"{to!r}: give scheme, host, port and path only (no credentials, query "
                                        "or fragment)")
    target = None
    if "start" in u:
        target = parse_target(config, {k: u[k] for k in ("start", "cwd", "ready", "ready_timeout") if k in u}
                              | {"url": _origin(to)}, at)
    return UpstreamConfig(str(u.get("name") or u["env"]), str(u["env"]), to.rstrip("/"), target)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _models(config: GateConfig) -> dict[str, str]:
    """name -> model id of models.yaml (empty without one: faults then name model ids as the service sends them)."""
    if config.models_path is None:
        return {}
    from gate.models import load_models

    return {name: m.model for name, m in load_models(config.models_path, config.display).models.items()}


def _model(config: GateConfig, value: Any, at: Sequence[str | int], models: Mapping[str, str]) -> tuple[str, str]:
    """(name, id) of a model a scenario names: a models.yaml name, or an id one of its entries uses."""
    text = str(value)
    if not models:
        return text, text
    if text in models:
        return text, models[text]
    for name, model_id in models.items():
        if model_id == text:
            return name, model_id
    close = difflib.get_close_matches(text, list(models), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(models)})"
    raise config.error(list(at), f"unknown model {text!r}: not a name or model id of models.yaml{hint}")


def _scenario(config: GateConfig, s: Mapping[str, Any], i: int, upstreams: Sequence[str], models: Mapping[str, str],
              requests: int, concurrency: int) -> Scenario:
    at: tuple[str | int, ...] = (SECTION, "scenarios", i)
    raw_faults = s.get("faults") or []
    faults = tuple(_fault(config, f, (*at, "faults", j), upstreams, models) for j, f in enumerate(raw_faults))
    return Scenario(str(s["name"]), faults, _expect(config, s.get("expect") or {}, (*at, "expect"), models),
                    int(s.get("requests", requests)), int(s.get("concurrency", concurrency)),
                    config.doc.locate(at).line)


# The options each type of fault reads; one given to another type would be silently ignored.
OPTIONS = {Kind.OUTAGE: ("how", "status"), Kind.RATE_LIMIT: ("retry_after",), Kind.SLOW: ("ttfb", "per_chunk"),
           Kind.TRUNCATE: ("after_bytes",), Kind.MALFORMED: (), Kind.FLAP: ("down", "every", "how", "status")}
_COMMON = ("type", "upstream", "model", "share")


def _fault(config: GateConfig, f: Mapping[str, Any], at: tuple[str | int, ...], upstreams: Sequence[str],
           models: Mapping[str, str]) -> Fault:
    kind = Kind(f["type"])
    for key in f:
        if key not in _COMMON and key not in OPTIONS[kind]:
            owners = [k.value for k, keys in OPTIONS.items() if key in keys]
            raise config.error([*at, key], f"`{key}` is an option of {' and '.join(owners)}, not of {kind.value}")
    if kind is Kind.SLOW and not (seconds(f.get("ttfb", 0)) > 0 or seconds(f.get("per_chunk", 0)) > 0):
        raise config.error(list(at), "a slow fault needs `ttfb` or `per_chunk` above 0 (e.g. ttfb: 2s)")
    upstream = None
    if "upstream" in f:
        upstream = str(f["upstream"])
        if upstream not in upstreams:
            close = difflib.get_close_matches(upstream, list(upstreams), n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(upstreams) or 'none'})"
            raise config.error([*at, "upstream"], f"unknown upstream {upstream!r}{hint}")
    name = model_id = None
    if "model" in f:
        name, model_id = _model(config, f["model"], (*at, "model"), models)
    if kind is Kind.FLAP and ("down" not in f or "every" not in f):
        raise config.error(list(at), "a flap needs `down` and `every` (e.g. down: 2s, every: 5s)")
    down, every = seconds(f.get("down", 0)), seconds(f.get("every", 0))
    if kind is Kind.FLAP and not 0 < down < every:
        raise config.error([*at, "down"], f"down ({down:g}s) must be above 0 and shorter than every ({every:g}s)")
    share = fraction(f.get("share", 1.0))
    if not 0 < share <= 1:
        raise config.error([*at, "share"], f"share must be above 0% and at most 100%, not {f.get('share')!r}")
    return Fault(kind, upstream, model_id, name, share, How(f.get("how", How.ERROR.value)), int(f.get("status", 503)),
                 seconds(f.get("retry_after", 1)), seconds(f.get("ttfb", 0)), seconds(f.get("per_chunk", 0)),
                 int(f.get("after_bytes", 64)), down, every, config.doc.locate(at).line)


def _threshold(config: GateConfig, metric: str, text: str, at: Sequence[str | int], index: int = 0,
               wording: str | None = None) -> Threshold:
    """A k6-style threshold; `wording` says what the key takes, in place of a message about the threshold the
    gate made of its value (which is not what the user wrote)."""
    try:
        return parse(metric, text, index)
    except ThresholdError as exc:
        raise config.error(list(at), wording or str(exc)) from None


def _expect(config: GateConfig, e: Mapping[str, Any], at: tuple[str | int, ...], models: Mapping[str, str]) -> Expect:
    lines = {key: config.doc.locate((*at, key)).line for key in e}
    success = None
    if "success_rate" in e:
        raw = str(e["success_rate"]).strip()
        success = _threshold(config, "error_rate", raw if raw.startswith("rate") else "rate " + raw,
                             (*at, "success_rate"), wording="success_rate must compare the share of requests "
                             f"answered with one from 0% to 100%, such as '>= 95%', not {raw!r}")
    trends: dict[str, tuple[Threshold, ...]] = {}
    for metric in ("latency", "ttft"):
        value = e.get(metric) or []
        items = [value] if isinstance(value, str) else list(value)
        trends[metric] = tuple(_threshold(config, metric, str(t), (*at, metric) if isinstance(value, str)
                                          else (*at, metric, k), k) for k, t in enumerate(items))
    fallback = fallback_id = None
    if "fallback" in e:
        fallback, fallback_id = _model(config, e["fallback"], (*at, "fallback"), models)
    tte = None
    if "time_to_error" in e:
        raw = str(e["time_to_error"]).strip()
        tte = _threshold(config, "latency", "max <= " + raw if raw[:1].isdigit() or raw[:1] == "-" else raw,
                         (*at, "time_to_error"), wording="time_to_error must be a duration such as 5s, or a "
                         f"threshold such as 'p(95) < 2s' (durations not below 0), not {raw!r}")
    calls = e.get("max_upstream_calls_per_request")
    return Expect(success, trends["latency"], trends["ttft"], fallback, fallback_id,
                  int(calls) if calls is not None else None, tte, lines)

