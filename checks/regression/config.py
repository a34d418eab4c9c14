"""The `regression:` section of gate.yaml as typed values, with semantic errors at gate.yaml:line:col."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.config import GateConfig
from gate.files import FileError, loads_json, read_text
from gate.redact import clip
from gate.schemas import remembered_problem
from gate.verdict import Decision

TARGET_KINDS = ("model", "http", "command", "python", "replay")
METRIC_KINDS = (
    "equals", "contains", "icontains", "contains_exact", "not_contains", "regex", "not_regex", "starts_with",
    "ends_with", "is_json", "json_schema", "is_refusal", "max_latency_s", "max_output_tokens", "max_cost_usd",
    "string", "llm", "uses", "deepeval",
)
SCORED_KINDS = frozenset({"llm", "uses", "deepeval"})
SECTION = "regression"


@dataclass(frozen=True)
class MetricSpec:
    """One metric as configured: `kind` is one of METRIC_KINDS, `value` its argument."""

    name: str
    kind: str
    value: Any
    threshold: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> bool:
        return self.kind in SCORED_KINDS


@dataclass(frozen=True)
class SuiteSpec:
    index: int
    name: str | None
    prompt: Path | None
    dataset: Path | None
    target: Mapping[str, Any] | None
    metrics: tuple[MetricSpec, ...]
    evaluators: bool
    repeats: int | None
    pass_at: int | None
    thresholds: Mapping[str, float]


@dataclass(frozen=True)
class MetricGate:
    min_score: float | None = None
    max_drop: float | None = None


@dataclass(frozen=True)
class Gates:
    alpha: float = 0.05
    min_pass_rate: float | None = None
    max_pass_rate_drop: float = 0.0
    metrics: Mapping[str, MetricGate] = field(default_factory=dict)
    decision: Decision = Decision.NON_INFERIORITY
    # Share of the baseline's cases a comparison must pair (by id, else by input) to say anything.
    min_coverage: float = 0.8


# Cases one dataset may hold (regression.max_cases): beyond it a dataset is a finding, not hours of calls.
MAX_CASES = 100_000


@dataclass(frozen=True)
class RegressionConfig:
    suites: tuple[SuiteSpec, ...] | None  # None: every prompt file with testData is a suite
    target: Mapping[str, Any] | None
    judge: Mapping[str, Any] | None
    concurrency: int = 8
    rpm: float | None = None
    retries: int = 3
    # None: each target's own timeout (models.yaml `timeout:`, 60 s where none is set).
    timeout: float | None = None
    repeats: int = 1
    pass_at: int | None = None
    threshold: float = 0.5
    cache: Path | None = None
    baseline: Path = Path(".gate/baseline.json")
    baseline_rel: str = ".gate/baseline.json"
    keep_outputs: bool = True  # the baseline keeps each case's answer (capped), not only its hash
    seed: int = 0
    max_cases: int = MAX_CASES
    gates: Gates = field(default_factory=Gates)
    record: Path = Path(".gate/cassette.jsonl")


def metric_name(raw: Mapping[str, Any], kind: str) -> str:
    if isinstance(raw.get("name"), str):
        return str(raw["name"])
    value = raw.get(kind)
    if kind == "uses":
        return str(value).split("/", 1)[-1]
    if kind == "deepeval":
        return str(value)
    if isinstance(value, str) and kind not in ("json_schema",) and len(value) <= 40:
        return f"{kind} {value}"
    return kind


def parse_metric(raw: Mapping[str, Any], where: str = "") -> MetricSpec:
    """A metric mapping (already schema-valid) -> MetricSpec; raises ValueError when it has 0 or 2+ kinds."""
    kinds = [k for k in METRIC_KINDS if k in raw]
    if len(kinds) != 1:
        found = ", ".join(kinds) if kinds else "none"
        raise ValueError(f"a metric needs exactly one of {', '.join(METRIC_KINDS)} (found: {found})")
    kind = kinds[0]
    threshold = raw.get("threshold")
    if threshold is not None and not math.isfinite(float(threshold)):
        # A NaN threshold fails every score ("1 < nan"): it is a defect where it is written, never a comparison.
        raise ValueError(f"threshold {threshold} is not a finite number")
    return MetricSpec(metric_name(raw, kind), kind, raw[kind], None if threshold is None else float(threshold),
                      dict(raw.get("params") or {}))


def schema_value(value: Any, path: Path | None) -> tuple[Any, str | None]:
    """(the schema, a problem) of a json_schema metric: inline, or read from `path` when value names a file.
    A schema jsonschema cannot use is a problem here, not a crash when the first answer is checked."""
    named = f"{value}: " if path is not None else ""
    if path is not None:
        try:
            value = loads_json(read_text(path, str(value)))
        except FileError as exc:
            return None, f"{named}{exc.problem}"
        except ValueError as exc:
            return None, f"{named}not a JSON file: {exc}"
    if not isinstance(value, (dict, bool)):
        return None, f"{named}a JSON Schema is an object, not {type(value).__name__}"
    # Judged once per content and jsonschema release: validating gate.yaml need not import jsonschema.
    problem = remembered_problem("metric", value, schema_problem)
    return (None, f"{named}{problem}") if problem else (value, None)


def schema_problem(schema: Any) -> str | None:
    """Why jsonschema cannot use a schema (it breaks its metaschema, or a $ref points nowhere); None if it can."""
    import jsonschema

    validator: Any = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return f"not a valid JSON Schema: {exc.message}"
    return unresolved_ref(schema) or ref_cycle(schema)


# Keywords whose values are data, not subschemas: a "$ref" key inside them is not a reference.
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})


def unresolved_ref(schema: Any) -> str | None:
    """The first $ref the schema cannot resolve by itself (or with the JSON Schema metaschemas): checked once
    here, instead of an exception on the first answer. A remote $ref is never fetched."""
    import jsonschema_specifications
    from referencing.exceptions import NoSuchAnchor, PointerToNowhere, Unresolvable
    from referencing.jsonschema import DRAFT202012, specification_with

    if not isinstance(schema, dict):
        return None
    spec = specification_with(str(schema.get("$schema", "")), default=DRAFT202012)
    root = spec.create_resource(schema)
    # The metaschema registry keeps referencing's default: retrieving anything else fails.
    registry = jsonschema_specifications.REGISTRY.with_resource(root.id() or "", root).crawl()

    def walk(node: Any, resolver: Any) -> str | None:
        if isinstance(node, list):
            return next((found for item in node if (found := walk(item, resolver))), None)
        if not isinstance(node, dict):
            return None
        resolver = resolver.in_subresource(spec.create_resource(node))
        for key in ("$ref", "$dynamicRef"):
            ref = node.get(key)
            if not isinstance(ref, str):
                continue
            try:
                resolver.lookup(ref)
            except (PointerToNowhere, NoSuchAnchor):
                return f"{key} {ref!r} points to nothing in the schema"
            except Unresolvable:
                return f"{key} {ref!r} is not in the schema: a remote {key} is never fetched (copy its schema under $defs)"
        return next((found for k, v in node.items() if k not in _DATA_KEYWORDS and (found := walk(v, resolver))), None)

    return walk(schema, registry.resolver(base_uri=root.id() or ""))


# Keywords that apply their subschemas to the value at hand, not to a part of it: a loop through them alone
# never ends (a loop through `properties` or `items` ends with the data).
_IN_PLACE = frozenset({"allOf", "anyOf", "oneOf", "not", "if", "then", "else", "dependentSchemas"})
_REFS = frozenset({"$ref", "$dynamicRef", "$recursiveRef"})


def ref_cycle(schema: Any) -> str | None:
    """The first $ref that loops back to a schema it is part of without reading any deeper into the value
    (`{"$ref": "#"}`, two $defs referring to each other): jsonschema would recurse on it until Python's stack ran
    out, on the first answer. A loop through `properties` or `items` is a recursive schema, and fine."""
    import jsonschema_specifications
    from referencing.exceptions import Unresolvable
    from referencing.jsonschema import DRAFT202012, specification_with

    if not isinstance(schema, dict):
        return None
    spec = specification_with(str(schema.get("$schema", "")), default=DRAFT202012)
    root = spec.create_resource(schema)
    registry = jsonschema_specifications.REGISTRY.with_resource(root.id() or "", root).crawl()
    done: set[int] = set()  # schemas from which no loop starts
    applied: set[int] = set()  # the schemas applied to the value at hand on the way to this one

    def follow(node: dict[str, Any], resolver: Any) -> str | None:
        if id(node) in done:
            return None
        resolver = resolver.in_subresource(spec.create_resource(node))
        applied.add(id(node))
        for key, value in node.items():
            if key in _REFS and isinstance(value, str):
                try:
                    found = resolver.lookup(value)
                except Unresolvable:
                    continue  # unresolved_ref's finding
                nexts = [(found.contents, found.resolver)]
            elif key in _IN_PLACE:
                items = value if isinstance(value, list) else \
                    list(value.values()) if key == "dependentSchemas" and isinstance(value, dict) else [value]
                nexts = [(item, resolver) for item in items]
            else:
                continue
            for target, how in nexts:
                if not isinstance(target, dict):
                    continue
                if id(target) in applied:
                    return (f"{key} {value!r} loops back to a schema it is part of without reading any deeper into "
                            "the value (a $ref cycle): checking an answer would never end")
                if (problem := follow(target, how)) is not None:
                    return problem
        applied.discard(id(node))
        done.add(id(node))
        return None

    try:
        for node, resolver in _subschemas(schema, registry.resolver(base_uri=root.id() or ""), spec):
            if (problem := follow(node, resolver)) is not None:
                return clip(problem, 300)
    except RecursionError:
        return None  # a chain of references deeper than the stack, not a loop: the metric says so if it must
    return None


def _subschemas(node: Any, resolver: Any, spec: Any) -> Iterator[tuple[dict[str, Any], Any]]:
    """Every schema in `node` (data keywords' values aside) with the resolver of the schema around it."""
    if isinstance(node, list):
        for item in node:
            yield from _subschemas(item, resolver, spec)
    elif isinstance(node, dict):
        yield node, resolver
        inner = resolver.in_subresource(spec.create_resource(node))
        for key, value in node.items():
            if key not in _DATA_KEYWORDS:
                yield from _subschemas(value, inner, spec)


def parse_metrics(config: GateConfig, raw: Sequence[Any], *path: str | int) -> tuple[MetricSpec, ...]:
    out = []
    for i, item in enumerate(raw):
        try:
            spec = parse_metric(item)
        except ValueError as exc:
            raise config.error([*path, i], str(exc)) from None
        if spec.kind == "json_schema":
            value, problem = schema_value(spec.value, config.resolve(spec.value, *path, i, "json_schema")
                                          if isinstance(spec.value, str) else None)
            if problem:
                raise config.error([*path, i, "json_schema"], problem)
            spec = MetricSpec(spec.name, spec.kind, value, spec.threshold, spec.params)
        if spec.kind == "regex" or spec.kind == "not_regex":
            from .metrics import pattern_problem

            if problem := pattern_problem(str(spec.value)):
                raise config.error([*path, i, spec.kind], problem)
        out.append(spec)
    names = [m.name for m in out]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise config.error([*path, i], f"two metrics are named {name!r}: give one a `name:`")
    return tuple(out)


def _suites(config: GateConfig, raw: Any) -> tuple[SuiteSpec, ...] | None:
    if raw is None:
        return None
    out: list[SuiteSpec] = []
    for i, s in enumerate(raw):
        at = (SECTION, "suites", i)
        prompt = config.resolve(s["prompt"], *at, "prompt") if "prompt" in s else None
        dataset = config.resolve(s["dataset"], *at, "dataset") if "dataset" in s else None
        if prompt is None and dataset is None:
            raise config.error(list(at), "a suite needs a `prompt:` (a prompt file), a `dataset:`, or both")
        for key, p in (("prompt", prompt), ("dataset", dataset)):
            if p is not None and p.is_dir():
                raise config.error([*at, key], f"{s[key]}: is a directory, not a file")
        if dataset is not None and dataset.suffix.lower() not in (".jsonl", ".yaml", ".yml", ".csv", ".json"):
            raise config.error([*at, "dataset"], f"{s['dataset']}: a dataset is .jsonl, .yaml/.yml or .csv")
        metrics = parse_metrics(config, s.get("metrics") or [], *at, "metrics")
        out.append(SuiteSpec(
            index=i, name=s.get("name"), prompt=prompt, dataset=dataset, target=s.get("target"), metrics=metrics,
            evaluators=bool(s.get("evaluators", True)), repeats=s.get("repeats"), pass_at=s.get("pass_at"),
            thresholds={k: float(v) for k, v in (s.get("thresholds") or {}).items()},
        ))
    return tuple(out)


def parse_config(config: GateConfig) -> RegressionConfig:
    """The section, checked beyond its JSON Schema; a problem is a ConfigError at its line (exit 2)."""
    raw = config.section(SECTION) or {}
    suites = _suites(config, raw.get("suites"))
    targets: list[tuple[tuple[str | int, ...], Any]] = [((SECTION, key), raw.get(key)) for key in ("target", "judge")]
    targets += [((SECTION, "suites", s.index, "target"), s.target) for s in suites or ()]
    for where, spec in targets:
        if isinstance(spec, Mapping) and isinstance(spec.get("replay"), str):  # a cassette stays in the repository
            config.resolve(spec["replay"], *where, "replay", must_exist=False)
    repeats = int(raw.get("repeats", 1))
    pass_at = raw.get("pass_at")
    for s in suites or ():
        k = s.repeats or repeats
        p = s.pass_at or pass_at
        if p is not None and p > k:
            at: list[str | int] = [SECTION, "suites", s.index, "pass_at"] if s.pass_at else [SECTION, "pass_at"]
            raise config.error(at, f"pass_at {p} is more than the {_repeats(k)} a case gets")
    if pass_at is not None and pass_at > repeats and suites is None:
        raise config.error([SECTION, "pass_at"], f"pass_at {pass_at} is more than the {_repeats(repeats)} a case gets")
    cache_raw = raw.get("cache", ".gate/cache")
    cache = None if cache_raw is False else config.resolve(".gate/cache" if cache_raw is True else str(cache_raw),
                                                           SECTION, "cache", must_exist=False)
    baseline_raw = raw.get("baseline", ".gate/baseline.json")
    # `baseline: PATH` or `baseline: {path: PATH, keep_outputs: false}`.
    baseline_opts = baseline_raw if isinstance(baseline_raw, dict) else {"path": baseline_raw}
    baseline_rel = str(baseline_opts.get("path", ".gate/baseline.json"))
    baseline_at = (SECTION, "baseline", "path") if isinstance(baseline_raw, dict) and "path" in baseline_raw \
        else (SECTION, "baseline")
    g = raw.get("gates") or {}
    gates = Gates(
        alpha=float(g.get("alpha", 0.05)),
        min_pass_rate=None if g.get("min_pass_rate") is None else float(g["min_pass_rate"]),
        max_pass_rate_drop=float(g.get("max_pass_rate_drop", 0.0)),
        metrics={k: MetricGate(v.get("min_score"), v.get("max_drop")) for k, v in (g.get("metrics") or {}).items()},
        decision=Decision(g.get("decision", Decision.NON_INFERIORITY.value)),
        min_coverage=float(g.get("min_coverage", 0.8)),
    )
    return RegressionConfig(
        suites=suites, target=raw.get("target"), judge=raw.get("judge"),
        concurrency=int(raw.get("concurrency", 8)), rpm=raw.get("rpm"), retries=int(raw.get("retries", 3)),
        timeout=float(raw["timeout"]) if raw.get("timeout") is not None else None, repeats=repeats, pass_at=pass_at,
        threshold=float(raw.get("threshold", 0.5)), cache=cache,
        baseline=config.resolve(baseline_rel, *baseline_at, must_exist=False), baseline_rel=baseline_rel,
        keep_outputs=bool(baseline_opts.get("keep_outputs", True)),
        seed=int(raw.get("seed", 0)), max_cases=int(raw.get("max_cases", MAX_CASES)), gates=gates,
        record=config.resolve(str(raw.get("record", ".gate/cassette.jsonl")), SECTION, "record", must_exist=False),
    )


def _repeats(k: int) -> str:
    return f"{k} repeat" if k == 1 else f"{k} repeats"


def config_digest(config: GateConfig) -> str:
    """What in gate.yaml decides a run's cases and verdicts, so shards of different configs are never merged."""
    from gate.providers.keys import digest

    return digest({key: config.data.get(key) for key in (SECTION, "prompts", "models")})[:16]


def default_pass_at(repeats: int) -> int:
    """A majority of the repeats: 1 of 1, 2 of 3, 3 of 5."""
    return repeats // 2 + 1
