"""The load baseline (.gate/load-baseline.json): written by `gate baseline update`, read at the base ref."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.context import CheckContext
from gate.files import FileError, loads_json, read_bytes, write_atomic

VERSION = 1
TRENDS = ("latency", "ttft", "tpot", "output_tokens_per_s")
# The run-level figures kept beside the trends.
SCALARS = ("throughput_rps", "error_rate", "output_tokens_per_s_total", "requests")


@dataclass(frozen=True)
class Baseline:
    data: Mapping[str, Any]
    source: str  # e.g. "main@1a2b3c4" or "working tree"

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


def read(ctx: CheckContext, path: Path) -> tuple[Baseline | None, str]:
    """The baseline as committed at the base ref; without a base (no git, no branch), the working tree's copy.

    Returns (baseline or None, a note saying where it came from or why there is none)."""
    rel = ctx.base.relpath(path)
    if ctx.base.available and rel is not None:
        raw = ctx.base.read(rel)
        where = f"{ctx.base.ref or 'base'}@{(ctx.base.sha or '')[:7]}"
        if raw is None:
            return None, f"no {rel} at {where}: run `gate baseline update` on the base branch and commit it"
        return _parse(raw, where)
    if path.is_file():
        try:
            raw = read_bytes(path, ctx.display(path))
        except FileError as exc:
            return None, f"the baseline {exc}"
        return _parse(raw, f"working tree ({ctx.base.reason or 'no base ref'})")
    return None, f"no baseline: {ctx.base.reason or 'no base ref'}, and no {ctx.display(path)}"


def _parse(raw: bytes, where: str) -> tuple[Baseline | None, str]:
    try:
        data = loads_json(raw)
    except ValueError:
        return None, f"the baseline at {where} is not valid JSON"
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("metrics"), dict):
        return None, f"the baseline at {where} has an unknown format (expected version {VERSION})"
    return Baseline(data, where), f"baseline from {where}"


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
