"""The report is strict JSON: a non-finite figure is written as null and named in a warning, never a bare NaN."""

from __future__ import annotations

import io
import json

import pytest

from gate.report import CheckResult, GitInfo, Report, Status, jsonable, non_finite, strict_result


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


def test_report_write_json_same_text_as_to_json() -> None:
    result = CheckResult("x", Status.PASS, "ok – ünïcode", metrics={"rate": 0.5},
                         details={"cases": [{"id": "a", "out": "line\nnext"}], "empty": {}, "none": []})
    out = io.StringIO()
    _report(result).write_json(out)
    assert out.getvalue() == _report(result).to_json()
    assert json.loads(out.getvalue())["checks"][0]["details"]["cases"][0]["out"] == "line\nnext"


def test_jsonable_strict_tree_returned_uncopied_and_tuples_become_lists() -> None:
    tree = {"cases": [{"id": "a", "scores": {"m": 0.5}, "pass": True}], "n": None}
    assert jsonable(tree) is tree
    changed = {"rows": [{"k": 1}, {"v": float("inf")}], "pair": (1, 2)}
    assert jsonable(changed) == {"rows": [{"k": 1}, {"v": None}], "pair": [1, 2]}
    assert changed["rows"][1]["v"] == float("inf")


def test_non_finite_paths_in_document_order_under_a_prefix() -> None:
    tree = {"a": [1.0, float("nan"), {"b": float("inf"), "c": (2, float("-inf"))}], "d": {"e": float("nan")}}
    assert [(p, str(v)) for p, v in non_finite(tree, ("details",))] == [
        (("details", "a", 1), "nan"), (("details", "a", 2, "b"), "inf"), (("details", "a", 2, "c", 1), "-inf"),
        (("details", "d", "e"), "nan")]
    assert non_finite(float("nan")) != [] and non_finite({"x": [1, 2.5]}) == []
