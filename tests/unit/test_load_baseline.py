"""The load baseline file: what it keeps, where it is read from, and what a broken one says."""

from __future__ import annotations

import json
from pathlib import Path

from prodgate_checks.load.baseline import Baseline, compare, read, record, shape_changes, write
from prodgate_checks.load.config import LoadConfig, parse_load

from gate.config import load_config
from gate.context import CheckContext
from gate.gitref import resolve_base
from gate.report import Finding, Severity
from tests.conftest import GitRepo

METRICS = {"latency_ms": {"p50": 10.0, "p95": 20.0, "count": 5}, "ttft_ms": {"p95": 4.0}, "throughput_rps": 9.5,
           "error_rate": 0.0, "requests": 5, "failure_categories": {}, "achieved_rps": 9.5}


def ctx_for(root: Path, baseline: str = ".gate/load-baseline.json") -> tuple[CheckContext, LoadConfig]:
    (root / "gate.yaml").write_text(f"version: 1\nload:\n  target: {{url: 'http://127.0.0.1:1'}}\n"
                                    f"  baseline: {baseline}\n  max_p95_increase: 25%\n", encoding="utf-8")
    config = load_config(root / "gate.yaml")
    return CheckContext(config, resolve_base(root)), parse_load(config)


def test_record_keeps_figures_and_shape_only() -> None:
    content = record(METRICS, {"users": 4, "mode": "closed"})
    assert content == {"version": 1, "check": "load", "run": {"users": 4, "mode": "closed"},
                       "metrics": {"latency_ms": METRICS["latency_ms"], "ttft_ms": {"p95": 4.0},
                                   "throughput_rps": 9.5, "error_rate": 0.0, "requests": 5}}


def test_read_without_git_uses_working_tree(tmp_path: Path) -> None:
    ctx, cfg = ctx_for(tmp_path)
    assert read(ctx, cfg) == (None, "no baseline: .gate/load-baseline.json does not exist (not inside a git "
                                    "repository)", None)
    write(cfg.baseline, record(METRICS, {}))
    baseline, note, finding = read(ctx, cfg)
    assert baseline is not None and finding is None
    assert note == "baseline from .gate/load-baseline.json in the working tree (not inside a git repository)"
    assert baseline.trend("latency")["p95"] == 20.0 and baseline.scalar("throughput_rps") == 9.5


def test_read_at_base_ref_not_working_copy(repo: GitRepo) -> None:
    ctx, cfg = ctx_for(repo.path)
    write(cfg.baseline, record(METRICS, {}))
    repo.commit("baseline")
    write(cfg.baseline, record({**METRICS, "throughput_rps": 1.0}, {}))  # uncommitted: not what the base says
    ctx, cfg = ctx_for(repo.path)
    baseline, note, _ = read(ctx, cfg)
    assert baseline is not None and baseline.scalar("throughput_rps") == 9.5
    assert note.startswith("baseline from .gate/load-baseline.json at main (")


def test_read_broken_files_findings_at_the_file(tmp_path: Path) -> None:
    ctx, cfg = ctx_for(tmp_path, "b.json")
    unusable = "no baseline: b.json is not a usable load baseline"
    cfg.baseline.write_text("{oops", encoding="utf-8")
    assert read(ctx, cfg) == (None, unusable, Finding(
        Severity.ERROR, "not valid JSON: Expecting property name enclosed in double quotes", "b.json", 1, 2))
    # A hand-edited or merged-badly file: a finding at the file, not a crash of the check when it is compared.
    for content, problem in [
        ({"version": 1, "metrics": [20.0]}, "not a prodgate load baseline (no `metrics` object)"),
        ({"version": 99, "metrics": {}}, "baseline version 99, but this prodgate reads version 1: run `gate baseline "
                                         "update` with this version on the base branch"),
        ({"version": 1, "metrics": {}, "run": [2]}, "$.run: must be an object (the load shape the baseline was "
                                                    "measured under)"),
    ]:
        cfg.baseline.write_text(json.dumps(content), encoding="utf-8")
        assert read(ctx, cfg) == (None, unusable, Finding(Severity.ERROR, problem, "b.json", 1))


def test_shape_changes_name_what_differs_and_skip_what_is_not_recorded() -> None:
    base = Baseline(record(METRICS, {"scenario": "openai-chat", "users": 2, "duration_s": 1.5, "arrival_rate": None,
                                     "processes": 1}), "main")
    run = {"scenario": "openai-chat", "users": 8, "duration_s": 1.5, "warmup_s": 3.0, "arrival_rate": 20.0,
           "processes": 4}
    assert [str(c) for c in shape_changes(run, base)] == ["users 2 -> 8", "arrival_rate none (closed loop) -> 20"]
    assert shape_changes({**run, "users": 2.0, "arrival_rate": None}, base) == []


def test_compare_p95_and_rates() -> None:
    base = Baseline(record(METRICS, {}), "main@abc")
    head = {**METRICS, "latency_ms": {"p95": 30.0}, "throughput_rps": 8.0}
    del head["ttft_ms"]
    changes = {(c.metric, c.stat): c for c in compare(head, base)}
    assert changes[("latency", "p95")].relative == 0.5
    assert changes[("throughput_rps", "value")].to_dict() == {"metric": "throughput_rps", "stat": "value",
                                                              "base": 9.5, "head": 8.0, "change": -0.1579}
    assert ("ttft", "p95") not in changes  # this run measured no TTFT
