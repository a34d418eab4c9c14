"""SLO thresholds in k6's grammar (`p(95) < 1500ms`, `rate < 1%`, `rps >= 5`): parsing and evaluation."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class Kind(str, Enum):
    TIME = "time"  # a trend of durations, compared in milliseconds
    NUMBER = "number"  # a trend of plain numbers
    RATE = "rate"  # a fraction, written as 1% or 0.01
    THROUGHPUT = "throughput"  # whole-run rates
    COUNT = "count"


TREND_AGGREGATES = ("avg", "min", "max", "med", "p(N)")
METRICS: Mapping[str, tuple[Kind, tuple[str, ...]]] = {
    "latency": (Kind.TIME, TREND_AGGREGATES),
    "ttft": (Kind.TIME, TREND_AGGREGATES),
    "tpot": (Kind.TIME, TREND_AGGREGATES),
    "lag": (Kind.TIME, TREND_AGGREGATES),
    "output_tokens_per_s": (Kind.NUMBER, TREND_AGGREGATES),
    "error_rate": (Kind.RATE, ("rate",)),
    "throughput": (Kind.THROUGHPUT, ("rps", "tokens_per_s")),
    "completed": (Kind.COUNT, ("count",)),
}
# Metrics that only a streaming chat scenario (or a locustfile that reports them) measures.
STREAM_METRICS = ("ttft", "tpot", "output_tokens_per_s")

_OPS: Mapping[str, Callable[[float, float], bool]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne,
}
# Decimal, so a limit converts exactly: "rate <= 0.7%" is 0.007, the same float as 7 failures in 1,000.
_TIME_UNITS = {"us": Decimal("0.001"), "µs": Decimal("0.001"), "ms": Decimal(1), "s": Decimal(1000), "m": Decimal(60_000)}
_EXPR = re.compile(
    r"^\s*(?P<agg>[a-z_][a-z0-9_.]*(?:\(\s*(?P<pct>[0-9]+(?:\.[0-9]+)?)\s*\))?)\s*"
    r"(?P<op><=|>=|==|!=|<|>)\s*(?P<num>-?[0-9]+(?:\.[0-9]+)?)\s*(?P<unit>us|µs|ms|s|m|%)?\s*$"
)


class ThresholdError(ValueError):
    """A malformed threshold; str() says what is wrong, for a gate.yaml:line:col message."""


@dataclass(frozen=True)
class Threshold:
    metric: str
    text: str  # as written, for messages
    aggregate: str  # avg, min, max, med, p95, rate, count, rps, tokens_per_s
    op: str
    value: float  # normalised: milliseconds for time metrics, a fraction for rates
    index: int = 0  # position in the metric's list, to point at its line

    @property
    def percentile(self) -> float | None:
        if self.aggregate.startswith("p") and self.aggregate[1:].replace(".", "", 1).isdigit():
            return float(self.aggregate[1:])
        return None

    def holds(self, observed: float) -> bool:
        return _OPS[self.op](observed, self.value)


def parse(metric: str, text: str, index: int = 0) -> Threshold:
    if metric not in METRICS:
        raise ThresholdError(f"unknown metric {metric!r} (known: {', '.join(METRICS)})")
    kind, allowed = METRICS[metric]
    m = _EXPR.match(text)
    if m is None:
        example = {Kind.RATE: "rate < 1%", Kind.THROUGHPUT: "rps >= 5", Kind.COUNT: "count >= 100"}.get(
            kind, "p(95) < 500ms" if kind is Kind.TIME else "avg >= 50")
        raise ThresholdError(f"cannot read threshold {text!r}: expected `AGGREGATE OPERATOR VALUE`, e.g. {example!r}")
    agg, pct = m.group("agg").replace(" ", ""), m.group("pct")
    if pct is not None:
        if not agg.startswith("p("):
            raise ThresholdError(f"{text!r}: unknown aggregate {agg!r}; {metric} allows {', '.join(allowed)}")
        p = float(pct)
        if not 0 < p <= 100:
            raise ThresholdError(f"{text!r}: a percentile must be above 0 and at most 100, not {pct}")
        if "p(N)" not in allowed:
            raise ThresholdError(f"{text!r}: {metric} has no percentiles; it allows {', '.join(allowed)}")
        agg = "p" + _num(p)
    elif agg not in allowed:
        hint = f" (did you mean p({agg[1:]})?)" if re.fullmatch(r"p[0-9.]+", agg) else ""
        raise ThresholdError(f"{text!r}: unknown aggregate {agg!r} for {metric}{hint}; it allows {', '.join(allowed)}")
    return Threshold(metric, text.strip(), agg, m.group("op"), _value(metric, kind, text, Decimal(m.group("num")),
                                                                   m.group("unit")), index)


def _value(metric: str, kind: Kind, text: str, number: Decimal, unit: str | None) -> float:
    if kind is Kind.TIME:
        if unit == "%":
            raise ThresholdError(f"{text!r}: {metric} is a duration: use ms, s or m, not %")
        if number < 0:
            raise ThresholdError(f"{text!r}: {metric} is a duration, never below 0 (such as 500ms or 2s)")
        # A bare number is milliseconds, as in k6.
        return float(number * _TIME_UNITS[unit or "ms"])
    if kind is Kind.RATE:
        if unit == "%":
            if not 0 <= number <= 100:
                raise ThresholdError(f"{text!r}: {metric} is a share, from 0% to 100%")
            return float(number / 100)
        if unit is not None:
            raise ThresholdError(f"{text!r}: {metric} is a fraction: write 1% or 0.01, not a duration")
        if not 0 <= number <= 1:
            raise ThresholdError(f"{text!r}: a rate without % must be between 0 and 1 (did you mean {_num(float(number))}%?)")
        return float(number)
    if unit is not None:
        raise ThresholdError(f"{text!r}: {metric} takes a plain number, without a unit")
    return float(number)


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x)


def parse_all(section: Mapping[str, object]) -> list[tuple[Threshold | None, str, tuple[str | int, ...], str | None]]:
    """Every threshold of a `thresholds:` mapping as (threshold or None, text, yaml path, error message)."""
    out: list[tuple[Threshold | None, str, tuple[str | int, ...], str | None]] = []
    for metric, raw in section.items():
        items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        for i, text in enumerate(items):
            path: tuple[str | int, ...] = ("thresholds", metric) if isinstance(raw, str) else ("thresholds", metric, i)
            try:
                out.append((parse(metric, str(text), i), str(text), path, None))
            except ThresholdError as exc:
                out.append((None, str(text), path, str(exc)))
    return out


def format_value(metric: str, value: float) -> str:
    """A measured or limit value, in the unit people read it in."""
    kind = METRICS[metric][0]
    if kind is Kind.TIME:
        return f"{value / 1000:.2f} s" if value >= 10_000 else f"{value:.1f} ms"
    if kind is Kind.RATE:
        return f"{value * 100:.2f}%"
    if kind is Kind.COUNT:
        return f"{value:.0f}"
    return f"{value:.2f}"
