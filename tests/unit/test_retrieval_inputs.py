"""The labelled files: every unusable line is a finding at its file and line, and the rest is still read."""

from __future__ import annotations

from pathlib import Path

import pytest
from prodgate_checks.retrieval.inputs import read_inputs
from prodgate_checks.retrieval.rankings import read_run


def _defects(inputs: object) -> list[tuple[str | None, int | None, str]]:
    return [(f.file, f.line, f.message) for f in inputs.defects]  # type: ignore[attr-defined]


def test_retrieval_inputs_bad_lines_are_findings_at_file_and_line(tmp_path: Path) -> None:
    q = tmp_path / "queries.jsonl"
    q.write_text('{"id": "a", "query": "alpha", "metadata": {"cluster": "x"}}\n{"id": 7, "query": "seven"}\n'
                 '{"id": "a", "query": "again"}\nnot json\n{"id": "b"}\n', encoding="utf-8")
    r = tmp_path / "qrels.txt"
    r.write_text("a 0 d1 2\nghost 0 d1 1\na 0 d1 1\n7 0 d2 one\n7 0 d3\n", encoding="utf-8")
    inputs = read_inputs(q, r, None, lambda p: p.name)
    found = _defects(inputs)
    assert found[0] == ("queries.jsonl", 3, "duplicate query id 'a' (first at line 1)")
    assert found[1][:2] == ("queries.jsonl", 4) and found[1][2].startswith("not valid JSON")
    assert found[2] == ("queries.jsonl", 5, "query 'b' has no `query` text")
    assert found[3] == ("qrels.txt", 2, "judgement for query 'ghost', which the queries file does not have")
    assert found[4] == ("qrels.txt", 3, "query 'a' judges document 'd1' twice (first at line 1)")
    assert found[5] == ("qrels.txt", 4, "relevance must be a whole number, not 'one'")
    assert found[6] == ("qrels.txt", 5, "a TREC qrels line is `qid 0 docid relevance`, not 3 fields")
    assert list(inputs.queries) == ["a", "7"] and inputs.queries["a"].cluster == "x"
    assert inputs.qrels == {"a": {"d1": 2}}
    assert inputs.judged == ["a"]


def test_retrieval_inputs_csv_queries_and_jsonl_qrels_read(tmp_path: Path) -> None:
    q = tmp_path / "queries.tsv"
    q.write_text("id\tquery\tcluster\nq1\treset password\tacct\nq2\tinvoices\t\n", encoding="utf-8")
    r = tmp_path / "qrels.jsonl"
    r.write_text('{"query_id": "q1", "doc_id": "d1", "relevance": 2}\n{"query_id": "q2", "doc_id": 5, "relevance": 0}\n',
                 encoding="utf-8")
    c = tmp_path / "corpus.jsonl"
    c.write_text('{"id": "d1", "title": "Reset your password"}\n{"id": "d2"}\n', encoding="utf-8")
    inputs = read_inputs(q, r, c, lambda p: p.name)
    assert inputs.queries["q1"].cluster == "acct" and inputs.queries["q2"].cluster is None
    assert inputs.qrels == {"q1": {"d1": 2}, "q2": {"5": 0}}
    assert inputs.titles == {"d1": "Reset your password"}
    assert _defects(inputs) == [("corpus.jsonl", 2, "a document needs an `id` and a `title` (text)")]


def test_retrieval_inputs_cluster_from_a_csv_metadata_column_or_a_defect(tmp_path: Path) -> None:
    q = tmp_path / "queries.csv"
    q.write_text("id,query,metadata.cluster\nq1,reset password,acct\nq2,forgot my password,acct\nq3,invoices,\n",
                 encoding="utf-8")
    j = tmp_path / "more.jsonl"
    j.write_text('{"id": "a", "query": "alpha", "metadata": {"cluster": ["x"]}}\n'
                 '{"id": "b", "query": "beta", "metadata": {"cluster": 4}}\n', encoding="utf-8")
    r = tmp_path / "qrels.txt"
    r.write_text("q1 0 d1 1\n", encoding="utf-8")
    inputs = read_inputs(q, r, None, lambda p: p.name)
    assert [inputs.queries[k].cluster for k in ("q1", "q2", "q3")] == ["acct", "acct", None]
    inputs = read_inputs(j, tmp_path / "empty.txt", None, lambda p: p.name)
    assert inputs.defects[0].file == "more.jsonl" and inputs.defects[0].line == 1
    assert inputs.defects[0].message == "query 'a': a cluster is a string or a whole number, not \"['x']\""
    assert list(inputs.queries) == ["b"] and inputs.queries["b"].cluster == "4"


def test_retrieval_run_file_bad_lines_and_unknown_queries(tmp_path: Path) -> None:
    run = tmp_path / "run.trec"
    run.write_text("q1 Q0 d1 1 2.0 t\nq1 Q0 d2 2 x t\nq1 Q0 d1 3 1.0 t\nzz Q0 d1 1 1.0 t\nq1 d2\n", encoding="utf-8")
    got = read_run(run, "run.trec", {"q1": None}, 10)
    assert [(f.line, f.message) for f in got.defects] == [
        (2, "the score 'x' is not a finite number"),
        (3, "query 'q1' lists document 'd1' twice (first at line 1)"),
        (5, "a TREC run line is `qid Q0 docid rank score tag`, not 2 fields"),
    ]
    assert got.rankings == {"q1": ("d1",)} and got.unknown == {"zz"}
    jsonl = tmp_path / "run.jsonl"
    jsonl.write_text('{"query_id": "q1", "doc_id": "b", "rank": 2}\n{"query_id": "q1", "doc_id": "a", "rank": 1}\n',
                     encoding="utf-8")
    assert read_run(jsonl, "run.jsonl", {"q1": None}, 10).rankings == {"q1": ("a", "b")}


@pytest.mark.parametrize("name", ["nDCG", "nDCG@10", "P@5", "P", "R@20", "RR", "RR@10", "AP", "AP@100", "Judged@10",
                                  "Judged@999999"])
def test_retrieval_measure_names_known_without_ir_measures_are_ones_it_reads(name: str) -> None:
    import ir_measures
    from prodgate_checks.retrieval.config import _PLAIN_MEASURE, FAMILIES, measure_problem

    assert _PLAIN_MEASURE.fullmatch(name) and measure_problem(name) is None
    assert ir_measures.parse_measure(name).NAME in FAMILIES


@pytest.mark.parametrize(("name", "known"), [("ndcg@10", False), ("P@x", False),
                                             ("Success@10", True), ("Rprec", True), ("ERR@10", False)])
def test_retrieval_measure_names_not_plain_are_asked_of_ir_measures(name: str, known: bool) -> None:
    from prodgate_checks.retrieval.config import _PLAIN_MEASURE, measure_problem

    assert not _PLAIN_MEASURE.fullmatch(name)
    assert (measure_problem(name) is None) is known
