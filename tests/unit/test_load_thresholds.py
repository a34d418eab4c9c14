"""k6-style thresholds: what parses, to what value, and what is refused with which message."""

from __future__ import annotations

import pytest
from prodgate_checks.load.thresholds import ThresholdError, format_value, parse, parse_all


@pytest.mark.parametrize(("metric", "text", "aggregate", "op", "value"), [
    ("latency", "p(95) < 1500ms", "p95", "<", 1500.0),
    ("latency", "p(99)<3s", "p99", "<", 3000.0),
    ("latency", "p(99.9) <= 2.5s", "p99.9", "<=", 2500.0),
    ("ttft", "avg < 500", "avg", "<", 500.0),  # a bare number is milliseconds, as in k6
    ("tpot", "med < 80ms", "med", "<", 80.0),
    ("tpot", "max < 1m", "max", "<", 60_000.0),
    ("latency", "min > 500us", "min", ">", 0.5),
    ("error_rate", "rate < 1%", "rate", "<", 0.01),
    ("error_rate", "rate <= 0.05", "rate", "<=", 0.05),
    ("throughput", "rps >= 5", "rps", ">=", 5.0),
    ("throughput", "tokens_per_s > 200", "tokens_per_s", ">", 200.0),
    ("output_tokens_per_s", "avg >= 200", "avg", ">=", 200.0),
    ("completed", "count >= 100", "count", ">=", 100.0),
])
def test_parse_valid_expression_normalised(metric: str, text: str, aggregate: str, op: str, value: float) -> None:
    th = parse(metric, text)
    assert (th.metric, th.aggregate, th.op) == (metric, aggregate, op)
    assert th.value == pytest.approx(value)


@pytest.mark.parametrize(("metric", "text", "needle"), [
    ("latency", "p95 < 1s", "unknown aggregate 'p95'"),
    ("latency", "p(95) 1s", "cannot read threshold"),
    ("latency", "p(0) < 1s", "above 0 and at most 100"),
    ("latency", "p(101) < 1s", "above 0 and at most 100"),
    ("latency", "p(95) < 5%", "is a duration"),
    ("latency", "rate < 1%", "unknown aggregate 'rate' for latency"),
    ("error_rate", "rate < 5", "did you mean 5%"),
    ("error_rate", "rate < 5ms", "is a fraction"),
    ("error_rate", "p(95) < 1%", "has no percentiles"),
    ("throughput", "rps >= 5s", "plain number"),
    ("completed", "avg >= 5", "it allows count"),
    ("latncy", "p(95) < 1s", "unknown metric 'latncy'"),
    ("latency", "", "cannot read threshold"),
    ("latency", "p(95) < -1s", "latency is a duration, never below 0"),
    ("error_rate", "rate < 150%", "error_rate is a share, from 0% to 100%"),
    ("error_rate", "rate > -1%", "error_rate is a share, from 0% to 100%"),
])
def test_parse_malformed_expression_raises_with_reason(metric: str, text: str, needle: str) -> None:
    with pytest.raises(ThresholdError) as err:
        parse(metric, text)
    assert needle in str(err.value)


def test_threshold_holds_compares_normalised_values() -> None:
    th = parse("latency", "p(95) < 1.5s")
    assert th.holds(1499.9) and not th.holds(1500.0)
    assert th.percentile == 95.0
    assert parse("throughput", "rps >= 5").holds(5.0)
    assert parse("error_rate", "rate != 0").holds(0.01)


def test_parse_all_string_and_list_paths_point_at_items() -> None:
    out = parse_all({"latency": ["p(95) < 1s", "bad"], "ttft": "p(50) < 200ms"})
    paths = [(path, error is None) for _, _, path, error in out]
    assert paths == [(("thresholds", "latency", 0), True), (("thresholds", "latency", 1), False),
                     (("thresholds", "ttft"), True)]


def test_format_value_units_per_kind() -> None:
    assert format_value("latency", 412.34) == "412.3 ms"
    assert format_value("latency", 12_500) == "12.50 s"
    assert format_value("error_rate", 0.0125) == "1.25%"
    assert format_value("completed", 12.0) == "12"
    assert format_value("throughput", 5.126) == "5.13"


@pytest.mark.parametrize(("metric", "text", "observed"), [
    ("error_rate", "rate <= 0.7%", 7 / 1000),  # 7 failures of 1,000 requests: exactly on the limit
    ("error_rate", "rate <= 2.9%", 29 / 1000),
    ("error_rate", "rate <= 0.35%", 35 / 10_000),
    ("latency", "p(95) <= 1.001s", 1001.0),
    ("latency", "max <= 300us", 0.3),
])
def test_threshold_at_its_limit_holds_for_inclusive_operators(metric: str, text: str, observed: float) -> None:
    assert parse(metric, text).holds(observed)
    assert not parse(metric, text.replace("<=", "<")).holds(observed)
