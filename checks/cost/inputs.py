"""traffic.yaml + models.yaml + prompts (of the work tree or the base commit) -> a priced scenario."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from pathlib import Path

from gate.config import display_path
from gate.models import ModelConfig, ModelsFile
from gate.pricing import PriceError, PriceSheet, price_of
from gate.prompts import PromptFile, is_model_id, parse_prompt
from gate.report import Finding, Severity
from gate.yamlfile import JsonPath, YamlError, format_path, parse_yaml

from .files import Files, defect, read_models
from .tokens import CHARS_PER_TOKEN, Estimate, Measured, estimate_prompt
from .traffic import Dist, RouteSpec, TokenSpec, TrafficFile, parse_traffic

# (suite, "input_tokens" | "output_tokens")
MeasureKey = tuple[str, str]
# The keys of a prompt file the projection reads (its model, and what estimates its tokens).
PRICED_KEYS = frozenset({"model", "modelParameters", "messages", "testData", "jsonSchema"})


@dataclass(frozen=True)
class Group:
    """The calls of a route that one model serves, and how they are priced."""

    model: str
    share: float
    cached_input_ratio: float
    batch_share: float
    sheet: PriceSheet


class Basis(str, Enum):
    """Where a route's tokens per call came from: two sides compare alike only when they agree."""

    GIVEN = "given"  # a number or distribution written in traffic.yaml
    MEASURED = "measured"  # recorded usage (the suite's cassette, or this run's regression)
    ESTIMATED = "estimated"  # from the prompt file's size, or its maxTokens


@dataclass(frozen=True)
class Tokens:
    dist: Dist
    source: str  # "given", "measured: suite answer (12 cases)", "estimated from prompts/x.prompt.yml"
    basis: Basis

    @property
    def estimated(self) -> bool:
        return self.basis is Basis.ESTIMATED


@dataclass(frozen=True)
class Route:
    name: str
    requests_per_day: Dist
    month_factor: float  # days x volume_scale x growth over the horizon
    calls_per_request: float  # response-cache misses x (1 + retries)
    input_tokens: Tokens
    output_tokens: Tokens
    groups: tuple[Group, ...]
    models: tuple[str, ...]  # the route's own models, in tier order (fallbacks are in groups)
    where: tuple[str, int]  # traffic.yaml display and line, for findings
    suites: tuple[str, ...] = ()  # the suites its token counts name ({measured: SUITE})


@dataclass(frozen=True)
class Profile:
    name: str
    days_per_month: float
    routes: tuple[Route, ...]


@dataclass(frozen=True)
class Scenario:
    profiles: tuple[Profile, ...]
    sheets: Mapping[str, PriceSheet]
    # Measured token means with the head's estimate of the same prompt: the base shifts them by
    # the estimated change of its own prompt, so both sides of the diff count tokens alike.
    anchors: Mapping[MeasureKey, tuple[Measured, float | None]] = field(default_factory=dict)

    def profile(self, name: str) -> Profile | None:
        return next((p for p in self.profiles if p.name == name), None)


@dataclass(frozen=True)
class Inputs:
    traffic_path: Path
    traffic_display: str
    models_path: Path | None
    models_display: str
    horizon_months: int = 1
    suites: Mapping[str, Path | None] = field(default_factory=dict)  # suite -> its prompt, if known
    measured: Mapping[MeasureKey, Measured] = field(default_factory=dict)
    anchors: Mapping[MeasureKey, tuple[Measured, float | None]] | None = None  # set when pricing the base
    when: datetime | None = None
    display: Callable[[Path], str] = display_path  # how messages name a prompt file
    root: Path | None = None  # the repository a route's prompt must be in (None: anywhere)


@dataclass(frozen=True)
class Built:
    """A scenario, or why there is none: `problems` are traffic.yaml's (exit 2, `file:line:col: ...`);
    `defects` are of files the schema check examines too (models.yaml, prompts), so they are
    findings (exit 1), as every defect of an examined file is."""

    scenario: Scenario | None
    problems: list[str] = field(default_factory=list)
    defects: list[Finding] = field(default_factory=list)

    def first(self) -> str:
        if self.problems:
            return self.problems[0]
        d = self.defects[0]
        return f"{d.location()}: {d.message}" if d.file else d.message


