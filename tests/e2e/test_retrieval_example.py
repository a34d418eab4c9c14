"""The example's help-centre retriever through the real CLI on a real git repository, asked through the service
(app.py's /search, which the gate starts): unchanged it passes; dropping the article titles from the index fails
with the lost queries listed; ordering equal scores differently passes."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE, GitRepo, gate_subprocess

BOT = "bot"


def _example(repo: GitRepo, edit: tuple[str, str] | None = None, k: int | None = None) -> None:
    """The example on main with its committed retrieval baseline (rewritten when `edit` changes the retriever)."""
    shutil.copytree(EXAMPLE, repo.path / BOT, ignore=shutil.ignore_patterns("cache", "__pycache__"))
    if edit is not None:
        _edit(repo, *edit)
        if k is not None:
            config = repo.path / BOT / "gate.yaml"
            config.write_text(config.read_text(encoding="utf-8").replace("  k: 20\n", f"  k: {k}\n"), encoding="utf-8")
        res = gate_subprocess("baseline", "update", "-c", f"{BOT}/gate.yaml", "--only", "retrieval", cwd=repo.path)
        assert res.exit_code == 0, res.stdout + res.stderr
    repo.commit("the support bot, with its retrieval baseline")
    repo.git("checkout", "-q", "-b", "change")


def _edit(repo: GitRepo, old: str, new: str) -> None:
    path = repo.path / BOT / "retriever.py"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


def _check(repo: GitRepo, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    md = tmp_path / "comment.md"
    res = gate_subprocess("check", "-c", f"{BOT}/gate.yaml", "--only", "retrieval", "--format", "json",
                          "--base-ref", "main", "--markdown", md, cwd=repo.path)
    assert res.exit_code in (0, 1), res.stdout + res.stderr
    [check] = res.json()["checks"]
    return res.exit_code, check, md.read_text(encoding="utf-8")


def test_retrieval_example_unchanged_passes_against_its_baseline(repo: GitRepo, tmp_path: Path) -> None:
    _example(repo)
    code, check, md = _check(repo, tmp_path)
    assert code == 0 and check["status"] == "pass", check["summary"]
    rows = {r["measure"]: r for r in check["details"]["measures"]}
    assert list(rows) == ["nDCG@10", "P@5", "R@20", "RR", "AP"]
    assert rows["nDCG@10"]["head"] > 0.85 and rows["nDCG@10"]["delta"] == 0.0
    assert all(r["verdict"] == "no_significant_change" for r in rows.values()), rows
    assert check["details"]["drift"]["changed"] == 0 and check["details"]["drift"]["compared"] == 66
    assert check["metrics"]["judged_queries"] == 65 and check["metrics"]["failure_categories"] == {}
    assert check["details"]["run"]["target"] == "http" and check["details"]["run"]["calls"] == 66
    assert "| nDCG@‍10 | " in md and "Drift:** the top 10 moved (RBO < 0.8) for 0 of 66 queries" in md


def test_retrieval_example_titles_dropped_from_the_index_fails_with_lost_queries(repo: GitRepo, tmp_path: Path) -> None:
    _example(repo)
    # The change starts the service with the index of the article bodies only.
    config = repo.path / BOT / "gate.yaml"
    text = config.read_text(encoding="utf-8")
    assert text.count('start: "{python} app.py --port {port}"\n') == 2  # resilience's, then retrieval's
    head, _, tail = text.rpartition('start: "{python} app.py --port {port}"\n')
    config.write_text(head + 'start: "{python} app.py --port {port} --no-titles"\n' + tail, encoding="utf-8")
    repo.commit("index the article bodies only")
    code, check, md = _check(repo, tmp_path)
    assert code == 1 and check["status"] == "fail"
    rows = {r["measure"]: r for r in check["details"]["measures"]}
    assert rows["nDCG@10"]["regression"] is True and rows["nDCG@10"]["delta"] < -0.1
    assert rows["nDCG@10"]["ci95"][1] < -0.02 and rows["nDCG@10"]["p_adjusted"] < 0.05
    assert "nDCG@10 regressed" in check["summary"]
    # The finding names the gate it broke where gate.yaml writes it.
    gate_line = next(i for i, line in enumerate(config.read_text(encoding="utf-8").splitlines(), 1)
                     if "nDCG@10: {min: 0.7, max_drop: 0.02}" in line)
    broken = [(f["file"], f["line"]) for f in check["findings"] if f["message"].startswith("nDCG@10 regressed")]
    assert broken == [(f"{BOT}/gate.yaml", gate_line)], broken
    lost = check["details"]["lost"]
    assert len(lost) == 10 and all(item["delta"] < 0 for item in lost)
    assert lost[0]["before"] and lost[0]["before"] != lost[0]["after"]
    # Some queries matched the titles alone: they now find nothing, which is counted as such.
    assert check["metrics"]["failure_categories"].get("retrieval.empty", 0) >= 1
    assert check["details"]["drift"]["changed"] > 10
    assert "**Queries that lost most** (nDCG@‍10):" in md
    worst = lost[0]
    assert check["details"]["titles"][worst["before"][0]] in md.replace("\\", "")  # titles shown beside ids


def _load(path: Path, name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_retrieval_example_ties_ordered_differently_pass(repo: GitRepo, tmp_path: Path) -> None:
    # Coarse scores make ties; the change orders each tie by id descending instead of ascending. Every article is
    # asked for (k=60), so that no tie is cut at k, where which of the tied articles come back would differ.
    _example(repo, ("SCORE_DIGITS = 6", "SCORE_DIGITS = 0"), k=60)
    before = _load(repo.path / BOT / "retriever.py", "retriever_before")
    _edit(repo, "ORDER BY s, id LIMIT", "ORDER BY s, id DESC LIMIT")
    repo.commit("ties by id descending")
    after = _load(repo.path / BOT / "retriever.py", "retriever_after")
    queries = ["set a spending limit", "database backups and restore", "API rate limits and 429"]
    assert any(before.search(q, 20) != after.search(q, 20) for q in queries)  # the raw order did change
    code, check, _ = _check(repo, tmp_path)
    assert code == 0 and check["status"] == "pass", check["summary"]
    # Ties are ranked as trec_eval ranks them, whatever order they came in.
    assert all(r["delta"] == 0.0 for r in check["details"]["measures"])
    assert check["details"]["drift"]["changed"] == 0
