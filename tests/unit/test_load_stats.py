"""Statistics from raw samples: exact percentiles, the measured window, TPOT, rates and errors by category."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prodgate_checks.load.stats import Trend, compute, percentile, read_samples


def sample(t: float, ms: float, ok: bool = True, **extra: Any) -> dict[str, Any]:
    return {"kind": "sample", "proc": 0, "t": t, "ms": ms, "ok": ok, "status": 200 if ok else 503, **extra}


def test_percentile_random_values_match_numpy_linear() -> None:
    rng = random.Random(7)
    values = sorted(rng.uniform(1, 2000) for _ in range(1001))
    for q in (0, 1, 50, 90, 95, 99, 99.9, 100):
        assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_percentile_keeps_values_unrounded() -> None:
    # locust's own stats would report 1,049 ms as 1,000 ms; raw samples keep it.
    assert Trend.of([1049.0] * 10).percentile(95) == 1049.0
    assert Trend.of([305.6, 305.6]).aggregate("med") == 305.6


def test_trend_empty_is_nan_and_summary_counts_zero() -> None:
    assert math.isnan(Trend().mean) and math.isnan(Trend().percentile(95))
    assert Trend().summary() == {"count": 0}


def test_compute_window_drops_warmup_and_late_samples() -> None:
    samples = [sample(0.5, 10), sample(1.0, 20), sample(2.9, 30), sample(3.0, 40)]
    stats = compute(samples, warmup_s=1.0, duration_s=2.0)
    assert (stats.sent, stats.dropped_warmup, stats.after_window) == (2, 1, 1)
    assert stats.latency.values == (20.0, 30.0)
    assert stats.throughput_rps == pytest.approx(1.0)


def test_compute_stream_fields_give_ttft_tpot_and_token_rates() -> None:
    samples = [sample(0.1, 700.0, ttft_ms=300.0, output_tokens=21, tokens_from="usage"),
               sample(0.2, 500.0, ttft_ms=100.0, output_tokens=5, tokens_from="chunks"),
               sample(0.3, 50.0, ttft_ms=50.0, output_tokens=1)]
    stats = compute(samples, 0.0, 1.0)
    assert stats.ttft.values == (50.0, 100.0, 300.0)
    # TPOT = (latency - ttft) / (tokens - 1); a one-token answer has none.
    assert stats.tpot.values == pytest.approx((20.0, 100.0))
    assert stats.output_tokens == 27 and stats.tokens_per_s == pytest.approx(27.0)
    assert stats.output_tokens_per_s.values == pytest.approx(sorted([30.0, 10.0, 20.0]))
    assert stats.tokens_from == {"usage": 2, "chunks": 1}


def test_compute_failures_by_category_excluded_from_latency() -> None:
    samples = [sample(0.1, 5.0), sample(0.2, 1.0, ok=False, cat="transport.server_error", err="HTTP 503"),
               sample(0.3, 2.0, ok=False, cat="transport.server_error", err="HTTP 503"),
               sample(0.4, 9.0, ok=False, cat="transport.rate_limited", err="HTTP 429", status=429)]
    stats = compute(samples, 0.0, 1.0)
    assert stats.latency.values == (5.0,)
    assert stats.error_rate == pytest.approx(0.75)
    assert stats.failure_categories == {"transport.rate_limited": 1, "transport.server_error": 2}
    assert stats.errors[0].category == "transport.server_error" and stats.errors[0].count == 2
    assert stats.observe("error_rate", "rate") == pytest.approx(0.75)
    assert stats.observe("completed", "count") == 1.0


def test_compute_open_loop_counts_late_requests() -> None:
    samples = [sample(i / 10, 10.0, lag_ms=lag) for i, lag in enumerate([1.0, 2.0, 150.0, 300.0])]
    stats = compute(samples, 0.0, 1.0, intended_rps=4.0, max_lag_ms=100.0)
    assert stats.late == 2
    assert stats.achieved_rps == pytest.approx(4.0)
    assert stats.observe("lag", "max") == 300.0


def test_read_samples_skips_cut_lines_and_sees_end(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    lines = [json.dumps(sample(0.1, 10)), json.dumps({"kind": "process", "proc": 0, "cpu_s": 0.1, "wall_s": 1}),
             '{"kind": "sample", "t": 0.', json.dumps({"kind": "end", "processes": 1})]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = read_samples(path)
    assert (len(got.samples), len(got.processes), got.ended) == (1, 1, True)
    assert read_samples(tmp_path / "absent.jsonl").ended is False