def build_scenario(files: Files, inputs: Inputs) -> Built:
    try:
        text = files.read(inputs.traffic_path, inputs.traffic_display)
    except YamlError as exc:
        return Built(None, [str(exc)])
    if text is None:
        return Built(None, [f"{inputs.traffic_display}: file not found"])
    try:
        traffic, problems = parse_traffic(parse_yaml(text, inputs.traffic_display))
    except YamlError as exc:
        return Built(None, [str(exc)])
    if problems:
        return Built(None, problems)
    defects: list[Finding] = []
    models = read_models(files, inputs.models_path, inputs.models_display, defects)
    if models is None:
        return Built(None, [], defects)
    builder = _Builder(files, inputs, traffic, models)
    profiles = tuple(Profile(p.name, p.days_per_month, tuple(
        r for spec in p.routes if (r := builder.route(spec, p.days_per_month * p.volume_scale)) is not None))
        for p in traffic.profiles)
    if builder.problems or builder.defects:
        return Built(None, list(dict.fromkeys(builder.problems)), list(dict.fromkeys(builder.defects)))
    return Built(Scenario(profiles, dict(builder.sheets), dict(builder.anchors)))


class _Builder:
    def __init__(self, files: Files, inputs: Inputs, traffic: TrafficFile, models: ModelsFile) -> None:
        self.files, self.inputs, self.traffic, self.models = files, inputs, traffic, models
        self.problems: list[str] = []
        self.defects: list[Finding] = []
        self.sheets: dict[str, PriceSheet] = {}
        self.anchors: dict[MeasureKey, tuple[Measured, float | None]] = {}
        self._prompts: dict[Path, PromptFile | None] = {}

    def where(self, spec: RouteSpec, key: str) -> str:
        return self.traffic.where(spec.at.get(key, spec.at[""]))

    def route(self, spec: RouteSpec, days: float) -> Route | None:
        before = len(self.problems)
        prompt = self._route_prompt(spec)
        if spec.prompt is not None and prompt is None:  # a problem or a defect of the prompt is recorded
            return None
        shares = spec.model if spec.model is not None else self._prompt_model(spec, prompt)
        groups: list[Group] = []
        for name, share in (shares or {}).items():
            groups += self._groups(spec, name, share)
        tokens = {key: self._tokens(spec, key, prompt) for key in ("input_tokens", "output_tokens")}
        if len(self.problems) > before or tokens["input_tokens"] is None or tokens["output_tokens"] is None:
            return None
        growth = (1.0 + spec.growth) ** (self.inputs.horizon_months - 1)
        calls = (1.0 - spec.response_cache_hit_rate) * (1.0 + spec.retry_rate)
        line = self.traffic.doc.locate(spec.at[""]).line
        suites = tuple(dict.fromkeys(v.measured for v in (spec.input_tokens, spec.output_tokens)
                                     if v is not None and v.measured is not None))
        return Route(spec.name, spec.requests_per_day, days * growth, calls, tokens["input_tokens"],
                     tokens["output_tokens"], tuple(groups), tuple(shares or {}), (self.traffic.display, line), suites)

    # -- models and prices ------------------------------------------------------------------

    def _prompt_model(self, spec: RouteSpec, prompt: PromptFile | None) -> dict[str, float] | None:
        if prompt is None:
            return None
        if prompt.model is None:
            self.problems.append(f"{self.where(spec, 'prompt')}: {spec.prompt} names no model: give the route a model")
            return None
        if prompt.model not in self.models.models and not is_model_id(prompt.model):
            # The prompt's own defect (the schema check's error too), not traffic.yaml's.
            pos = prompt.doc.locate(("model",))
            self.defects.append(defect(YamlError(
                self.inputs.display(prompt.path), f"model {prompt.model!r} is neither a name in "
                f"{self.models.display} nor a publisher/model id", pos.line, pos.column)))
            return None
        return {prompt.model: 1.0}

    def _groups(self, spec: RouteSpec, name: str, share: float) -> list[Group]:
        at = "model" if spec.model is not None else "prompt"
        sheet = self._sheet(spec, at, name)
        if sheet is None:
            return []
        primary = Group(name, share * (1.0 - spec.fallback_rate), spec.cached_input_ratio, spec.batch_share, sheet)
        if spec.fallback_rate <= 0:
            return [primary]
        chain = self.models.chain(name)
        if len(chain) < 2:
            message = f"fallback_rate is {spec.fallback_rate:g} but model {name!r} has no fallback in {self.models.display}"
            if spec.model is not None:  # traffic.yaml names the model itself: its own mistake (exit 2)
                self.problems.append(f"{self.where(spec, 'fallback_rate')}: {message}")
                return []
            # The model is the prompt's: a prompt or models.yaml edited in the change made it so. The cost check
            # fails at the route, and the other checks still run (an exit 2 would stop them all).
            pos = self.traffic.doc.locate(spec.at.get("fallback_rate", spec.at[""]))
            self.defects.append(Finding(
                Severity.ERROR, f"{message} (the prompt {spec.prompt} now names it): give the model a fallback, or "
                "set the route's fallback_rate to 0; the cost cannot be projected", self.traffic.display, pos.line,
                pos.column))
            return []
        backup = self._sheet(spec, "fallback_rate", chain[1])
        if backup is None:
            return []
        # A fallback's prompt cache is cold: its input is priced uncached.
        return [primary, Group(chain[1], share * spec.fallback_rate, 0.0, spec.batch_share, backup)]

    def _sheet(self, spec: RouteSpec, at: str, name: str) -> PriceSheet | None:
        if name in self.sheets:
            return self.sheets[name]
        config, located = self._model_config(spec, at, name)
        if config is None:
            return None
        try:
            sheet = price_of(config, self.inputs.when)
        except PriceError as exc:
            self.problems.append(f"{located}: {exc}")
            return None
        self.sheets[name] = sheet
        return sheet

    def _model_config(self, spec: RouteSpec, at: str, name: str) -> tuple[ModelConfig | None, str]:
        if name in self.models.models:
            path: JsonPath = ("models", name)
            assert self.models.doc is not None
            pos = self.models.doc.locate(path)
            return self.models.models[name], f"{self.models.display}:{pos.line}:{pos.column}: {format_path(path)}"
        if "/" in name:  # a GitHub Models `publisher/model` id, as prompt files may name one
            return ModelConfig(name, "github-models", name), self.where(spec, at)
        known = sorted(self.models.models)
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else (
            f" (known: {', '.join(known)})" if known else " (gate.yaml names no models.yaml)")
        self.problems.append(f"{self.where(spec, at)}: unknown model {name!r}{hint}")
        return None, ""

    # -- tokens ------------------------------------------------------------------------------

    def _tokens(self, spec: RouteSpec, key: str, prompt: PromptFile | None) -> Tokens | None:
        value: TokenSpec | None = getattr(spec, key)
        if value is not None and value.dist is not None:
            return Tokens(value.dist, "given", Basis.GIVEN)
        if value is not None and value.measured is not None:
            return self._measured(spec, key, value.measured, prompt)
        if prompt is None:
            self.problems.append(f"{self.where(spec, '')}: route {spec.name!r} needs {key} "
                                 "(a number, a distribution or {measured: SUITE}), or a prompt to estimate it from")
            return None
        return self._estimated(spec, key, prompt, spec.prompt or "")

    def _measured(self, spec: RouteSpec, key: str, suite: str, prompt: PromptFile | None) -> Tokens | None:
        if suite not in self.inputs.suites:
            known = sorted(self.inputs.suites)
            close = difflib.get_close_matches(suite, known, n=3, cutoff=0.6)
            hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else (
                f" (suites: {', '.join(known)})" if known else " (gate.yaml's regression section has no suites)")
            self.problems.append(f"{self.where(spec, key)}: unknown suite {suite!r}{hint}")
            return None
        suite_prompt_path = self.inputs.suites[suite]
        if suite_prompt_path is not None:
            prompt = self._prompt(suite_prompt_path, self.where(spec, key))
            if prompt is None:  # its problem or defect is recorded
                return None
        estimate = self._estimate(prompt) if prompt is not None else None
        estimated_value = None if estimate is None else (
            estimate.input_tokens if key == "input_tokens" else estimate.output_tokens)
        found = self.inputs.measured.get((suite, key))
        if found is not None:
            if self.inputs.anchors is None and not found.recording:
                # Measured by this run alone: the base has no such measurement, so it borrows this one.
                self.anchors[(suite, key)] = (found, estimated_value)
            return Tokens(Dist.fixed(found.mean), found.label(suite), Basis.MEASURED)
        anchor = (self.inputs.anchors or {}).get((suite, key))
        if anchor is not None:  # pricing the base: the head's measurement, moved by the prompt's change
            measured, head_estimate = anchor
            shift = 0.0
            if key == "input_tokens" and head_estimate is not None and estimated_value is not None:
                shift = estimated_value - head_estimate
            label = f"measured: suite {suite} on the head, adjusted for the base prompt"
            return Tokens(Dist.fixed(max(measured.mean + shift, 0.0)), label, Basis.MEASURED)
        if prompt is None:
            self.problems.append(f"{self.where(spec, key)}: suite {suite!r} is not measured yet and neither it nor "
                                 "the route names a prompt to estimate tokens from: add `prompt:` to the route")
            return None
        return self._estimated(spec, key, prompt, spec.prompt or suite)

    def _estimated(self, spec: RouteSpec, key: str, prompt: PromptFile, label: str) -> Tokens | None:
        estimate = self._estimate(prompt)
        if key == "input_tokens":
            return Tokens(Dist.fixed(estimate.input_tokens),
                          f"estimated from {label} (~{CHARS_PER_TOKEN:g} chars/token)", Basis.ESTIMATED)
        if estimate.output_tokens is None:
            self.problems.append(f"{self.where(spec, key if getattr(spec, key) else '')}: route {spec.name!r} needs "
                                 f"output_tokens: its prompt sets no maxTokens to bound it")
            return None
        return Tokens(Dist.fixed(estimate.output_tokens), f"estimated: maxTokens of {label} (upper bound)",
                      Basis.ESTIMATED)

    def _estimate(self, prompt: PromptFile) -> Estimate:
        model = self.models.models.get(prompt.model or "")
        params = model.params if model is not None else {}
        return estimate_prompt(prompt, params)

    def _route_prompt(self, spec: RouteSpec) -> PromptFile | None:
        if spec.prompt is None:
            return None
        path = (self.inputs.traffic_path.parent / spec.prompt).resolve()
        if self.inputs.root is not None and not path.is_relative_to(self.inputs.root):
            self.problems.append(f"{self.where(spec, 'prompt')}: {spec.prompt}: outside the repository; a route's "
                                 "prompt is a file of the repository")
            return None
        return self._prompt(path, self.where(spec, "prompt"))

    def _prompt(self, path: Path, where: str) -> PromptFile | None:
        if path in self._prompts:
            return self._prompts[path]
        prompt: PromptFile | None = None
        display = self.inputs.display(path)
        try:
            text = self.files.read(path, display)
            if text is None:
                self.problems.append(f"{where}: {display}: prompt file not found")
            else:
                parsed = parse_prompt(text, display, path)  # read as gh-models reads it: first document, null as absent
                doc = parsed.doc
                wrong = [v for v in parsed.violations() if v.path[:1] and v.path[0] in PRICED_KEYS
                         ] if isinstance(doc.data, dict) else []
                if not isinstance(doc.data, dict):
                    self.defects.append(defect(YamlError(display, "a prompt file must be a mapping", 1, 1)))
                elif wrong:  # read as absent, a wrong-typed value would be blamed on traffic.yaml, or mis-priced
                    v = wrong[0]
                    self.defects.append(defect(YamlError(display, f"{format_path(v.path)}: {v.message}",
                                                         v.position.line, v.position.column)))
                else:
                    prompt = parsed
        except YamlError as exc:
            self.defects.append(defect(exc))
        self._prompts[path] = prompt
        return prompt
