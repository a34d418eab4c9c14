"""The `load:` section of gate.yaml as typed values; every problem is a ConfigError at its line."""

from __future__ import annotations

import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from gate.config import GateConfig

from .thresholds import STREAM_METRICS, Threshold, parse_all

DEFAULT_BASELINE = ".gate/load-baseline.json"
CHAT_PATH = "/v1/chat/completions"
_DURATION = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0}


class ScenarioKind(str, Enum):
    CHAT = "openai-chat"
    HTTP = "http"
    LOCUSTFILE = "locustfile"


def seconds(value: Any) -> float:
    """A gate.yaml duration (number of seconds, or "500ms" / "5s" / "2m") in seconds; the schema checked its form."""
    if isinstance(value, (int, float)):
        return float(value)
    m = _DURATION.match(str(value))
    if m is None:
        raise ValueError(f"not a duration: {value!r}")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


def fraction(value: Any) -> float:
    """"25%" or 0.25 -> 0.25."""
    if isinstance(value, (int, float)):
        return float(value)
    return float(str(value).strip().rstrip("%").strip()) / 100


@dataclass(frozen=True)
class TargetConfig:
    url: str
    start: tuple[str, ...] | str | None = None
    cwd: Path | None = None
    ready: str | None = None  # None: any HTTP answer on / means it is up; a path must answer 2xx
    ready_timeout_s: float = 30.0
    env: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)
    headers_env: Mapping[str, str] = field(default_factory=dict)
    api_key_env: str | None = None
    # The service's log may hold what a public comment must not: by default it goes to the job summary and
    # the gate's own log only.
    log_in_comment: bool = False
    where: str = "load.target"  # its place in gate.yaml, for messages (the resilience check starts one too)


@dataclass(frozen=True)
class ChatConfig:
    path: str = CHAT_PATH
    model: str | None = None
    max_tokens: int | None = None
    prompts: tuple[str, ...] = ()  # the globs, as written
    prompt_files: tuple[Path, ...] = ()  # the files they match
    dataset: Path | None = None
    stream: bool = True


@dataclass(frozen=True)
class HttpConfig:
    path: str
    method: str = "POST"
    body: Any = None
    dataset: Path | None = None


@dataclass(frozen=True)
class Distributed:
    workers: int
    # Loopback unless gate.yaml opens it: any process that reaches the port can join as a worker and is sent
    # the scenario (every request body), the target URL and the literal headers.
    bind_host: str = "127.0.0.1"
    bind_port: int = 5557
    wait_s: float = 60.0


@dataclass(frozen=True)
class LoadConfig:
    target: TargetConfig
    scenario: ScenarioKind
    locustfile: Path | None
    chat: ChatConfig
    http: HttpConfig | None
    users: int
    spawn_rate: float
    duration_s: float
    warmup_s: float
    arrival_rate: float | None
    max_lag_ms: float
    timeout_s: float
    workers: int
    distributed: Distributed | None
    thresholds: tuple[Threshold, ...]
    threshold_lines: Mapping[tuple[str, int], int]  # (metric, index) -> gate.yaml line
    baseline: Path
    max_p95_increase: Mapping[str, float]
    baseline_rel: str = DEFAULT_BASELINE  # as gate.yaml writes it
    # gate.yaml's line of the section (""), of each key it sets, and of each max_p95_increase limit
    # ("max_p95_increase.latency"): where a finding about that setting points.
    lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def processes(self) -> int:
        """How many generator processes share the load (each takes its part of an arrival rate)."""
        if self.distributed is not None:
            return self.distributed.workers
        return self.workers


