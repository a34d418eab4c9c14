"""Everyday changes to the support-bot example's retrieval, on a branch of a real git repository: labels edited
since the baseline, a service that breaks on every query, a query added without judgements."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo, edit, example_repo, gate


def _check(bot: Path) -> tuple[int, dict[str, Any], str]:
    res = gate("check", "--only", "retrieval", "--base-ref", "main", "--report-json", "r.json", cwd=bot)
    report = json.loads((bot / "r.json").read_text(encoding="utf-8"))
    return res.exit_code, next(c for c in report["checks"] if c["name"] == "retrieval"), res.stderr


def _regrade(bot: Path, every: int) -> set[str]:
    """A labels-only change: every `every`-th grade-2 judgement becomes grade 1; the retriever is untouched.
    Returns the queries whose judgements changed."""
    path = bot / "retrieval" / "qrels.txt"
    rows = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    top = [n for n, r in enumerate(rows) if r[3] == "2"]
    changed = set(top[::every])
    path.write_text("".join(" ".join([*r[:3], "1"] if n in changed else r) + "\n" for n, r in enumerate(rows)),
                    encoding="utf-8")
    return {rows[n][0] for n in changed}


def _judged(bot: Path) -> int:
    return len({line.split()[0] for line in (bot / "retrieval" / "qrels.txt").read_text(encoding="utf-8").splitlines()})


def _on_main(repo: GitRepo, bot: Path, change: str) -> None:
    """Commit `change` (a baseline edit) on main, and bring it into the branch under test."""
    repo.git("checkout", "-q", "main")
    path = bot / ".gate" / "retrieval-baseline.json"
    path.write_text(re.sub(r'"judgements": "[0-9a-f]+", ', change, path.read_text(encoding="utf-8")),
                    encoding="utf-8")
    repo.commit("the baseline edited")
    repo.git("checkout", "-q", "change")
    repo.git("merge", "-q", "main")


def test_retrieval_many_queries_relabelled_fail_min_coverage_not_a_drop(repo: GitRepo) -> None:
    # Grades demoted on most queries: the drop is the labels', not the retriever's. Those queries leave the
    # comparison, and so many of them leave too few compared for gates.min_coverage: a failure that says the
    # judgements changed, never "nDCG@10 regressed".
    bot = example_repo(repo)
    changed = _regrade(bot, 2)
    repo.commit("relabel")
    code, check, _ = _check(bot)
    assert code == 1 and check["status"] == "fail", check["summary"]
    [violation] = check["details"]["violations"]
    judged = _judged(bot)
    assert violation.startswith(f"only {judged - len(changed)} of the baseline's {judged} judged queries can be "
                                "compared ("), violation
    assert "under gates.min_coverage 80%; judgements changed: " in violation
    assert not any("regressed" in f["message"] for f in check["findings"])
    [finding] = [f for f in check["findings"] if f["severity"] == "error"]
    assert finding["file"] == "bot/gate.yaml" and finding["message"] == violation
    rows = {r["measure"]: r for r in check["details"]["measures"]}
    assert rows["nDCG@10"]["n_paired"] == judged - len(changed)


def test_retrieval_one_query_relabelled_warns_and_compares_the_rest(repo: GitRepo) -> None:
    bot = example_repo(repo)
    path = bot / "retrieval" / "qrels.txt"
    lines = path.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("q05 "))
    fields = lines[at].split()
    lines[at] = " ".join([*fields[:3], "0" if fields[3] != "0" else "1"])
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    repo.commit("relabel q05")
    code, check, _ = _check(bot)
    assert code == 0 and check["status"] == "warn", check["summary"]
    [warning] = [f for f in check["findings"] if f["severity"] == "warning"]
    assert warning["file"] == "bot/retrieval/qrels.txt" and warning["line"] == at + 1
    judged = _judged(bot)
    assert warning["message"].startswith(f"1 query's relevance judgements changed since the baseline: compared on "
                                         f"the {judged - 1} whose did not (q05 (line {at + 1}))"), warning["message"]
    rows = {r["measure"]: r for r in check["details"]["measures"]}
    assert rows["nDCG@10"]["n_paired"] == judged - 1 and rows["nDCG@10"]["delta"] is not None
    assert f"vs the base branch on the {judged - 1} queries not relabelled (" in check["summary"]
    assert not check["details"]["violations"]


def test_retrieval_baseline_without_judgement_digests_still_compares_and_says_so(repo: GitRepo) -> None:
    # A baseline written before the digests were kept: it still loads and compares every query, and a note says
    # a change of labels cannot be told apart.
    bot = example_repo(repo)
    _on_main(repo, bot, "")
    code, check, _ = _check(bot)
    assert code == 0 and check["status"] == "pass", check["summary"]
    assert any("records no digest of its relevance judgements" in n for n in check["details"]["notes"])
    rows = {r["measure"]: r for r in check["details"]["measures"]}
    assert rows["nDCG@10"]["n_paired"] == _judged(bot)


def test_retrieval_baseline_judgements_not_text_is_a_finding_at_its_line(repo: GitRepo) -> None:
    bot = example_repo(repo)
    _on_main(repo, bot, '"judgements": 7, ')
    code, check, _ = _check(bot)
    assert code == 1 and check["status"] == "fail", check["summary"]
    [finding] = [f for f in check["findings"] if f["severity"] == "error"]
    assert (finding["file"], finding["line"]) == ("bot/.gate/retrieval-baseline.json", 7)
    assert finding["message"] == '$.queries["q01"].judgements: must be the digest of the query\'s judgements (text)'


def test_retrieval_baseline_update_records_each_judged_querys_digest(repo: GitRepo) -> None:
    bot = example_repo(repo)
    assert gate("baseline", "update", "--only", "retrieval", cwd=bot).exit_code == 0
    queries = json.loads((bot / ".gate" / "retrieval-baseline.json").read_text(encoding="utf-8"))["queries"]
    judged = {q for q, entry in queries.items() if "measures" in entry}
    assert judged and {q for q, entry in queries.items() if "judgements" in entry} == judged
    assert all(re.fullmatch(r"[0-9a-f]{16}", queries[q]["judgements"]) for q in judged)
    assert repo.git("status", "--porcelain") == ""  # the example's committed baseline already has them


def test_retrieval_every_query_failing_shows_the_service_log(repo: GitRepo) -> None:
    # The corpus renamed and the retriever not told: every search fails inside the running service. The check
    # cannot complete (exit 3), its reason (the service's traceback) reaches the gate's log, and the service was
    # reached, so "cannot connect" would be untrue.
    bot = example_repo(repo)
    repo.git("mv", "bot/help-centre/articles.jsonl", "bot/help-centre/articles-v2.jsonl")
    edit(bot / "gate.yaml", "corpus: help-centre/articles.jsonl", "corpus: help-centre/articles-v2.jsonl")
    edit(bot / "gate.yaml", "  qrels: retrieval/qrels.txt\n", "  qrels: retrieval/qrels.txt\n  retries: 0\n")
    repo.commit("rename the corpus")
    code, check, stderr = _check(bot)
    assert code == 3 and check["status"] == "error"
    assert "retrieval: the service's log ends with" in stderr and "FileNotFoundError" in stderr, stderr[-2000:]
    assert "cannot connect" not in check["summary"], check["summary"]
    assert "/search closed the connection without a whole answer: remote end closed" in check["summary"]
    assert "the end of the service's log is in the gate's log" in check["summary"]
    assert "FileNotFoundError" not in json.dumps(check)  # the log stays out of the report, and so of the comment


def test_retrieval_passing_run_prints_no_service_log(repo: GitRepo) -> None:
    bot = example_repo(repo)
    code, check, stderr = _check(bot)
    assert code == 0 and check["status"] == "pass", check["summary"]
    assert "service's log" not in stderr


def test_retrieval_query_without_judgements_notice_names_it(repo: GitRepo) -> None:
    # A query added without judgements: the notice names it with its line, so whoever added it can tell it from
    # the example's own unjudged query.
    bot = example_repo(repo)
    path = bot / "retrieval" / "queries.jsonl"
    text = path.read_text(encoding="utf-8")
    path.write_text(text + '{"id": "q99", "query": "delete my organisation"}\n', encoding="utf-8")
    repo.commit("a new query")
    code, check, _ = _check(bot)
    assert code == 0
    [notice] = [f for f in check["findings"] if "without relevance judgements" in f["message"]]
    added = len(text.splitlines()) + 1
    assert notice["message"].endswith(f"kept in drift: q63 (line 63), q99 (line {added})"), notice["message"]
    assert notice["file"] == "bot/retrieval/queries.jsonl" and notice["line"] == 63


def test_retrieval_qrels_reordered_not_relabelled(repo: GitRepo) -> None:
    # The same judgements in another order (sorted by document, say) are the same labels: nothing is set aside.
    bot = example_repo(repo)
    path = bot / "retrieval" / "qrels.txt"
    path.write_text("".join(reversed(path.read_text(encoding="utf-8").splitlines(keepends=True))), encoding="utf-8")
    repo.commit("qrels in another order")
    code, check, _ = _check(bot)
    assert code == 0 and check["status"] == "pass", check["summary"]
    rows = {r["measure"]: r for r in check["details"]["measures"]}
    assert rows["nDCG@10"]["n_paired"] == _judged(bot)
