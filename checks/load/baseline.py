"""The load baseline (.gate/load-baseline.json): written by `gate baseline update`, read where the base keeps it."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.baseconfig import baseline_of, missing_baseline
from gate.context import CheckContext
from gate.files import FileError, loads_json, read_bytes, write_atomic
from gate.providers.base import valid_unicode
from gate.report import Finding, Severity

from .config import DEFAULT_BASELINE, LoadConfig

SECTION = "load"
VERSION = 1
# The settings that make the load (the run's key -> gate.yaml's): a p95 measured under other ones says nothing about
# this change. How many processes generate it is not among them: they share one load.
SHAPE = {"scenario": "scenario", "users": "users", "arrival_rate": "arrival_rate", "duration_s": "duration",
         "warmup_s": "warmup"}
RECORDED = (*SHAPE, "mode", "processes")  # what the baseline keeps of the run
TRENDS = ("latency", "ttft", "tpot", "output_tokens_per_s")
# The run-level figures kept beside the trends.
SCALARS = ("throughput_rps", "error_rate", "output_tokens_per_s_total", "requests")


@dataclass(frozen=True)
class Baseline:
    data: Mapping[str, Any]
    source: str  # e.g. ".gate/load-baseline.json at main (1a2b3c4)"

    def trend(self, metric: str) -> Mapping[str, Any]:
        value = (self.data.get("metrics") or {}).get(f"{metric}_ms" if metric != "output_tokens_per_s" else metric)
        return value if isinstance(value, Mapping) else {}

    def scalar(self, name: str) -> float | None:
        value = (self.data.get("metrics") or {}).get(name)
        return float(value) if isinstance(value, (int, float)) else None


@dataclass(frozen=True)
class Change:
    metric: str
    stat: str
    base: float
    head: float

    @property
    def relative(self) -> float:
        return self.head / self.base - 1 if self.base else math.inf

    def to_dict(self) -> dict[str, Any]:
        rel = self.relative
        return {"metric": self.metric, "stat": self.stat, "base": self.base, "head": self.head,
                "change": None if math.isinf(rel) else round(rel, 4)}


def trend_key(metric: str) -> str:
    return metric if metric == "output_tokens_per_s" else f"{metric}_ms"


def record(result_metrics: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """The file's content: the measured figures and the load shape they were measured under."""
    metrics = {k: result_metrics[k] for k in (*[trend_key(t) for t in TRENDS], *SCALARS) if k in result_metrics}
    return {"version": VERSION, "check": "load", "run": dict(run), "metrics": metrics}


def write(path: Path, content: Mapping[str, Any]) -> Path:
    return write_atomic(path, [json.dumps(content, indent=2, sort_keys=True), "\n"])


def read(ctx: CheckContext, cfg: LoadConfig) -> tuple[Baseline | None, str, Finding | None]:
    """(baseline, where it came from or why there is none, a finding: the file's defect if it is unusable, or that
    the base runs the check and keeps none while max_p95_increase needs one).

    With a base ref, the file as committed there, at the path the base's own gate.yaml names (a change that moves it
    is compared all the same); without git, the file in the working tree. Without max_p95_increase the baseline only
    informs the report, and its absence is a note."""
    judged = bool(cfg.max_p95_increase)
    found = baseline_of(ctx.config, ctx.base, SECTION, DEFAULT_BASELINE, cfg.baseline, cfg.baseline_rel, ctx.display)
    if found.path is None:
        return None, found.note, found.finding if judged else None
    # A limit that cannot be applied is a finding on the base branch too (its own committed baseline is what a run
    # there is compared with); only a check new on this change has nothing at the base to be compared with.
    unjudged = judged and (found.expected or ctx.base.sha == ctx.base.head)
    rel = ctx.base.relpath(found.path)
    shown = rel or cfg.baseline_rel
    if ctx.base.available and rel is not None:
        raw = ctx.base.read(rel)
        where = f"{shown} at {ctx.base.ref} ({(ctx.base.sha or '')[:7]})"
        if raw is None:
            why = f"{shown} does not exist at {ctx.base.ref}"
            return None, f"no baseline: {why}; run `gate baseline update` on the base branch and commit it", \
                missing_baseline(ctx.config, SECTION, why, ctx.display) if unjudged else None
    else:
        reason = ctx.base.reason or "no base ref"
        if not found.path.is_file():
            return None, f"no baseline: {shown} does not exist ({reason})", None
        try:
            raw = read_bytes(found.path, shown)
        except FileError as exc:
            return None, f"no baseline: {shown} cannot be read", Finding(Severity.ERROR, exc.problem, shown, exc.line)
        where = f"{shown} in the working tree ({reason})"
    return _parse(raw, shown, where)


