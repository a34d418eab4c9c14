"""The retrieval check on odd and hostile files under review, through the real CLI: a finding at its file and line
(exit 1), never a crash or a figure that means nothing; a baseline the run cannot use says why, at its line."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import GitRepo, gate

QUERIES = "".join(json.dumps({"id": f"q{i}", "query": f"topic {i}"}) + "\n" for i in range(6))
QRELS = "".join(f"q{i} 0 doc{i} 2\n" for i in range(6))
RUN = "".join(f"q{i} Q0 doc{i} 1 5.0 t\nq{i} Q0 doc{i + 1} 2 4.0 t\n" for i in range(6))
CONFIG = "version: 1\nretrieval:\n  target: {run: run.trec}\n  queries: queries.jsonl\n  qrels: qrels.txt\n  k: 10\n"
MEASURES = {"nDCG@10": 1.0, "P@5": 0.2, "R@10": 1.0, "RR": 1.0, "AP": 1.0}


def _repo(repo: GitRepo, files: dict[str, str | bytes]) -> None:
    for name, content in {"queries.jsonl": QUERIES, "qrels.txt": QRELS, "run.trec": RUN, "gate.yaml": CONFIG,
                          **files}.items():
        path = repo.path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    repo.commit()


def _check(repo: GitRepo) -> tuple[int, dict[str, Any]]:
    res = gate("check", "--only", "retrieval", "--format", "json", "--base-ref", "main", cwd=repo.path)
    assert res.exit_code in (0, 1), res.stdout + res.stderr
    [check] = res.json()["checks"]
    return res.exit_code, check


def _where(check: dict[str, Any]) -> list[tuple[str | None, int | None, str]]:
    return [(f.get("file"), f.get("line"), f["message"]) for f in check["findings"] if f["severity"] == "error"]


BIG = "1" + "0" * 400


@pytest.mark.parametrize(("files", "file", "line", "message"), [
    ({"qrels.txt": QRELS + "q1 0 dX 99999999999999999999\n"}, "qrels.txt", 7, "relevance 99999999999999999999 is out"),
    ({"qrels.txt": QRELS + "q1 0 dX 3000000000\n"}, "qrels.txt", 7, "a grade is a whole number from -2147483648"),
    ({"qrels.jsonl": '{"query_id": "q1", "doc_id": "d", "relevance": -3000000000}\n'}, "qrels.jsonl", 1,
     "relevance -3000000000 is out of range"),
    ({"qrels.txt": "# judged later\n"}, "qrels.txt", None, "no judgement: the file judges no document"),
    ({"run.trec": ""}, "run.trec", None, "the run ranks no document: the file is empty"),
    ({"run.trec": "zz Q0 doc1 1 1.0 t\n"}, "run.trec", None, "the run ranks only queries the queries file does not "
                                                            "have ('zz')"),
    ({"run.jsonl": '{"query_id": "q1", "doc_id": "d", "score": ' + BIG + "}\n"}, "run.jsonl", 1,
     "document 'd' has a score that is not a finite number"),
    ({"run.jsonl": '{"query_id": "q1", "doc_id": "d", "rank": ' + BIG + "}\n"}, "run.jsonl", 1,
     "a run line needs a `score` (or a whole-number `rank`, at most 2**53)"),
    ({"run.trec": RUN + "q1 Q0 dn 3 nan t\n"}, "run.trec", 13, "the score 'nan' is not a finite number"),
    ({"run.trec": RUN.encode() + b"q1 Q0 d\xff 3 1.0 t\n"}, "run.trec", 13, "not valid UTF-8 (byte 0xff)"),
    ({"queries.jsonl": QUERIES + json.dumps({"id": "q1" + "x" * 5000, "query": "a"}) + "\n"
      + json.dumps({"id": "q1" + "x" * 5000, "query": "b"}) + "\n"}, "queries.jsonl", 8, "duplicate query id 'q1xxx"),
    ({"run.jsonl": '{"query_id": "q1", "doc_id": ["d"], "score": 1}\n'}, "run.jsonl", 1,
     "doc_id is not a document id (a string or a whole number)"),
], ids=["grade-beyond-int64", "grade-beyond-int32", "negative-grade-jsonl", "no-judgement", "empty-run",
        "run-of-unknown-queries", "score-of-400-digits", "rank-of-400-digits", "nan-score", "invalid-utf8",
        "long-duplicate-id", "doc-id-not-a-string"])
def test_retrieval_odd_labelled_file_is_a_finding_at_its_line(repo: GitRepo, files: dict[str, str | bytes],
                                                              file: str, line: int | None, message: str) -> None:
    config = CONFIG.replace("qrels.txt", "qrels.jsonl") if "qrels.jsonl" in files else CONFIG
    config = config.replace("run.trec", "run.jsonl") if "run.jsonl" in files else config
    _repo(repo, {**files, "gate.yaml": config})
    code, check = _check(repo)
    assert code == 1 and check["status"] == "fail" and "nothing was measured" in check["summary"]
    [(found_file, found_line, found)] = _where(check)
    assert (found_file, found_line) == (file, line) and message in found, found
    assert len(found) < 400  # a megabyte id is cut short in the sentence


def test_retrieval_bom_and_crlf_files_read_as_plain_ones(repo: GitRepo) -> None:
    crlf = {name: "\ufeff" + text.replace("\n", "\r\n") for name, text in
            (("queries.jsonl", QUERIES), ("qrels.txt", QRELS), ("run.trec", RUN))}
    _repo(repo, crlf)
    code, check = _check(repo)
    assert code == 0 and check["metrics"]["nDCG@10"] == 1.0 and check["metrics"]["judged_queries"] == 6


def test_retrieval_ranking_of_100000_documents_is_cut_at_k(repo: GitRepo) -> None:
    many = "".join(f"q1 Q0 x{i} {i + 1} {100000 - i} t\n" for i in range(100_000))
    _repo(repo, {"run.trec": RUN.replace("q1 Q0 doc1 1 5.0", "q1 Q0 doc1 1 500000.0") + many})
    gate("baseline", "update", "--only", "retrieval", cwd=repo.path)
    data = json.loads((repo.path / ".gate" / "retrieval-baseline.json").read_text())
    assert data["queries"]["q1"]["top"] == ["doc1", *(f"x{i}" for i in range(9))]


def _baseline(queries: dict[str, Any], **head: Any) -> str:
    return json.dumps({"format": 1, "tool": "prodgate", "k": 10, "depth": 10, **head, "queries": queries})


GOOD = {f"q{i}": {"top": [f"doc{i}", f"doc{i + 1}"], "measures": MEASURES} for i in range(6)}
WRITER = "\n".join(["{", '"format": 1,', '"k": 10,', '"queries": {',
                    '"q0": {"top": ["doc0"], "measures": {"AP": 1.0}},', '"q1": {"top": "doc1"}', "}", "}"])


@pytest.mark.parametrize(("text", "line", "message"), [
    ("{not json", 1, "not valid JSON: Expecting property name"),
    ('{"format": 1,\n "queries": {\n"q1": {"top": []},,\n}}', 3, "not valid JSON"),
    (b'{"format": 1,\n"queries": {"q\xff": {}}}', 2, "not valid UTF-8 (byte 0xff)"),
    ("[1, 2]", 1, "not a prodgate retrieval baseline"),
    (WRITER, 6, '$.queries["q1"].top: must be a list of document ids'),
    (_baseline({**GOOD, "q3": {"top": [], "measures": {"AP": 0.5}}}), 1,
     "has AP, the queries before it AP, P@5, R@10, RR, nDCG@10: a baseline holds the same measures"),
    (_baseline({q: {"top": v["top"], "measures": {"MAP": 0.5, "ERR@20": 0.1}} for q, v in GOOD.items()}), None,
     "none of this run's measures can be compared with the baseline: it holds ERR@20, MAP at k=10"),
], ids=["not-json", "syntax-error-line-3", "invalid-utf8", "not-an-object", "entry-at-its-line", "mixed-measures",
        "another-measure-set"])
def test_retrieval_unusable_baseline_fails_at_its_line(repo: GitRepo, text: str | bytes, line: int | None,
                                                       message: str) -> None:
    _repo(repo, {".gate/retrieval-baseline.json": text})
    code, check = _check(repo)
    assert code == 1 and check["status"] == "fail"
    [(file, found_line, found)] = _where(check)
    assert (file, found_line) == (".gate/retrieval-baseline.json", line) and message in found, found
    assert check["metrics"]["nDCG@10"] == 1.0  # the run is still measured


def test_retrieval_baseline_of_another_depth_compares_only_the_shallow_measures(repo: GitRepo) -> None:
    _repo(repo, {".gate/retrieval-baseline.json": _baseline(GOOD, k=5)})
    code, check = _check(repo)
    assert code == 0 and check["status"] == "warn"
    [warning] = [f for f in check["findings"] if f["severity"] == "warning"]
    assert warning["file"] == ".gate/retrieval-baseline.json"
    assert "ranked 5 documents per query, this run 10: nDCG@10, R@10, RR, AP reach below rank 5" in warning["message"]
    compared = {r["measure"] for r in check["details"]["measures"] if r.get("delta") is not None}
    assert compared == {"P@5"}


def test_retrieval_queries_gone_from_the_labelled_set_fail_below_min_coverage(repo: GitRepo) -> None:
    removed = {f"z{i}": {"top": ["doc1"], "measures": {**MEASURES, "RR": 0.0}} for i in range(4)}
    _repo(repo, {".gate/retrieval-baseline.json": _baseline({**GOOD, **removed})})
    code, check = _check(repo)
    assert code == 1 and check["status"] == "fail"
    [violation] = check["details"]["violations"]
    assert violation.startswith("only 6 of the baseline's 10 judged queries are judged in this run (60%, under "
                                "gates.min_coverage 80%; gone: z0, z1, z2, z3)")
    _repo(repo, {"gate.yaml": CONFIG + "  gates: {min_coverage: 0.5}\n"})
    code, check = _check(repo)
    assert code == 0 and not check["details"]["violations"]
    # Within min_coverage, still not a clean pass: the removed queries could be exactly the ones that got worse.
    gone = [f for f in check["findings"] if "4 queries judged in the baseline but not in this run" in f["message"]]
    assert [f["severity"] for f in gone] == ["warning"] and check["status"] == "warn"


def test_retrieval_query_judged_now_but_not_at_the_base_keeps_the_comparison(repo: GitRepo) -> None:
    # A pull request that labels one more query must not turn every measure into "new": the rest still compare.
    base = {**GOOD, "q5": {"top": ["doc5", "doc6"]}}
    _repo(repo, {".gate/retrieval-baseline.json": _baseline(base), "run.trec": RUN.replace("q2 Q0 doc2 1", "q2 Q0 x 1")})
    code, check = _check(repo)
    rows = {r["measure"]: r for r in check["details"]["measures"]}
    assert rows["nDCG@10"]["n_paired"] == 5 and rows["RR"]["delta"] == pytest.approx(-0.2, abs=1e-6)
    assert not [n for n in check["details"]["notes"] if "new measure" in n]
    assert code == 0


EVIL = ("@octocat <img src=x onerror=alert(1)> `tick` **b** [l](http://e.vil) ::error::pwn ##[error]x \u202egnp.exe"
        " | pipe \x1b[2J\r::warning::cr")


def test_retrieval_hostile_ids_and_texts_stay_inert_and_short_in_every_output(repo: GitRepo) -> None:
    long = "@x" + "y" * 20_000
    odd = "@admin`x|y`::warning::z" + long
    queries = QUERIES + json.dumps({"id": odd, "query": EVIL + "\n::error::line2 " + long}) + "\n"
    corpus = "".join(json.dumps({"id": d, "title": EVIL + long}) + "\n" for d in ("doc1", "doc2", "ev`il@x" + long))
    _repo(repo, {"queries.jsonl": queries, "qrels.txt": QRELS + f"{odd} 0 doc1 1\n", "corpus.jsonl": corpus,
                 "run.trec": RUN + f"{odd} Q0 doc1 1 1.0 t\n",
                 "gate.yaml": CONFIG + "  corpus: corpus.jsonl\n  drift: {max_changed_share: 0.1}\n"})
    assert gate("baseline", "update", "--only", "retrieval", cwd=repo.path).exit_code == 0
    repo.commit("baseline")
    repo.git("checkout", "-q", "-b", "change")
    evil_docs = ["ev`il@x" + long, "<b>@u</b>::error::" + long]
    repo.write("run.trec", "".join(f"{q} Q0 {d} {r + 1} {9 - r} t\n" for q in [f"q{i}" for i in range(6)]
                                   for r, d in enumerate(evil_docs)))
    res = gate("check", "--only", "retrieval", "--base-ref", "main", "--markdown", "comment.md", "--report-json",
               "gate-report.json", "--format", "json", cwd=repo.path)
    assert res.exit_code == 1, res.stderr
    md = (repo.path / "comment.md").read_text(encoding="utf-8")
    assert "Queries that lost most" in md and "Most frequent documents without a judgement" in md
    for bad in ("@octocat", "@admin", "@u<", "@x", "##[", "\u202e", "\x1b", "\r"):
        assert bad not in md, bad  # mentions neutralised even inside code spans
    prose = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md)  # what markdown reads outside code spans
    for bad in ("<img", "<b>@", "](http://e.vil)", "**b**", "`tick`"):
        assert bad not in prose, bad
    assert not [line for line in md.splitlines() if line.lstrip().startswith("::")]
    assert max(len(line) for line in md.splitlines()) < 6000
    report = json.loads((repo.path / "gate-report.json").read_text(encoding="utf-8"))
    [check] = report["checks"]
    assert all(len(f["message"]) < 1000 and len(f.get("case_id") or "") <= 200 for f in check["findings"])
    strings: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            strings.extend(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(check["details"])
    assert max(len(s) for s in strings) <= 1000
    assert len((repo.path / "gate-report.json").read_bytes()) < 100_000

    from gate.github.workflow import annotation_lines
    from gate.report import Report

    lines, _ = annotation_lines(Report.from_dict(report))
    assert lines and all(line.startswith("::") and "\n" not in line and "\r" not in line for line in lines)
    assert all("\x1b" not in line and len(line) < 1500 for line in lines)


def test_retrieval_backtracking_chunk_pattern_stops_at_the_deadline(repo: GitRepo) -> None:
    # A pull request's gate.yaml names the pattern, the retriever the ids it runs on: `re` would search for hours.
    repo.write("retr.py", "def search(query, k):\n"
                          "    i = int(query.split()[-1])\n"
                          "    return [('a' * 60 + '!', 2.0)] if i == 3 else [(f'doc{i}', 2.0), (f'doc{i + 1}', 1.0)]\n")
    _repo(repo, {"gate.yaml": CONFIG.replace("{run: run.trec}", "{python: 'retr:search'}")
                 + "  retries: 0\n  results: {chunk_pattern: '^((a|aa)+)$'}\n"})
    code, check = _check(repo)
    assert code == 1 and check["metrics"]["failure_categories"] == {"retrieval.invalid_output": 1}
    [finding] = [f for f in check["findings"] if f.get("case_id") == "q3"]
    assert "chunk_pattern did not finish within 0.25s on its 61-character id" in finding["message"]
    assert check["metrics"]["judged_queries"] == 5


def test_retrieval_long_unknown_measure_in_gate_yaml_is_one_short_line(repo: GitRepo) -> None:
    _repo(repo, {"gate.yaml": CONFIG + "  measures: ['" + "x" * 5000 + "']\n"})
    res = gate("check", "--only", "retrieval", "--base-ref", "main", cwd=repo.path)
    assert res.exit_code == 2
    [line] = res.stderr.strip().splitlines()
    assert line.startswith("error: gate.yaml:7:") and "is not a measure ir-measures knows" in line and len(line) < 500


def test_retrieval_backtracking_chunk_pattern_capped_per_run(repo: GitRepo) -> None:
    # (A module name of its own: a python target stays imported in this process.) Every id of four queries backtracks: after 3 deadlines the pattern is not run again, so 4 queries of 4 ids
    # cost 3 deadlines, not 16.
    repo.write("retr_capped.py", "def search(query, k):\n"
                          "    i = int(query.split()[-1])\n"
                          "    if i == 1:\n"
                          "        return [('doc1', 2.0)]\n"
                          "    return [('a' * 60 + f'!{i}{j}', 2.0 - j) for j in range(4)]\n")
    _repo(repo, {"gate.yaml": CONFIG.replace("{run: run.trec}", "{python: 'retr_capped:search'}")
                 + "  retries: 0\n  concurrency: 1\n  results: {chunk_pattern: '^((a|aa)+)$'}\n"})
    code, check = _check(repo)
    assert code == 1
    messages = [f["message"] for f in check["findings"] if f.get("case_id")]
    timed_out = [m for m in messages if "-character id (catastrophic backtracking?)" in m]
    capped = [m for m in messages if "on 3 ids of this run (catastrophic backtracking?): not run again" in m]
    assert len(timed_out) == 3 and len(capped) == len(messages) - 3 and capped, messages
