"""The regression report keeps every failing case and counts the passing ones, unless --full-report; what reads every
case back (the baseline, `gate merge`) still gets them all, and the comment is the same either way."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo, gate
from tests.e2e.test_regression_shard import bot_with_two_worse_answers

FLIPPED = {"answers/password-1", "answers/sso-2"}




def _regression(path: Path) -> dict[str, Any]:
    report = json.loads(path.read_text(encoding="utf-8"))
    check: dict[str, Any] = next(c for c in report["checks"] if c["name"] == "regression")
    return check


def _check(config: Path, out: Path, *flags: str, shard: bool = False) -> dict[str, Any]:
    res = gate("check", "-c", config, "--only", "regression", "--base-ref", "main", "--report-json", out,
               "--markdown", out.with_suffix(".md"), *flags)
    # A shard compares part of the cases with the whole baseline: its verdict is the merge's to give.
    assert res.exit_code in ((0, 1) if shard else (0,)), res.stdout + res.stderr
    return _regression(out)


def test_regression_report_default_keeps_failing_cases_and_counts_passing(repo: GitRepo, tmp_path: Path) -> None:
    check = _check(bot_with_two_worse_answers(repo), tmp_path / "report.json")
    suites = check["details"]["suites"]
    kept = {f"{name}/{c['id']}" for name, s in suites.items() for c in s["cases"]}
    assert all(not c["pass"] for s in suites.values() for c in s["cases"])
    assert FLIPPED <= kept
    assert all(len(s["cases"]) + s["passing_omitted"] == s["count"] for s in suites.values())
    assert sum(s["count"] for s in suites.values()) == check["metrics"]["cases"] == 104
    assert sum(s["passing_omitted"] for s in suites.values()) == check["metrics"]["passed"] > 0


def test_regression_report_full_report_keeps_every_case_and_same_comment(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    trimmed = _check(config, tmp_path / "trimmed.json")
    full = _check(config, tmp_path / "full.json", "--full-report")
    suites = full["details"]["suites"]
    assert sum(len(s["cases"]) for s in suites.values()) == 104
    assert all("passing_omitted" not in s for s in suites.values())
    failing = {name: [c for c in s["cases"] if not c["pass"]] for name, s in suites.items()}
    assert failing == {name: s["cases"] for name, s in trimmed["details"]["suites"].items()}
    assert (full["status"], full["summary"], full["findings"]) == (trimmed["status"], trimmed["summary"],
                                                                  trimmed["findings"])
    # The comment lists the same flipped and failing cases from either report.
    comment, other = ((tmp_path / name).read_text(encoding="utf-8") for name in ("trimmed.md", "full.md"))
    assert comment.rsplit(" · ", 1)[0] == other.rsplit(" · ", 1)[0]  # the last line says how long the run took
    assert "Cases that passed on the base branch and fail now** (2)" in comment
    assert all(case.split("/")[1] in comment for case in FLIPPED)


def test_regression_report_same_bytes_apart_from_times(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    texts = []
    for name in ("one.json", "two.json"):
        _check(config, tmp_path / name)
        report = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        report["started_at"] = report["duration_s"] = 0
        for c in report["checks"]:
            c["duration_s"] = 0
        texts.append(json.dumps(report, indent=2, ensure_ascii=False))
    assert texts[0] == texts[1]


def test_regression_baseline_update_writes_every_case(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    res = gate("baseline", "update", "-c", config, "--only", "regression", "--report-json", tmp_path / "b.json")
    assert res.exit_code == 0, res.stdout + res.stderr
    baseline = json.loads((config.parent / ".gate" / "baseline.json").read_text(encoding="utf-8"))
    assert sum(len(s["cases"]) for s in baseline["suites"].values()) == 104
    assert all(c["repeats"] for s in baseline["suites"].values() for c in s["cases"].values())


def test_regression_merge_full_report_equals_full_run(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    full = _check(config, tmp_path / "full.json", "--full-report")
    parts = []
    for i in (1, 2):
        part = tmp_path / f"shard-{i}.json"
        shard = _check(config, part, "--shard", f"{i}/2", shard=True)
        # A shard keeps every case it ran: the merge rebuilds the comparison from them.
        assert "passing_omitted" not in next(iter(shard["details"]["suites"].values()))
        parts.append(part)
    for flags, expected in (((), _check(config, tmp_path / "trimmed.json")), (("--full-report",), full)):
        merged = tmp_path / "merged.json"
        res = gate("merge", *parts, "-c", config, "--base-ref", "main", "--report-json", merged, *flags)
        assert res.exit_code == 0, res.stdout + res.stderr
        got = _regression(merged)
        got.pop("duration_s"), expected.pop("duration_s")
        assert got == expected
