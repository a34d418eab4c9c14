"""`gate check --shard I/N` runs a deterministic slice; `gate merge` of every shard equals the unsharded run."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE, GitRepo, gate, gate_subprocess
from tests.e2e.support_bot_cassette import VAGUE_ANSWER, write


def _regression(path: Path) -> dict[str, Any]:
    report = json.loads(path.read_text(encoding="utf-8"))
    check: dict[str, Any] = next(c for c in report["checks"] if c["name"] == "regression")
    check.pop("duration_s")
    return check


def bot_with_two_worse_answers(repo: GitRepo) -> Path:
    """The example on main, and a branch where two answers got worse: its gate.yaml."""
    shutil.copytree(EXAMPLE, repo.path / "bot")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    write(repo.path / "bot", {"answers/password-1": VAGUE_ANSWER, "answers/sso-2": VAGUE_ANSWER})
    repo.commit("two answers got worse")
    return repo.path / "bot" / "gate.yaml"


def test_regression_shard_merge_equals_full_run(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    full = tmp_path / "full.json"
    res = gate("check", "-c", config, "--only", "regression", "--base-ref", "main", "--report-json", full)
    assert res.exit_code == 0, res.stdout + res.stderr
    parts = []
    for i in (1, 2, 3):
        part = tmp_path / f"shard-{i}.json"
        gate("check", "-c", config, "--only", "regression", "--base-ref", "main", "--shard", f"{i}/3",
             "--report-json", part)
        parts.append(part)
    sizes = [_regression(p)["metrics"]["cases"] for p in parts]
    assert sum(sizes) == 104 and all(0 < s < 104 for s in sizes)
    merged = tmp_path / "merged.json"
    res = gate("merge", *reversed(parts), "-c", config, "--base-ref", "main", "--report-json", merged,
               "--format", "json")
    assert res.exit_code == 0, res.stdout + res.stderr
    assert _regression(merged) == _regression(full)
    assert res.json()["checks"][0]["name"] == "regression"


def test_regression_shard_same_slice_every_time(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    ids = []
    for n in range(2):
        out = tmp_path / f"s{n}.json"
        gate("check", "-c", config, "--only", "regression", "--shard", "2/4", "--report-json", out)
        ids.append([c["id"] for s in _regression(out)["details"]["suites"].values() for c in s["cases"]])
    assert ids[0] == ids[1] and len(ids[0]) > 0


def test_regression_merge_missing_shard_exit_2(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    one = tmp_path / "one.json"
    gate("check", "-c", config, "--only", "regression", "--shard", "1/2", "--report-json", one)
    res = gate_subprocess("merge", one, "-c", config)
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: shard 2 of 2 missing: a merge needs every shard"


def test_regression_shard_bad_value_exit_2(tmp_path: Path) -> None:
    res = gate("check", "-c", EXAMPLE / "gate.yaml", "--shard", "3/2")
    assert res.exit_code == 2
    assert "expected I/N with 1 <= I <= N" in res.stderr


def _shards(config: Path, tmp_path: Path, prefix: str, count: int = 2) -> list[Path]:
    out = []
    for i in range(1, count + 1):
        part = tmp_path / f"{prefix}-{i}.json"
        res = gate("check", "-c", config, "--only", "regression", "--shard", f"{i}/{count}", "--report-json", part)
        assert res.exit_code in (0, 1), res.stdout + res.stderr
        out.append(part)
    return out


def test_regression_merge_shards_of_different_commits_exit_2(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    [one, _] = _shards(config, tmp_path, "before")
    (repo.path / "bot" / "README.txt").write_text("a later commit\n", encoding="utf-8")
    repo.commit("later")
    [_, two] = _shards(config, tmp_path, "after")
    res = gate_subprocess("merge", one, two, "-c", config)
    assert res.exit_code == 2, res.stdout + res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith(f"error: {two}: ran at commit ") and "shards of different commits cannot be merged" in line


def test_regression_merge_shards_of_different_configs_exit_2(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    [one, _] = _shards(config, tmp_path, "before")
    text = config.read_text(encoding="utf-8")
    config.write_text(text.replace("threshold: 0.75", "threshold: 0.5"), encoding="utf-8")  # a judged pass moves
    [_, two] = _shards(config, tmp_path, "after")
    res = gate_subprocess("merge", one, two, "-c", config)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.strip() == (f"error: {one}: ran with another regression configuration than this gate.yaml: "
                                  "merge shards with the gate.yaml they ran with")


def test_regression_merge_garbled_shard_value_exit_2(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    [one, two] = _shards(config, tmp_path, "s")
    data = json.loads(one.read_text(encoding="utf-8"))
    next(c for c in data["checks"] if c["name"] == "regression")["details"]["run"]["shard"] = "one/two"
    one.write_text(json.dumps(data), encoding="utf-8")
    res = gate_subprocess("merge", one, two, "-c", config)
    assert res.exit_code == 2
    assert res.stderr.strip() == f"error: {one}: its regression result names no shard I/N ('one/two')"


def test_regression_merge_unwritable_output_is_exit_2_and_stdout_keeps_the_report(repo: GitRepo, tmp_path: Path) -> None:
    config = bot_with_two_worse_answers(repo)
    [one, two] = _shards(config, tmp_path, "s")
    (tmp_path / "file").write_text("", encoding="utf-8")
    bad = tmp_path / "file" / "merged.json"
    res = gate("merge", one, two, "-c", config, "--report-json", bad, "--markdown", tmp_path / "m.md", "--format", "json")
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.startswith(f"error: {bad}: cannot write: ")
    assert [c["name"] for c in res.json()["checks"]][:1] == ["regression"]
    assert (tmp_path / "m.md").read_text(encoding="utf-8").strip()
