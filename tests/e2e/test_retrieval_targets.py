"""The retrieval check through the real CLI: an http retriever on loopback (chunks, unjudged documents, failures),
a run file, bad labelled files (exit 1 at their lines) and gate.yaml errors (exit 2 at their lines)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import REPO, GitRepo, gate

QUERIES = "".join(json.dumps({"id": f"q{i}", "query": f"topic {i}"}) + "\n" for i in range(12))
QRELS = "".join(f"q{i} 0 doc{i} 2\nq{i} 0 doc{i + 1} 1\n" for i in range(12))


class Retriever:
    """Chunk-level results per query; `mode` says how this branch's retriever behaves."""

    mode = "good"

    def results(self, query: str) -> tuple[int, Any]:
        i = int(query.split()[-1])
        if self.mode == "broken" and i == 3:
            return 500, {"error": "index shard down"}
        if self.mode == "new-corpus":  # new documents nobody judged come first
            docs = [f"new{i}", f"new{i + 50}", f"doc{i}", f"doc{i + 1}"]
        else:
            docs = [f"doc{i}", f"doc{i + 1}", f"doc{i + 7}"]
        hits = [{"chunk": f"{d}#{c}", "doc": d, "score": 10.0 - n - c / 10} for n, d in enumerate(docs) for c in (0, 1)]
        return 200, {"data": {"hits": hits}}


@pytest.fixture
def retriever() -> Iterator[tuple[Retriever, str]]:
    state = Retriever()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            params = parse_qs(urlsplit(self.path).query)
            status, body = state.results(params["q"][0])
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/search"
    server.shutdown()
    server.server_close()


def _config(target: str, extra: str = "") -> str:
    return ("version: 1\nretrieval:\n" f"  target: {target}\n  queries: queries.jsonl\n  qrels: qrels.txt\n  k: 10\n"
            "  results: {path: $.data.hits, id: chunk, score: score, doc_id: doc}\n" + extra)


def _run(repo: GitRepo, *args: str) -> tuple[int, dict[str, Any], str]:
    res = gate("check", "-c", repo.path / "gate.yaml", "--only", "retrieval", "--format", "json", "--base-ref", "main",
               *args, cwd=repo.path)
    if res.exit_code == 2:
        return 2, {}, res.stderr
    [check] = res.json()["checks"]
    return res.exit_code, check, res.stderr