def parse_load(config: GateConfig) -> LoadConfig:
    raw = config.section("load") or {}
    target = _target(config, raw.get("target") or {})
    scenario_text = str(raw.get("scenario", ScenarioKind.CHAT.value))
    locustfile = None
    if scenario_text in (ScenarioKind.CHAT.value, ScenarioKind.HTTP.value):
        scenario = ScenarioKind(scenario_text)
    elif scenario_text.endswith(".py"):
        scenario = ScenarioKind.LOCUSTFILE
        locustfile = config.resolve(scenario_text, "load", "scenario")
    else:
        raise config.error(["load", "scenario"], f"unknown scenario {scenario_text!r}: use openai-chat, http, "
                                                 "or the path of a locustfile (*.py)")
    http = None
    if scenario is ScenarioKind.HTTP:
        if "http" not in raw:
            raise config.error(["load", "scenario"], "scenario http needs an `http:` mapping with at least `path`")
        h = raw["http"]
        dataset = config.resolve(h["dataset"], "load", "http", "dataset") if "dataset" in h else None
        http = HttpConfig(h["path"], h.get("method", "POST"), h.get("body"), dataset)
    chat = parse_chat(config, raw.get("chat") or {}, ("load", "chat"))
    if "workers" in raw and "distributed" in raw:
        raise config.error(["load", "distributed"], "`workers` (processes on this machine) and `distributed` "
                                                    "(workers on other machines) cannot be combined")
    distributed = None
    if "distributed" in raw:
        d = raw["distributed"]
        distributed = Distributed(int(d["workers"]), str(d.get("bind_host", Distributed.bind_host)),
                                  int(d.get("bind_port", 5557)), seconds(d.get("wait", 60)))
    users = int(raw.get("users", 10))
    for key in ("duration", "timeout"):  # a zero window measures nothing, and locust would never be stopped
        if key in raw and seconds(raw[key]) <= 0:
            raise config.error(["load", key], f"{key} must be above 0, not {raw[key]!r}")
    thresholds, threshold_lines = _thresholds(config, raw, scenario, chat)
    increase = _increase(raw.get("max_p95_increase"))
    if not _streams(scenario, chat):
        for metric in increase:
            if metric in STREAM_METRICS:  # a non-streamed answer has no first token: its "TTFT" is its latency
                at = ["load", "max_p95_increase", metric] if isinstance(raw["max_p95_increase"], Mapping) \
                    else ["load", "max_p95_increase"]
                raise config.error(at, f"{metric} is measured only on streamed chat answers; "
                                       f"{_why_not_streamed(scenario)}")
    baseline = str(raw.get("baseline", DEFAULT_BASELINE))
    return LoadConfig(
        target=target, scenario=scenario, locustfile=locustfile, chat=chat, http=http, users=users,
        spawn_rate=float(raw.get("spawn_rate", users)), duration_s=seconds(raw.get("duration", 10)),
        warmup_s=seconds(raw.get("warmup", 0)),
        arrival_rate=float(raw["arrival_rate"]) if "arrival_rate" in raw else None,
        max_lag_ms=seconds(raw.get("max_lag", "100ms")) * 1000, timeout_s=seconds(raw.get("timeout", 60)),
        workers=int(raw.get("workers", 1)), distributed=distributed, thresholds=thresholds, threshold_lines=threshold_lines,
        baseline=config.resolve(baseline, "load", "baseline", must_exist=False),
        max_p95_increase=increase, baseline_rel=baseline, lines=_lines(config, raw),
    )


def parse_chat(config: GateConfig, c: Mapping[str, Any], at: tuple[str, ...]) -> ChatConfig:
    """A `chat:` mapping (path, model, max_tokens, prompts, dataset, stream) at path `at` of gate.yaml."""
    prompts = c.get("prompts", ())
    globs: tuple[str, ...] = (prompts,) if isinstance(prompts, str) else tuple(prompts)
    places: list[tuple[str | int, ...]] = ([(*at, "prompts")] if isinstance(prompts, str)
                                           else [(*at, "prompts", i) for i in range(len(globs))])
    return ChatConfig(
        path=c.get("path", CHAT_PATH), model=c.get("model"), max_tokens=c.get("max_tokens"), prompts=globs,
        prompt_files=tuple(sorted({f for g, where in zip(globs, places, strict=True)
                                   for f in config.glob(g, *where, required=True)})),
        dataset=config.resolve(c["dataset"], *at, "dataset") if "dataset" in c else None,
        stream=bool(c.get("stream", True)),
    )


