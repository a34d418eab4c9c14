"""The retrieval measures equal trec_eval's on a shipped fixture, and answers become rankings as trec_eval reads them."""

from __future__ import annotations

import math
import re

import pytest
from prodgate_checks.retrieval.config import ResultShape
from prodgate_checks.retrieval.measures import compute
from prodgate_checks.retrieval.rankings import InvalidAnswer, read_answer, read_run

from tests.conftest import REPO

FIXTURE = REPO / "tests" / "fixtures" / "retrieval"
MEASURES = ("nDCG@10", "P@5", "R@20", "RR", "AP", "Judged@10")


def _log2(x: float) -> float:
    return math.log2(x)


# Worked by hand with trec_eval's conventions: ties in score ranked by document id descending (q1: d2 before d1),
# relevant means relevance >= 1, nDCG's gain is the relevance grade over log2(rank + 1), a judged query the run
# lacks scores 0 (trec_eval -c), Judged@10 counts judged documents among those returned (up to 10).
EXPECTED = {
    # q1 ranks d3(1) d2(-) d1(2) d7(0) d6(-) d9(1) d10(-); relevant: d1, d3, d9.
    "q1": {"nDCG@10": (1 + 2 / _log2(4) + 1 / _log2(7)) / (2 + 1 / _log2(3) + 1 / _log2(4)),
           "P@5": 2 / 5, "R@20": 3 / 3, "RR": 1.0, "AP": (1 / 1 + 2 / 3 + 3 / 6) / 3, "Judged@10": 4 / 7},
    # q2 ranks d6(-) d1(-) d4(-) d5(3); relevant: d2, d5.
    "q2": {"nDCG@10": (3 / _log2(5)) / (3 + 1 / _log2(3)), "P@5": 1 / 5, "R@20": 1 / 2, "RR": 1 / 4,
           "AP": (1 / 4) / 2, "Judged@10": 1 / 4},
    # q3 ranks only unjudged documents.
    "q3": dict.fromkeys(MEASURES, 0.0),
    # q4 is judged but the run has nothing for it.
    "q4": dict.fromkeys(MEASURES, 0.0),
}


def test_retrieval_measures_equal_trec_eval_on_the_fixture_to_1e6() -> None:
    queries = {q: None for q in ("q1", "q2", "q3", "q4")}
    run = read_run(FIXTURE / "run.trec", "run.trec", queries, 100)
    assert run.defects == [] and run.rankings["q1"][:3] == ("d3", "d2", "d1")
    qrels: dict[str, dict[str, int]] = {}
    for line in (FIXTURE / "qrels.txt").read_text().splitlines():
        qid, _, doc, rel = line.split()
        qrels.setdefault(qid, {})[doc] = int(rel)
    qrels["q4"] = {"d1": 1}
    got = compute(MEASURES, qrels, run.rankings, queries)
    assert set(got) == set(EXPECTED)
    for qid, values in EXPECTED.items():
        for measure, value in values.items():
            assert got[qid][measure] == pytest.approx(value, abs=1e-6), (qid, measure)


def test_retrieval_measures_equal_pytrec_eval_called_directly() -> None:
    import pytrec_eval

    qrels = {"a": {"x": 2, "y": 1, "z": 0}, "b": {"y": 1}}
    rankings = {"a": ("w", "y", "x"), "b": ("x", "w", "v", "u", "y")}
    run = {q: {d: float(10 - i) for i, d in enumerate(docs)} for q, docs in rankings.items()}
    ref = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "P.5", "recall.20", "recip_rank", "map"}).evaluate(run)
    got = compute(("nDCG@10", "P@5", "R@20", "RR", "AP"), qrels, rankings, ["a", "b"])
    for q in ("a", "b"):
        assert got[q]["nDCG@10"] == pytest.approx(ref[q]["ndcg_cut_10"], abs=1e-9)
        assert got[q]["P@5"] == pytest.approx(ref[q]["P_5"], abs=1e-9)
        assert got[q]["R@20"] == pytest.approx(ref[q]["recall_20"], abs=1e-9)
        assert got[q]["RR"] == pytest.approx(ref[q]["recip_rank"], abs=1e-9)
        assert got[q]["AP"] == pytest.approx(ref[q]["map"], abs=1e-9)


def test_retrieval_answer_ties_order_as_trec_eval_whatever_the_retriever_order() -> None:
    shape = ResultShape()
    one = read_answer([["a", 2.0], ["b", 1.0], ["c", 1.0], ["d", 0.5]], shape, 10)
    other = read_answer([{"id": "a", "score": 2}, {"id": "c", "score": 1}, {"id": "b", "score": 1},
                         {"id": "d", "score": 0.5}], shape, 10)
    assert one == other == ("a", "c", "b", "d")
    assert read_answer(["z", "y", "x"], shape, 2) == ("z", "y")  # no scores: the order given, cut at k


def test_retrieval_answer_chunks_map_to_documents_deduplicated_by_first_rank() -> None:
    by_path = ResultShape(path=("hits",), id=("chunk",), score=("s",), doc_id=("doc",))
    hits = {"hits": [{"chunk": "c1", "doc": "A", "s": 0.9}, {"chunk": "c7", "doc": "B", "s": 0.8},
                     {"chunk": "c2", "doc": "A", "s": 0.7}, {"chunk": "c9", "doc": "C", "s": 0.1}]}
    assert read_answer(hits, by_path, 10) == ("A", "B", "C")
    by_rule = ResultShape(chunk_pattern=re.compile(r"^(.+)#\d+$"))
    assert read_answer(["guide#3", "faq#1", "guide#1", "intro"], by_rule, 10) == ("guide", "faq", "intro")


@pytest.mark.parametrize(("answer", "problem"), [
    ({"results": "nope"}, "not a list"),
    ([["a", 1.0], ["b"]], "some results have a score and some do not"),
    ([{"id": None}], "is not a document id"),
    ([["a", "high"]], "not a finite number"),
])
def test_retrieval_answer_invalid_says_what_is_wrong(answer: object, problem: str) -> None:
    with pytest.raises(InvalidAnswer, match=problem):
        read_answer(answer, ResultShape(), 10)


def test_retrieval_judged_equals_ir_measures_own_provider() -> None:
    # Judged@k is computed on the rankings as they are; ir-measures' provider is the definition it must meet.
    import ir_measures

    qrels = {"a": {"x": 2, "y": 0, "z": 1}, "b": {"y": 1}, "c": {"q": 1}, "d": {"x": 1}}
    rankings = {"a": ("w", "y", "x", "v", "z", "u"), "b": ("x", "w"), "c": ("q",), "d": ("m", "n", "o")}
    names = ("Judged@1", "Judged@2", "Judged@5", "Judged@10", "Judged")
    got = compute(names, qrels, rankings, list(qrels))
    run = {q: {doc: float(len(docs) - i) for i, doc in enumerate(docs)} for q, docs in rankings.items()}
    for metric in ir_measures.judged.iter_calc([ir_measures.parse_measure(n) for n in names], qrels, run):
        name = str(metric.measure)
        assert got[metric.query_id][name] == pytest.approx(metric.value, abs=1e-9), (metric.query_id, name)
    assert (got["a"]["Judged@5"], got["b"]["Judged@10"], got["c"]["Judged@10"]) == pytest.approx((3 / 5, 0.0, 1.0))
