"""Exact statistics from the raw samples the locustfile wrote: percentiles, rates, errors by category."""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PERCENTILES = (50, 90, 95, 99)
MAX_ERROR_KINDS = 10


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on sorted values."""
    if not ordered:
        return math.nan
    pos = (len(ordered) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


@dataclass(frozen=True)
class Trend:
    """A distribution kept whole, so any percentile a threshold asks for is exact."""

    values: tuple[float, ...] = ()

    @classmethod
    def of(cls, values: Iterable[float]) -> Trend:
        return cls(tuple(sorted(values)))

    @property
    def count(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float:
        return math.fsum(self.values) / len(self.values) if self.values else math.nan

    def percentile(self, q: float) -> float:
        return percentile(self.values, q)

    def aggregate(self, name: str) -> float:
        if name == "avg":
            return self.mean
        if name == "min":
            return self.values[0] if self.values else math.nan
        if name == "max":
            return self.values[-1] if self.values else math.nan
        if name == "med":
            return self.percentile(50)
        return self.percentile(float(name[1:]))  # p95, p99.9

    def summary(self, digits: int = 1) -> dict[str, float | int | None]:
        if not self.values:
            return {"count": 0}
        out: dict[str, float | int | None] = {f"p{p}": round(self.percentile(p), digits) for p in PERCENTILES}
        out.update(mean=round(self.mean, digits), min=round(self.values[0], digits),
                   max=round(self.values[-1], digits), count=self.count)
        return out


@dataclass(frozen=True)
class ErrorKind:
    category: str
    status: int
    message: str
    count: int


@dataclass(frozen=True)
class SampleFile:
    samples: tuple[Mapping[str, Any], ...]
    processes: tuple[Mapping[str, Any], ...]
    ended: bool


def read_samples(path: Path) -> SampleFile:
    samples: list[Mapping[str, Any]] = []
    processes: list[Mapping[str, Any]] = []
    ended = False
    if not path.exists():
        return SampleFile((), (), False)
    with path.open(encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line cut short by a killed process
            kind = record.get("kind")
            if kind == "sample":
                samples.append(record)
            elif kind == "process":
                processes.append(record)
            elif kind == "end":
                ended = True
    return SampleFile(tuple(samples), tuple(processes), ended)


@dataclass(frozen=True)
class LoadStats:
    window_s: float
    sent: int  # requests that went out inside the window
    ok: int
    latency: Trend
    ttft: Trend
    tpot: Trend
    output_tokens_per_s: Trend
    lag: Trend
    output_tokens: int
    tokens_from: Mapping[str, int]
    failure_categories: Mapping[str, int]
    errors: tuple[ErrorKind, ...]
    dropped_warmup: int
    after_window: int
    intended_rps: float | None = None
    late: int = 0  # open loop: requests that went out later than max_lag
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> int:
        return self.sent - self.ok

    @property
    def error_rate(self) -> float:
        return self.failed / self.sent if self.sent else math.nan

    @property
    def achieved_rps(self) -> float:
        return self.sent / self.window_s if self.window_s else math.nan

    @property
    def throughput_rps(self) -> float:
        return self.ok / self.window_s if self.window_s else math.nan

    @property
    def tokens_per_s(self) -> float:
        return self.output_tokens / self.window_s if self.window_s else math.nan

    def trend(self, metric: str) -> Trend | None:
        return {"latency": self.latency, "ttft": self.ttft, "tpot": self.tpot,
                "output_tokens_per_s": self.output_tokens_per_s, "lag": self.lag}.get(metric)

    def observe(self, metric: str, aggregate: str) -> float:
        """The value a threshold `metric: aggregate OP value` is compared with (nan when nothing was measured)."""
        trend = self.trend(metric)
        if trend is not None:
            return trend.aggregate(aggregate)
        if metric == "error_rate":
            return self.error_rate
        if metric == "completed":
            return float(self.ok)
        if aggregate == "tokens_per_s":
            return self.tokens_per_s
        return self.throughput_rps


def compute(samples: Iterable[Mapping[str, Any]], warmup_s: float, duration_s: float,
            intended_rps: float | None = None, max_lag_ms: float = math.inf) -> LoadStats:
    """Statistics of the requests sent in [warmup, warmup + duration) of each generator process's clock.

    Latency, TTFT and TPOT are of successful requests; failures count in the error rate."""
    end = warmup_s + duration_s
    latency: list[float] = []
    ttft: list[float] = []
    tpot: list[float] = []
    otps: list[float] = []
    lag: list[float] = []
    categories: Counter[str] = Counter()
    kinds: Counter[tuple[str, int, str]] = Counter()
    tokens_from: Counter[str] = Counter()
    sent = ok = tokens = dropped = after = late = 0
    for s in samples:
        t = float(s.get("t", 0.0))
        if t < warmup_s:
            dropped += 1
            continue
        if t >= end:
            after += 1
            continue
        sent += 1
        if s.get("lag_ms") is not None:
            lag.append(float(s["lag_ms"]))
            late += float(s["lag_ms"]) > max_lag_ms
        if not s.get("ok"):
            category = str(s.get("cat") or "transport.connection")
            categories[category] += 1
            kinds[(category, int(s.get("status") or 0), str(s.get("err") or ""))] += 1
            continue
        ok += 1
        ms = float(s["ms"])
        latency.append(ms)
        first = s.get("ttft_ms")
        n = s.get("output_tokens")
        if first is not None:
            ttft.append(float(first))
        if n is not None:
            tokens += int(n)
            tokens_from[str(s.get("tokens_from") or "usage")] += 1
            if ms > 0 and n > 0:
                otps.append(int(n) / (ms / 1000))
            if first is not None and int(n) >= 2:
                tpot.append((ms - float(first)) / (int(n) - 1))
    errors = tuple(ErrorKind(c, st, m, k) for (c, st, m), k in kinds.most_common(MAX_ERROR_KINDS))
    return LoadStats(
        window_s=duration_s, sent=sent, ok=ok, latency=Trend.of(latency), ttft=Trend.of(ttft), tpot=Trend.of(tpot),
        output_tokens_per_s=Trend.of(otps), lag=Trend.of(lag), output_tokens=tokens, tokens_from=dict(tokens_from),
        failure_categories=dict(sorted(categories.items())), errors=errors, dropped_warmup=dropped,
        after_window=after, intended_rps=intended_rps, late=late,
    )
