"""How an http retriever's answer becomes a ranking, over real HTTP on loopback: JSON read once where it arrives,
text bodies and JSON strings that hold JSON, a path to nothing, and answers that are no ranking."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from prodgate_checks.retrieval.config import ResultShape, RetrievalConfig
from prodgate_checks.retrieval.inputs import Query
from prodgate_checks.retrieval.target import retrieve

from gate.progress import silent
from gate.providers import jsonpath
from gate.providers.endpoint import HttpProvider

# query text -> (content type, body)
ANSWERS: dict[str, tuple[str, bytes]] = {
    "json": ("application/json", json.dumps({"results": [["b", 1.0], ["a", 2.0], ["c", 1.0]]}).encode()),
    "text": ("text/plain", json.dumps([{"id": "x"}, {"id": "y"}]).encode()),
    "string": ("application/json", json.dumps(json.dumps(["s1", "s2"])).encode()),
    "empty": ("text/plain", b"  "),
    "null": ("application/json", b"null"),
    "not-json": ("text/plain", b"<html>busy</html>"),
    "object": ("application/json", json.dumps({"answer": "none"}).encode()),
    "nested": ("application/json", json.dumps({"data": {"hits": [{"doc": "n1"}, {"doc": "n2"}]}}).encode()),
    "nested-null": ("application/json", json.dumps({"data": {"hits": None}}).encode()),
    "nested-missing": ("application/json", json.dumps({"data": {}}).encode()),
}


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            kind, body = ANSWERS[parse_qs(urlsplit(self.path).query)["q"][0]]
            self.send_response(200)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/search"
    server.shutdown()
    server.server_close()


def _retrieve(url: str, names: list[str], shape: ResultShape | None = None) -> Any:
    shape = shape or ResultShape()
    raw: dict[str, Any] = {"url": url, "method": "GET", "query": {"q": "{{query}}"}}
    if shape.path is not None:
        raw["answer"] = "$.data.hits"
    cfg = RetrievalConfig(target={"http": raw}, kind="http", queries=Path("q"), qrels=Path("r"), corpus=None,
                          run_file=None, results=shape, k=10, retries=0)
    queries = [Query(n, n, None, i + 1) for i, n in enumerate(names)]
    return retrieve(HttpProvider(raw, {}), cfg, queries, silent())


def test_retrieval_answers_json_text_and_json_strings_become_rankings(url: str) -> None:
    got = _retrieve(url, ["json", "text", "string", "empty"])
    assert got.failed == {}
    assert got.rankings == {"json": ("a", "c", "b"),  # by score, ties by id descending
                            "text": ("x", "y"), "string": ("s1", "s2"), "empty": ()}


def test_retrieval_answers_that_are_no_ranking_fail_as_invalid_output(url: str) -> None:
    got = _retrieve(url, ["null", "not-json", "object"])
    assert got.rankings == {}
    assert {q: c.value for q, (c, _) in got.failed.items()} == dict.fromkeys(
        ["null", "not-json", "object"], "retrieval.invalid_output")
    assert "not JSON" in got.failed["not-json"][1] and "NoneType" in got.failed["null"][1]
    assert got.retried == 0  # an answer that is no ranking is not asked again


def test_retrieval_answers_read_at_the_results_path(url: str) -> None:
    shape = ResultShape(path=jsonpath.parse("$.data.hits"), id=jsonpath.parse("doc"))
    got = _retrieve(url, ["nested", "nested-null", "nested-missing"], shape)
    assert got.rankings == {"nested": ("n1", "n2"), "nested-null": ()}  # a null list: nothing found
    [(category, message)] = got.failed.values()
    assert category.value == "transport.server_error" and "has nothing at $.data.hits" in message


def test_retrieval_answer_plain_items_rank_as_the_general_reader_does() -> None:
    # The quick reader of {"id", "score"} items must rank exactly as the one that follows explicit paths: ties by
    # id descending, a document given twice keeps its best score, unscored ones keep their order.
    import random

    from prodgate_checks.retrieval.rankings import read_answer

    rng = random.Random(7)
    for _ in range(300):
        docs = [f"d{rng.randrange(12)}" for _ in range(rng.randrange(1, 15))]
        scored = rng.random() < 0.8
        items = [{"id": d, **({"score": rng.choice([1, 2, 2.5, 3.0, -1e300, 10**20])} if scored else {})} for d in docs]
        explicit = ResultShape(id=jsonpath.parse("$.id"), score=jsonpath.parse("$.score") if scored else None)
        assert read_answer(items, ResultShape(), 5) == read_answer(items, explicit, 5), items
    assert read_answer([{"id": "a", "score": 1}, {"id": "b", "score": 3}, {"id": "a", "score": 5}], ResultShape(), 3) \
        == ("a", "b")
