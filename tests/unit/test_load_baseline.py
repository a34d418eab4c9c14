"""The load baseline file: what it keeps, where it is read from, and what a broken one says."""

from __future__ import annotations

import json
from pathlib import Path

from prodgate_checks.load.baseline import Baseline, compare, read, record, write

from gate.config import load_config
from gate.context import CheckContext
from gate.gitref import resolve_base
from tests.conftest import GitRepo

METRICS = {"latency_ms": {"p50": 10.0, "p95": 20.0, "count": 5}, "ttft_ms": {"p95": 4.0}, "throughput_rps": 9.5,
           "error_rate": 0.0, "requests": 5, "failure_categories": {}, "achieved_rps": 9.5}


def ctx_for(root: Path) -> CheckContext:
    (root / "gate.yaml").write_text("version: 1\n", encoding="utf-8")
    return CheckContext(load_config(root / "gate.yaml"), resolve_base(root))


def test_record_keeps_figures_and_shape_only() -> None:
    content = record(METRICS, {"users": 4, "mode": "closed"})
    assert content == {"version": 1, "check": "load", "run": {"users": 4, "mode": "closed"},
                       "metrics": {"latency_ms": METRICS["latency_ms"], "ttft_ms": {"p95": 4.0},
                                   "throughput_rps": 9.5, "error_rate": 0.0, "requests": 5}}


def test_read_without_git_uses_working_tree(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    path = tmp_path / ".gate" / "load-baseline.json"
    assert read(ctx, path)[0] is None and "no baseline: not inside a git repository" in read(ctx, path)[1]
    write(path, record(METRICS, {}))
    baseline, note = read(ctx, path)
    assert baseline is not None and note == "baseline from working tree (not inside a git repository)"
    assert baseline.trend("latency")["p95"] == 20.0 and baseline.scalar("throughput_rps") == 9.5


def test_read_at_base_ref_not_working_copy(repo: GitRepo) -> None:
    path = repo.path / ".gate" / "load-baseline.json"
    write(path, record(METRICS, {}))
    ctx = ctx_for(repo.path)
    repo.commit("baseline")
    write(path, record({**METRICS, "throughput_rps": 1.0}, {}))  # uncommitted: not what the base says
    baseline, note = read(ctx_for(repo.path), path)
    assert baseline is not None and baseline.scalar("throughput_rps") == 9.5 and note.startswith("baseline from main@")
    assert ctx.base.available is False  # before the first commit there was no base to read


def test_read_broken_files_say_why(tmp_path: Path) -> None:
    ctx = ctx_for(tmp_path)
    path = tmp_path / "b.json"
    path.write_text("{oops", encoding="utf-8")
    assert read(ctx, path) == (None, "the baseline at working tree (not inside a git repository) is not valid JSON")
    path.write_text(json.dumps({"version": 99}), encoding="utf-8")
    assert "unknown format (expected version 1)" in read(ctx, path)[1]
    # A hand-edited or merged-badly file: a note, not a crash of the check when it is compared.
    path.write_text(json.dumps({"version": 1, "metrics": [20.0]}), encoding="utf-8")
    assert read(ctx, path)[0] is None and "unknown format" in read(ctx, path)[1]


def test_compare_p95_and_rates() -> None:
    base = Baseline(record(METRICS, {}), "main@abc")
    head = {**METRICS, "latency_ms": {"p95": 30.0}, "throughput_rps": 8.0}
    del head["ttft_ms"]
    changes = {(c.metric, c.stat): c for c in compare(head, base)}
    assert changes[("latency", "p95")].relative == 0.5
    assert changes[("throughput_rps", "value")].to_dict() == {"metric": "throughput_rps", "stat": "value",
                                                              "base": 9.5, "head": 8.0, "change": -0.1579}
    assert ("ttft", "p95") not in changes  # this run measured no TTFT
