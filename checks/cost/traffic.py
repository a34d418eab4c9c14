"""traffic.yaml -> profiles of routes, each value a distribution, with every defect located."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gate.report import non_finite
from gate.schemas import validate
from gate.yamlfile import JsonPath, YamlDocument, format_path

# z of the 95th percentile of a standard normal: turns {p50, p95} into a log-normal's sigma.
Z95 = 1.6448536269514722
SHARE_TOLERANCE = 1e-6


class DistKind(str, Enum):
    FIXED = "fixed"
    NORMAL = "normal"
    LOGNORMAL = "lognormal"


@dataclass(frozen=True)
class Dist:
    """A value and how uncertain it is: fixed, normal {mean, sd} (floored at 0) or log-normal {p50, p95}."""

    kind: DistKind
    mean: float
    sd: float = 0.0
    mu: float = 0.0
    sigma: float = 0.0

    @staticmethod
    def fixed(value: float) -> Dist:
        return Dist(DistKind.FIXED, float(value))

    @staticmethod
    def normal(mean: float, sd: float) -> Dist:
        return Dist(DistKind.NORMAL, float(mean), sd=float(sd)) if sd > 0 else Dist.fixed(mean)

    @staticmethod
    def lognormal(p50: float, p95: float) -> Dist:
        sigma = math.log(p95 / p50) / Z95
        if sigma == 0:
            return Dist.fixed(p50)
        # A huge spread's mean overflows: inf here is caught with every other non-finite figure of the projection.
        spread = sigma * sigma / 2
        mean = p50 * math.exp(spread) if spread < 700 else math.inf
        return Dist(DistKind.LOGNORMAL, mean, mu=math.log(p50), sigma=sigma)

    @property
    def random(self) -> bool:
        return self.kind is not DistKind.FIXED

    def ceiling(self, z: float) -> float:
        """At least the mean and every value sample() gives for draws within +-z, without numpy."""
        if self.kind is DistKind.NORMAL:
            return max(self.mean + self.sd * z, 0.0)
        if self.kind is DistKind.LOGNORMAL:
            exponent = self.mu + self.sigma * z
            return max(self.mean, math.exp(exponent) if exponent < 709 else math.inf)  # exp(710) overflows
        return self.mean

    def sample(self, z: Any) -> Any:
        """Values for standard-normal draws z (a numpy array)."""
        import numpy as np

        if self.kind is DistKind.NORMAL:
            return np.maximum(self.mean + self.sd * z, 0.0)
        if self.kind is DistKind.LOGNORMAL:
            return np.exp(self.mu + self.sigma * z)
        return np.full(np.shape(z), self.mean)


@dataclass(frozen=True)
class TokenSpec:
    dist: Dist | None = None
    measured: str | None = None


@dataclass(frozen=True)
class RouteSpec:
    name: str
    profile: str
    prompt: str | None
    model: Mapping[str, float] | None  # model name -> share of calls; None: the prompt's model
    requests_per_day: Dist
    growth: float
    input_tokens: TokenSpec | None
    output_tokens: TokenSpec | None
    cached_input_ratio: float
    response_cache_hit_rate: float
    retry_rate: float
    fallback_rate: float
    batch_share: float
    # Where each field was written (a shared route's fields point at the shared definition).
    at: Mapping[str, JsonPath] = field(default_factory=dict)


@dataclass(frozen=True)
class ProfileSpec:
    name: str
    days_per_month: float
    volume_scale: float
    routes: tuple[RouteSpec, ...]


@dataclass(frozen=True)
class TrafficFile:
    display: str
    doc: YamlDocument
    profiles: tuple[ProfileSpec, ...]

    def where(self, path: JsonPath) -> str:
        pos = self.doc.locate(path)
        return f"{self.display}:{pos.line}:{pos.column}: {format_path(path)}"

    def profile(self, name: str) -> ProfileSpec | None:
        return next((p for p in self.profiles if p.name == name), None)


_MODIFIERS = ("cached_input_ratio", "response_cache_hit_rate", "retry_rate", "fallback_rate", "batch_share")


def parse_traffic(doc: YamlDocument) -> tuple[TrafficFile, list[str]]:
    """Every problem is a one-line message `file:line:col: $.path: what is wrong`."""
    empty = TrafficFile(doc.display, doc, ())
    if not isinstance(doc.data, dict):
        kind = "empty" if doc.data is None else f"a {type(doc.data).__name__}"
        return empty, [f"{doc.display}:1:1: $: traffic.yaml must be a mapping with `profiles:`, but the file is {kind}"]
    violations = validate(doc, "traffic")
    if violations:
        return empty, [v.format(doc.display) for v in violations]
    traffic = TrafficFile(doc.display, doc, ())
    if bad := _non_finite(traffic):
        return empty, bad
    problems: list[str] = []
    shared: Mapping[str, Any] = doc.data.get("routes") or {}
    profiles = []
    for pname, raw in doc.data["profiles"].items():
        own: Mapping[str, Any] = raw.get("routes") or {}
        routes = []
        names = [*shared, *(r for r in own if r not in shared)]
        for rname in names:
            fields: dict[str, Any] = {}
            at: dict[str, JsonPath] = {}
            for origin, source in ((("routes", rname), shared.get(rname)),
                                   (("profiles", pname, "routes", rname), own.get(rname))):
                for key, value in (source or {}).items():
                    fields[key], at[key] = value, origin + (key,)
            at.setdefault("", ("profiles", pname, "routes", rname) if rname in own else ("routes", rname))
            route = _route(traffic, pname, rname, fields, at, problems)
            if route is not None:
                routes.append(route)
        if not names:
            problems.append(f"{traffic.where(('profiles', pname))}: profile {pname!r} has no routes")
        profiles.append(ProfileSpec(pname, float(raw["days_per_month"]), float(raw.get("volume_scale", 1.0)),
                                    tuple(routes)))
    # A shared route is read once per profile: its defect is one problem, not one per profile.
    return TrafficFile(doc.display, doc, tuple(profiles)), list(dict.fromkeys(problems))


def _non_finite(traffic: TrafficFile) -> list[str]:
    """NaN and infinity pass the schema's bounds (every comparison with NaN is false) and would turn
    every figure computed from them into nan or a crash: each is a problem at its line."""
    return [f"{traffic.where(at)}: {value} is not a finite number" for at, value in non_finite(traffic.doc.data)]


def _route(traffic: TrafficFile, profile: str, name: str, fields: Mapping[str, Any], at: dict[str, JsonPath],
           problems: list[str]) -> RouteSpec | None:
    before = len(problems)
    if "requests_per_day" not in fields:
        problems.append(f"{traffic.where(at[''])}: route {name!r} in profile {profile!r} needs requests_per_day")
    if "model" not in fields and "prompt" not in fields:
        problems.append(f"{traffic.where(at[''])}: route {name!r} needs a model (or a prompt whose model it uses)")
    model = _model(traffic, fields.get("model"), at.get("model", at[""]), problems)
    requests = _dist(traffic, fields.get("requests_per_day", 0), at.get("requests_per_day", at[""]), problems)
    tokens = {key: _tokens(traffic, fields[key], at[key], problems) if key in fields else None
              for key in ("input_tokens", "output_tokens")}
    if len(problems) > before:
        return None
    modifiers = {key: float(fields.get(key, 0.0)) for key in _MODIFIERS}
    return RouteSpec(name, profile, fields.get("prompt"), model, requests, float(fields.get("growth", 0.0)),
                     tokens["input_tokens"], tokens["output_tokens"], at=dict(at), **modifiers)


def _model(traffic: TrafficFile, value: Any, at: JsonPath, problems: list[str]) -> Mapping[str, float] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return {value: 1.0}
    total = sum(value.values())
    if abs(total - 1.0) > SHARE_TOLERANCE:
        shares = " + ".join(f"{v:g}" for v in value.values())
        problems.append(f"{traffic.where(at)}: tier shares must sum to 1, but {shares} = {total:g}")
    return {k: float(v) for k, v in value.items()}


def _dist(traffic: TrafficFile, value: Any, at: JsonPath, problems: list[str]) -> Dist:
    if not isinstance(value, dict):
        return Dist.fixed(float(value))
    keys = set(value) - {"measured"}
    if keys <= {"mean", "sd"} and "mean" in keys:
        return Dist.normal(value["mean"], value.get("sd", 0.0))
    if keys == {"p50", "p95"}:
        if value["p95"] < value["p50"]:
            problems.append(f"{traffic.where(at)}: p95 ({value['p95']:g}) is below p50 ({value['p50']:g})")
            return Dist.fixed(value["p50"])
        return Dist.lognormal(value["p50"], value["p95"])
    problems.append(f"{traffic.where(at)}: a distribution is {{mean, sd}} or {{p50, p95}}, not {{{', '.join(sorted(keys))}}}")
    return Dist.fixed(0.0)


def _tokens(traffic: TrafficFile, value: Any, at: JsonPath, problems: list[str]) -> TokenSpec:
    if isinstance(value, dict) and "measured" in value:
        if len(value) > 1:
            problems.append(f"{traffic.where(at)}: `measured` stands alone: the suite's usage is the value")
        return TokenSpec(measured=str(value["measured"]))
    return TokenSpec(dist=_dist(traffic, value, at, problems))
