"""`gate baseline update` writes .gate/load-baseline.json; a branch is compared with the copy on its base."""

from __future__ import annotations

import json

from tests.conftest import GitRepo, gate
from tests.servers.load_support import load_result, write_load_repo
from tests.servers.openai_fake import Behaviour, serve


def test_load_baseline_update_then_slower_branch_fails_max_p95_increase(repo: GitRepo) -> None:
    with serve(Behaviour(latency_s=0.03)) as server:
        write_load_repo(repo.path, {"target": {"url": server.url}, "chat": {"dataset": "messages.jsonl",
                                                                            "stream": False},
                                    "users": 2, "duration": "1.5s", "max_p95_increase": "50%",
                                    "thresholds": {"latency": ["p(95) < 2s"]}})
        repo.commit("gate")
        res = gate("baseline", "update", "-c", "gate.yaml", "--only", "load", cwd=repo.path)
        assert res.exit_code == 0, res.stderr
        assert "baseline: wrote .gate/load-baseline.json" in res.stderr
        saved = json.loads((repo.path / ".gate" / "load-baseline.json").read_text())
        assert saved["version"] == 1 and saved["run"]["users"] == 2 and saved["run"]["mode"] == "closed"
        # A 30 ms sleep; a busy machine adds scheduling delay, far less than the tenfold slowdown below.
        assert 30 <= saved["metrics"]["latency_ms"]["p95"] < 150 and saved["metrics"]["requests"] > 10
        repo.commit("baseline")

        repo.git("checkout", "-q", "-b", "slower")
        server.behaviour.latency_s = 0.3  # the change under review makes every answer ten times slower
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--base-ref", "main", "--report-json", "r.json",
                   "--markdown", "r.md", cwd=repo.path)
    assert res.exit_code == 1, res.stderr
    check = load_result(repo.path / "r.json")
    (finding,) = [f for f in check["findings"] if f["severity"] == "error"]
    assert finding["message"].startswith("latency p95 rose +") and "more than max_p95_increase 50%" in finding["message"]
    changes = {c["metric"]: c for c in check["details"]["baseline"]["changes"]}
    assert changes["latency"]["change"] > 0.5 and changes["latency"]["base"] == saved["metrics"]["latency_ms"]["p95"]
    assert check["details"]["baseline"]["note"].startswith("baseline from .gate/load-baseline.json at main (")
    assert check["details"]["headline"]["change"].endswith("% p95")
    assert check["details"]["baseline"]["percentiles"] == [saved["metrics"]["latency_ms"][f"p{p}"]
                                                           for p in (50, 90, 95, 99)]


def test_load_no_baseline_on_base_says_how_to_make_one(repo: GitRepo) -> None:
    with serve(Behaviour()) as server:
        write_load_repo(repo.path, {"target": {"url": server.url}, "users": 1, "duration": "1s"})
        repo.commit("gate")
        res = gate("check", "-c", "gate.yaml", "--only", "load", "--report-json", "r.json", cwd=repo.path)
    assert res.exit_code == 0, res.stderr
    check = load_result(repo.path / "r.json")
    note = check["details"]["baseline"]["note"]
    assert note.startswith("no baseline: .gate/load-baseline.json does not exist at main")
    assert "gate baseline update" in note
    assert check["details"]["headline"]["change"] is None and check["details"]["baseline"]["changes"] == []
