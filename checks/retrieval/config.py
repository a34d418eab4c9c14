"""The `retrieval:` section of gate.yaml as typed values, with semantic errors at gate.yaml:line:col."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.config import GateConfig
from gate.verdict import Decision

from ..load.config import TargetConfig, parse_target
from .inputs import named

SECTION = "retrieval"
TARGET_KINDS = ("http", "python", "command", "run")
DEFAULT_MEASURES = ("nDCG@10", "P@5", "R@20", "RR", "AP")
# Families whose every value lies in [0, 1] (the statistics assume it) and that ir-measures computes with
# trec_eval's code (pytrec_eval), or with its own implementation for Judged.
FAMILIES = ("nDCG", "P", "R", "RR", "AP", "Judged", "Success", "Rprec", "Bpref", "infAP")
DEFAULT_BASELINE = ".gate/retrieval-baseline.json"
# Keys of an http target that start the service under test, as the load and resilience checks' `target` has them.
SERVICE_KEYS = ("start", "cwd", "ready", "ready_timeout", "env")


@dataclass(frozen=True)
class MeasureGate:
    min: float | None = None
    max_drop: float = 0.0


@dataclass(frozen=True)
class Gates:
    alpha: float = 0.05
    decision: Decision = Decision.NON_INFERIORITY
    measures: Mapping[str, MeasureGate] = field(default_factory=dict)
    min_coverage: float = 0.8  # share of the baseline's judged queries this run must judge too

    def of(self, measure: str) -> MeasureGate:
        return self.measures.get(measure) or MeasureGate()


@dataclass(frozen=True)
class Drift:
    depth: int = 10
    p: float = 0.9
    threshold: float = 0.8
    max_changed_share: float | None = None


@dataclass(frozen=True)
class Judged:
    depth: int = 10
    max_drop: float = 0.05

    @property
    def measure(self) -> str:
        return f"Judged@{self.depth}"


@dataclass(frozen=True)
class ResultShape:
    """How a ranked list is read from an answer: JSON paths (already parsed into steps) and a chunk rule."""

    path: tuple[str | int, ...] | None = None
    id: tuple[str | int, ...] | None = None
    score: tuple[str | int, ...] | None = None
    doc_id: tuple[str | int, ...] | None = None
    chunk_pattern: re.Pattern[str] | None = None


@dataclass(frozen=True)
class RetrievalConfig:
    target: Mapping[str, Any]
    kind: str
    queries: Path
    qrels: Path
    corpus: Path | None
    run_file: Path | None
    results: ResultShape
    k: int = 100
    measures: tuple[str, ...] = DEFAULT_MEASURES
    gates: Gates = field(default_factory=Gates)
    drift: Drift = field(default_factory=Drift)
    judged: Judged = field(default_factory=Judged)
    baseline: Path = Path(DEFAULT_BASELINE)
    baseline_rel: str = DEFAULT_BASELINE
    concurrency: int = 8
    rpm: float | None = None
    retries: int = 3
    timeout: float | None = None
    seed: int = 0
    service: TargetConfig | None = None  # an http target's service, when the gate starts it or waits for it

    @property
    def http_spec(self) -> dict[str, Any]:
        """The http target as the provider layer reads it: without the keys that start the service."""
        return {k: v for k, v in dict(self.target.get("http") or {}).items() if k not in SERVICE_KEYS}


# The common names, known without importing ir-measures (gate validate stays quick): tests hold every form this
# accepts to ir-measures' own parser. Anything else is asked of ir-measures.
_PLAIN_MEASURE = re.compile(r"(?:nDCG|P|R|RR|AP|Judged)(?:@[1-9][0-9]{0,5})?")


def measure_problem(name: str) -> str | None:
    """Why `name` is not a measure this check computes, or None."""
    if _PLAIN_MEASURE.fullmatch(name):
        return None
    import ir_measures

    try:
        measure = ir_measures.parse_measure(name)
    except Exception as exc:  # ir-measures raises several types for a name it cannot read
        return f"{named(name)} is not a measure ir-measures knows ({type(exc).__name__}: {str(exc)[:200]})"
    if measure.NAME not in FAMILIES:
        return f"{named(name)}: the retrieval check computes {', '.join(FAMILIES)} (measures between 0 and 1)"
    return None


_CUTOFF = re.compile(r"@(\d+)\s*$")


def cutoff(measure: str) -> int | None:
    """The rank a measure counts down to (`nDCG@10`: 10); None for one that reads the whole ranking."""
    found = _CUTOFF.search(measure)
    return int(found.group(1)) if found else None


def _within(measure: str, k: int) -> str:
    depth = cutoff(measure)
    return measure if depth is None or depth <= k else f"{measure[:measure.rindex('@')]}@{k}"


def _path(config: GateConfig, value: Any, *at: str | int) -> tuple[str | int, ...] | None:
    from gate.providers import jsonpath

    if value is None:
        return None
    try:
        return jsonpath.parse(str(value))
    except jsonpath.PathError as exc:
        raise config.error(list(at), str(exc)) from None


def _shape(config: GateConfig, raw: Mapping[str, Any]) -> ResultShape:
    at = (SECTION, "results")
    pattern = None
    if raw.get("chunk_pattern") is not None:
        from ..regression.metrics import pattern_problem

        problem = pattern_problem(str(raw["chunk_pattern"]))  # both engines: re's words, regex runs it
        if problem:
            raise config.error([*at, "chunk_pattern"], "not a regular expression: "
                               + problem.removeprefix("invalid regular expression: "))
        pattern = re.compile(str(raw["chunk_pattern"]))
        if pattern.groups < 1:
            raise config.error([*at, "chunk_pattern"], "needs a group: the document id is its first group")
    if pattern is not None and raw.get("doc_id") is not None:
        raise config.error([*at, "chunk_pattern"], "give doc_id or chunk_pattern, not both")
    return ResultShape(path=_path(config, raw.get("path"), *at, "path"), id=_path(config, raw.get("id"), *at, "id"),
                       score=_path(config, raw.get("score"), *at, "score"),
                       doc_id=_path(config, raw.get("doc_id"), *at, "doc_id"), chunk_pattern=pattern)


def _file(config: GateConfig, raw: Mapping[str, Any], key: str, *at: str) -> Path:
    path = config.resolve(str(raw[key]), *at, key)
    if path.is_dir():
        raise config.error([*at, key], f"{raw[key]}: is a directory, not a file")
    return path


def parse_config(config: GateConfig) -> RetrievalConfig:
    """The section, checked beyond its JSON Schema; a problem is a ConfigError at its line (exit 2)."""
    raw = config.section(SECTION) or {}
    target = raw.get("target") or {}
    kinds = [k for k in TARGET_KINDS if k in target]
    if len(kinds) != 1:
        found = f", not {' and '.join(kinds)}" if kinds else ""
        raise config.error([SECTION, "target"], f"a target needs exactly one of {', '.join(TARGET_KINDS)}{found}")
    kind = kinds[0]
    run_file = _file(config, target, "run", SECTION, "target") if kind == "run" else None
    k = int(raw.get("k", 100))
    # The rankings are cut at k: a default measure counts no deeper (R@20 of ten documents is R@10, and named so).
    measures = tuple(raw.get("measures") or dict.fromkeys(_within(m, k) for m in DEFAULT_MEASURES))
    for i, name in enumerate(measures):
        problem = measure_problem(name)
        if problem:
            at: list[str | int] = [SECTION, "measures", i] if "measures" in raw else [SECTION]
            raise config.error(at, problem)
    for i, name in enumerate(measures):
        # A measure named deeper than the rankings go would be another measure under its name.
        depth = cutoff(name)
        if depth is not None and depth > k:
            raise config.error([SECTION, "measures", i], f"{named(name)} counts the top {depth} documents, but k={k} ranks "
                                                         f"only {k} per query: raise k or lower the cutoff")
    g = raw.get("gates") or {}
    gated = g.get("measures") or {}
    for name in gated:
        if name not in measures:
            raise config.error([SECTION, "gates", "measures", name],
                               f"{named(name)} is not one of the measures ({', '.join(measures)})")
    gates = Gates(alpha=float(g.get("alpha", 0.05)), decision=Decision(g.get("decision", Decision.NON_INFERIORITY.value)),
                  min_coverage=float(g.get("min_coverage", 0.8)),
                  measures={name: MeasureGate(None if v.get("min") is None else float(v["min"]),
                                              float(v.get("max_drop", 0.0))) for name, v in gated.items()})
    d = raw.get("drift") or {}
    drift = Drift(int(d.get("depth", 10)), float(d.get("p", 0.9)), float(d.get("threshold", 0.8)),
                  None if d.get("max_changed_share") is None else float(d["max_changed_share"]))
    j = raw.get("judged") or {}
    judged = Judged(int(j.get("depth", 10)), float(j.get("max_drop", 0.05)))
    baseline_rel = str(raw.get("baseline", DEFAULT_BASELINE))
    return RetrievalConfig(
        target=target, kind=kind, queries=_file(config, raw, "queries", SECTION), qrels=_file(config, raw, "qrels", SECTION),
        corpus=_file(config, raw, "corpus", SECTION) if raw.get("corpus") is not None else None, run_file=run_file,
        results=_shape(config, raw.get("results") or {}), k=k, measures=measures, gates=gates,
        drift=drift, judged=judged, baseline=config.resolve(baseline_rel, SECTION, "baseline", must_exist=False),
        baseline_rel=baseline_rel, concurrency=int(raw.get("concurrency", 8)),
        rpm=None if raw.get("rpm") is None else float(raw["rpm"]), retries=int(raw.get("retries", 3)),
        timeout=None if raw.get("timeout") is None else float(raw["timeout"]), seed=int(raw.get("seed", 0)),
        service=_service(config, target.get("http")) if kind == "http" else None,
    )


def _service(config: GateConfig, http: Any) -> TargetConfig | None:
    """The service an http target starts (`start`) or waits for (`ready`), as the load check's target: the url's
    scheme, host and port are where it listens, `{port}` a free port the gate chooses."""
    at = (SECTION, "target", "http")
    if not isinstance(http, Mapping):
        return None  # the provider says what is wrong with it
    url = str(http.get("url", ""))
    origin = _origin(url)
    if "start" not in http:
        if "{port}" in url:
            raise config.error([*at, "url"], "url uses {port} but there is no `start`: the gate would not know "
                                             "what listens there")
        for key in ("cwd", "env"):
            if key in http:
                raise config.error([*at, key], f"{key} applies to the service the gate starts: give `start` too")
        if "ready" not in http:
            if "ready_timeout" in http:
                raise config.error([*at, "ready_timeout"], "ready_timeout applies to `start` or `ready`")
            return None
    if origin is None:
        raise config.error([*at, "url"], f"{url!r}: give scheme, host and port (http://host:port/path)")
    if "{port}" in url.replace(origin, "", 1):
        raise config.error([*at, "url"], "{port} belongs in the url's host and port, not its path or query")
    return parse_target(config, {**{k: http[k] for k in SERVICE_KEYS if k in http}, "url": origin}, at)


def _origin(url: str) -> str | None:
    """scheme://host:port of a url (`{port}` kept as written); None when it has no host."""
    scheme, sep, rest = url.partition("://")
    netloc = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    return f"{scheme}://{netloc}" if sep and netloc else None
