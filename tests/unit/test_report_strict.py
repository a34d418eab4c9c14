"""The report is strict JSON: a non-finite figure is written as null and named in a warning, never a bare NaN."""

from __future__ import annotations

import json

import pytest

from gate.report import CheckResult, GitInfo, Report, Status, strict_result


def _report(*checks: CheckResult) -> Report:
    return Report("prodgate", "0", "2026-01-01T00:00:00+00:00", 0.0, GitInfo(), checks)


def test_report_strict_result_nan_metric_null_and_pass_becomes_warn() -> None:
    result = strict_result(CheckResult("x", Status.PASS, "ok", metrics={"rate": float("nan"), "n": 3},
                                       details={"rows": [1.5, float("-inf")]}))
    assert result.status is Status.WARN
    assert result.metrics == {"rate": None, "n": 3} and result.details == {"rows": [1.5, None]}
    assert [f.message for f in result.findings] == [
        "not a finite number, reported as null: metrics.rate: nan, details.rows[1]: -inf"]
    assert json.loads(_report(result).to_json())["checks"][0]["metrics"]["rate"] is None


def test_report_strict_result_finite_values_unchanged() -> None:
    result = strict_result(CheckResult("x", Status.FAIL, "no", metrics={"rate": 0.5}))
    assert (result.status, result.findings, result.metrics) == (Status.FAIL, (), {"rate": 0.5})


def test_report_to_json_refuses_a_bare_nan() -> None:
    with pytest.raises(ValueError, match="not JSON compliant"):
        _report(CheckResult("x", Status.PASS, "ok", metrics={"rate": float("nan")})).to_json()