def _parse(raw: bytes, shown: str, where: str) -> tuple[Baseline | None, str, Finding | None]:
    unusable = f"no baseline: {shown} is not a usable load baseline"
    try:
        data = valid_unicode(loads_json(raw))
    except json.JSONDecodeError as exc:
        return None, unusable, Finding(Severity.ERROR, f"not valid JSON: {exc.msg}", shown, exc.lineno, exc.colno)
    except ValueError as exc:  # not UTF-8
        return None, unusable, Finding(Severity.ERROR, f"not valid JSON: {exc}", shown, 1)
    problem = _shape_problem(data)
    if problem:
        return None, unusable, Finding(Severity.ERROR, problem, shown, 1)
    return Baseline(data, where), f"baseline from {where}", None


def _shape_problem(data: Any) -> str | None:
    if not isinstance(data, dict) or not isinstance(data.get("metrics"), dict):
        return "not a prodgate load baseline (no `metrics` object)"
    version = data.get("version")
    if type(version) is not int or version != VERSION:
        return (f"baseline version {repr(version)[:20]}, but this prodgate reads version {VERSION}: run `gate "
                "baseline update` with this version on the base branch")
    if not isinstance(data.get("run", {}), dict):
        return "$.run: must be an object (the load shape the baseline was measured under)"
    return None


@dataclass(frozen=True)
class ShapeChange:
    setting: str  # as gate.yaml names it
    base: str
    head: str

    def __str__(self) -> str:
        return f"{self.setting} {self.base} -> {self.head}"


def shape_changes(run: Mapping[str, Any], base: Baseline) -> list[ShapeChange]:
    """How the load shape of this run differs from the baseline's; a setting the baseline does not record is not
    compared."""
    kept = base.data.get("run") or {}
    return [ShapeChange(name, _shown(key, kept[key]), _shown(key, run.get(key))) for key, name in SHAPE.items()
            if key in kept and not _same(kept[key], run.get(key))]


def _same(a: Any, b: Any) -> bool:
    numbers = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b))
    return float(a) == float(b) if numbers else bool(a == b)


def _shown(key: str, value: Any) -> str:
    if value is None and key == "arrival_rate":
        return "none (closed loop)"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:g} s" if key.endswith("_s") else f"{value:g}"
    return repr(value)[:40] if not isinstance(value, str) else value[:60]


def compare(head_metrics: Mapping[str, Any], base: Baseline) -> list[Change]:
    """p95 of every trend both runs measured, and the run-level rates."""
    out: list[Change] = []
    for metric in TRENDS:
        head = head_metrics.get(trend_key(metric)) or {}
        old = base.trend(metric)
        if isinstance(head.get("p95"), (int, float)) and isinstance(old.get("p95"), (int, float)):
            out.append(Change(metric, "p95", float(old["p95"]), float(head["p95"])))
    for name in ("throughput_rps", "error_rate"):
        now, then = head_metrics.get(name), base.scalar(name)
        if isinstance(now, (int, float)) and then is not None:
            out.append(Change(name, "value", then, float(now)))
    return out
