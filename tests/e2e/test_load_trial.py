"""The load check's comparison with the base, as a pull request meets it: the baseline is read where the base keeps
it, a limit that cannot be applied or a run with nothing to judge never reads as a clean pass, a baseline of another
load shape is not compared, and every finding names gate.yaml's line."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import GitRepo, gate
from tests.servers.load_support import load_result, write_load_repo
from tests.servers.openai_fake import Behaviour, serve

LOAD = {"chat": {"dataset": "messages.jsonl", "stream": False}, "users": 2, "duration": "1.5s",
        "max_p95_increase": "50%", "thresholds": {"latency": ["p(95) < 5s"]}}


def _check(repo: GitRepo) -> tuple[int, dict[str, Any]]:
    res = gate("check", "-c", "gate.yaml", "--only", "load", "--base-ref", "main", "--report-json", "r.json",
               cwd=repo.path)
    return res.exit_code, load_result(repo.path / "r.json")


def _base(repo: GitRepo, url: str, baseline: str | None = None) -> None:
    """main: a load section with max_p95_increase; its baseline written by the gate, or the given text."""
    write_load_repo(repo.path, {"target": {"url": url}, **LOAD})
    repo.commit("gate")
    if baseline is None:
        assert gate("baseline", "update", "--only", "load", cwd=repo.path).exit_code == 0
    else:
        repo.write(".gate/load-baseline.json", baseline)
    repo.commit("baseline")


def _line_of(repo: GitRepo, text: str) -> int:
    lines = (repo.path / "gate.yaml").read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_load_baseline_moved_by_the_change_compared_with_the_base_copy_fails(repo: GitRepo) -> None:
    # The change makes every answer ten times slower and moves the baseline in the same commit: the base's copy,
    # where the base's own gate.yaml keeps it, is what the run is compared with.
    with serve(Behaviour(latency_s=0.03)) as server:
        _base(repo, server.url)
        repo.git("checkout", "-q", "-b", "slower")
        write_load_repo(repo.path, {"target": {"url": server.url}, **LOAD, "baseline": ".gate/load-v2.json"})
        repo.commit("move the load baseline")
        server.behaviour.latency_s = 0.3
        code, check = _check(repo)
    assert code == 1, check["summary"]
    (finding,) = [f for f in check["findings"] if f["severity"] == "error"]
    assert "max_p95_increase" in finding["message"]
    assert check["details"]["baseline"]["note"].startswith("baseline from .gate/load-baseline.json at main (")


@pytest.mark.parametrize("committed", [True, False], ids=["change", "base-itself"])
def test_load_base_without_baseline_max_p95_increase_unjudged_warns(repo: GitRepo, committed: bool) -> None:
    # Under review, or on the base branch itself: the limit has no baseline to be applied against either way.
    with serve(Behaviour(latency_s=0.02)) as server:
        write_load_repo(repo.path, {"target": {"url": server.url}, **LOAD})
        repo.commit("gate")
        repo.git("checkout", "-q", "-b", "slower")
        if committed:
            repo.write("app.txt", "slower\n")
            repo.commit("slower answers")
        server.behaviour.latency_s = 0.3
        code, check = _check(repo)
    assert code == 0
    assert check["status"] == "warn", check["summary"]
    (finding,) = [f for f in check["findings"] if f["severity"] == "warning"]
    assert finding["message"].startswith("load: not compared with the base, which runs this check: "
                                         ".gate/load-baseline.json does not exist at main")
    assert (finding["file"], finding["line"]) == ("gate.yaml", _line_of(repo, "load:"))


def test_load_unreadable_base_baseline_is_finding_at_the_file(repo: GitRepo) -> None:
    with serve(Behaviour(latency_s=0.02)) as server:
        _base(repo, server.url, baseline='{"format": 1, "queries": {}}\n')
        repo.git("checkout", "-q", "-b", "slower")
        server.behaviour.latency_s = 0.3
        code, check = _check(repo)
    assert code == 1, check["summary"]
    (finding,) = [f for f in check["findings"] if f["severity"] == "error"]
    assert (finding["file"], finding["line"]) == (".gate/load-baseline.json", 1)
    assert "not a prodgate load baseline" in finding["message"]
    assert check["details"]["baseline"]["changes"] == []


def test_load_baseline_of_another_load_shape_not_compared_warns_at_the_setting(repo: GitRepo) -> None:
    # Six users against a baseline of two, and every answer slower: a p95 measured under another load says nothing
    # about the change, so nothing is compared, and the warning names what differs at its line.
    with serve(Behaviour(latency_s=0.02)) as server:
        _base(repo, server.url)
        repo.git("checkout", "-q", "-b", "more-users")
        write_load_repo(repo.path, {"target": {"url": server.url}, **LOAD, "users": 6, "duration": "2s"})
        repo.commit("six users")
        server.behaviour.latency_s = 0.2
        code, check = _check(repo)
    assert code == 0, check["summary"]
    assert check["status"] == "warn", check["summary"]
    (finding,) = [f for f in check["findings"] if f["severity"] == "warning"]
    assert "measured under another load shape (users 2 -> 6, duration 1.5 s -> 2 s)" in finding["message"]
    assert (finding["file"], finding["line"]) == ("gate.yaml", _line_of(repo, "users:"))
    assert check["details"]["baseline"]["changes"] == [] and check["details"]["headline"]["change"] is None


def test_load_max_p95_increase_breach_names_its_gate_yaml_line(repo: GitRepo) -> None:
    with serve(Behaviour(latency_s=0.03)) as server:
        _base(repo, server.url)
        repo.git("checkout", "-q", "-b", "slower")
        server.behaviour.latency_s = 0.3
        code, check = _check(repo)
    assert code == 1
    (finding,) = [f for f in check["findings"] if f["severity"] == "error"]
    assert "max_p95_increase" in finding["message"]
    assert (finding["file"], finding["line"]) == ("gate.yaml", _line_of(repo, "max_p95_increase"))


def test_load_nothing_to_judge_warns_at_the_section(repo: GitRepo) -> None:
    with serve(Behaviour()) as server:
        write_load_repo(repo.path, {"target": {"url": server.url}, "users": 1, "duration": "1s"})
        repo.commit("gate")
        code, check = _check(repo)
    assert code == 0, check["summary"]
    assert check["status"] == "warn", check["summary"]
    (finding,) = [f for f in check["findings"] if f["severity"] == "warning"]
    assert finding["message"].startswith("load: nothing was judged")
    assert (finding["file"], finding["line"]) == ("gate.yaml", _line_of(repo, "load:"))