def _http_repo(repo: GitRepo, url: str, extra: str = "") -> None:
    repo.write("queries.jsonl", QUERIES)
    repo.write("qrels.txt", QRELS)
    repo.write("gate.yaml", _config("{http: {url: '" + url + "', method: GET, query: {q: '{{query}}', k: '{{k}}'}}}",
                                    extra))
    res = gate("baseline", "update", "-c", repo.path / "gate.yaml", "--only", "retrieval", cwd=repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    repo.commit("retriever and its baseline")
    repo.git("checkout", "-q", "-b", "change")


def test_retrieval_http_chunks_map_to_documents_and_unchanged_passes(repo: GitRepo, retriever: Any) -> None:
    _, url = retriever
    _http_repo(repo, url)
    data = json.loads((repo.path / ".gate" / "retrieval-baseline.json").read_text())
    assert data["queries"]["q0"]["top"] == ["doc0", "doc1", "doc7"]  # chunks de-duplicated by first rank
    assert data["queries"]["q0"]["measures"]["RR"] == 1.0
    code, check, _ = _run(repo)
    assert code == 0 and check["status"] == "pass" and check["details"]["run"]["calls"] == 12
    assert all(r["delta"] == 0.0 for r in check["details"]["measures"])


def test_retrieval_http_new_unjudged_documents_warn_and_drift_gates(repo: GitRepo, retriever: Any) -> None:
    state, url = retriever
    _http_repo(repo, url, "  drift: {max_changed_share: 0.5}\n")
    state.mode = "new-corpus"
    code, check, _ = _run(repo)
    assert code == 1 and check["status"] == "fail"
    judged = check["details"]["judged"]
    assert judged["base"] > judged["head_paired"]
    [warning] = [f for f in check["findings"] if f.get("category") == "retrieval.unjudged"]
    assert warning["severity"] == "warning" and "Judged@10 fell from" in warning["message"]
    assert "new0" in warning["message"] or "new1" in warning["message"]
    assert check["details"]["drift"]["changed"] == 12
    assert any("above drift.max_changed_share 50%" in v for v in check["details"]["violations"])


def test_retrieval_http_failed_query_is_a_finding_with_its_category(repo: GitRepo, retriever: Any) -> None:
    state, url = retriever
    _http_repo(repo, url, "  retries: 0\n")
    state.mode = "broken"
    code, check, _ = _run(repo)
    assert code == 1 and check["metrics"]["failure_categories"] == {"transport.server_error": 1}
    [finding] = [f for f in check["findings"] if f.get("case_id") == "q3"]
    assert finding["file"] == "queries.jsonl" and finding["line"] == 4 and "index shard down" in finding["message"]


def test_retrieval_http_unreachable_could_not_complete(repo: GitRepo) -> None:
    repo.write("queries.jsonl", QUERIES)
    repo.write("qrels.txt", QRELS)
    repo.write("gate.yaml", _config("{http: {url: 'http://127.0.0.1:9/search', method: GET}}", "  retries: 0\n"))
    repo.commit()
    code, check, _ = _run(repo)
    assert code == 3 and check["status"] == "error" and "answered none of the 12 queries" in check["summary"]


def test_retrieval_run_file_figures_equal_trec_eval(repo: GitRepo) -> None:
    fixture = REPO / "tests" / "fixtures" / "retrieval"
    for name in ("queries.jsonl", "qrels.txt", "run.trec"):
        repo.write(name, (fixture / name).read_text())
    repo.write("gate.yaml", "version: 1\nretrieval:\n  target: {run: run.trec}\n  queries: queries.jsonl\n"
               "  qrels: qrels.txt\n  measures: [AP, P@5]\n")
    repo.commit()
    code, check, _ = _run(repo)
    assert code == 0, check
    assert check["metrics"]["AP"] == pytest.approx((13 / 18 + 1 / 8 + 0) / 3, abs=1e-6)
    assert check["metrics"]["P@5"] == pytest.approx((2 / 5 + 1 / 5 + 0) / 3, abs=1e-6)


def test_retrieval_bad_labelled_lines_fail_at_file_and_line(repo: GitRepo) -> None:
    repo.write("queries.jsonl", QUERIES + '{"id": "q0", "query": "again"}\n')
    repo.write("qrels.txt", QRELS + "q99 0 doc1 1\n")
    repo.write("run.trec", "q0 Q0 doc0 1 1.0 t\nq1 Q0 doc1 one 1.0\n")
    repo.write("gate.yaml", "version: 1\nretrieval:\n  target: {run: run.trec}\n  queries: queries.jsonl\n"
               "  qrels: qrels.txt\n")
    repo.commit()
    code, check, _ = _run(repo)
    assert code == 1 and check["status"] == "fail" and "nothing was measured" in check["summary"]
    where = {(f["file"], f.get("line")) for f in check["findings"]}
    assert where == {("queries.jsonl", 13), ("qrels.txt", 25)}  # the run file's line reads: the rank is not used


@pytest.mark.parametrize(("section", "line", "message"), [
    ("  measures: [nDCG@10, ERR@10]\n", 7, "'ERR@10': the retrieval check computes"),
    ("  measures: [nDCG@10, Fancy@3]\n", 7, "'Fancy@3' is not a measure ir-measures knows"),
    ("  gates: {measures: {Rprec: {max_drop: 0.1}}}\n", 7, "'Rprec' is not one of the measures"),
    ("  results: {chunk_pattern: '([a-z'}\n", 7, "not a regular expression"),
])
def test_retrieval_config_errors_exit_2_at_their_line(repo: GitRepo, section: str, line: int, message: str) -> None:
    repo.write("queries.jsonl", QUERIES)
    repo.write("qrels.txt", QRELS)
    repo.write("gate.yaml", "version: 1\nretrieval:\n  target: {run: qrels.txt}\n  queries: queries.jsonl\n"
               "  qrels: qrels.txt\n  k: 10\n" + section)
    repo.commit()
    code, _, stderr = _run(repo)
    assert code == 2 and f"gate.yaml:{line}:" in stderr and message in stderr, stderr