def _target(config: GateConfig, t: Mapping[str, Any]) -> TargetConfig:
    return parse_target(config, t, ("load", "target"))


def parse_target(config: GateConfig, t: Mapping[str, Any], at: tuple[str | int, ...]) -> TargetConfig:
    """A `target:` mapping (url, start, cwd, ready, ...) at path `at` of gate.yaml."""
    start = t.get("start")
    if isinstance(start, list):
        start = tuple(str(a) for a in start)
    elif isinstance(start, str):
        try:
            shlex.split(start)
        except ValueError as exc:  # e.g. "No closing quotation": found now, not when the service should start
            raise config.error([*at, "start"], f"cannot split {start!r} like a shell: {exc}") from None
    cwd = None
    if "cwd" in t:
        cwd = config.resolve(t["cwd"], *at, "cwd")
        if not cwd.is_dir():
            raise config.error([*at, "cwd"], f"{t['cwd']}: not a directory")
    if "{port}" in str(t.get("start", "")) and "{port}" not in t["url"]:
        raise config.error([*at, "start"], "start uses {port} but url does not: the gate would not "
                                                        "know where the service listens")
    return TargetConfig(
        url=str(t["url"]).rstrip("/"), start=start, cwd=cwd, ready=t.get("ready"),
        ready_timeout_s=seconds(t.get("ready_timeout", 30)),
        env={str(k): _env_text(v) for k, v in (t.get("env") or {}).items()},
        headers={str(k): str(v) for k, v in (t.get("headers") or {}).items()},
        headers_env={str(k): str(v) for k, v in (t.get("headers_env") or {}).items()},
        api_key_env=t.get("api_key_env"), log_in_comment=bool(t.get("log_in_comment", False)),
        where=".".join(str(p) for p in at),
    )


def _env_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _thresholds(config: GateConfig, raw: Mapping[str, Any], scenario: ScenarioKind,
                chat: ChatConfig) -> tuple[tuple[Threshold, ...], dict[tuple[str, int], int]]:
    out: list[Threshold] = []
    lines: dict[tuple[str, int], int] = {}
    for threshold, _text, path, error in parse_all(raw.get("thresholds") or {}):
        if error is not None or threshold is None:
            raise config.error(["load", *path], error or "invalid threshold")
        if threshold.metric in STREAM_METRICS and not _streams(scenario, chat):
            raise config.error(["load", *path], f"{threshold.metric} is measured only on streamed chat answers; "
                                                f"{_why_not_streamed(scenario)}")
        out.append(threshold)
        lines[(threshold.metric, threshold.index)] = config.doc.locate(("load", *path)).line
    return tuple(out), lines


def _streams(scenario: ScenarioKind, chat: ChatConfig) -> bool:
    """Whether the run's answers can report stream metrics (TTFT, TPOT): chat answers streamed, or a locustfile."""
    return scenario is ScenarioKind.LOCUSTFILE or (scenario is ScenarioKind.CHAT and chat.stream)


def _why_not_streamed(scenario: ScenarioKind) -> str:
    if scenario is ScenarioKind.CHAT:
        return "chat.stream is false, so there is no first token to time"
    return f"scenario {scenario.value} cannot report it"


def _lines(config: GateConfig, raw: Mapping[str, Any]) -> dict[str, int]:
    def at(*path: str) -> int:
        return config.doc.locate(("load", *path), key=True).line

    out = {"": at(), **{str(key): at(str(key)) for key in raw}}
    increase = raw.get("max_p95_increase")
    if isinstance(increase, Mapping):
        out.update({f"max_p95_increase.{metric}": at("max_p95_increase", str(metric)) for metric in increase})
    elif increase is not None:
        out["max_p95_increase.latency"] = out["max_p95_increase"]
    return out


def _increase(value: Any) -> dict[str, float]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        return {str(k): fraction(v) for k, v in value.items()}
    return {"latency": fraction(value)}
