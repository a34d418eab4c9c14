"""support-bot's retriever: the help-centre articles in an SQLite FTS5 index (BM25), built in memory at first use.

    from retriever import search          # search("reset my password", 5) -> [("reset-password", 7.3), ...]
    python retriever.py --port 8001       # GET /search?q=...&k=10 -> {"query", "results": [{"id", "title", "score"}]}

Standard library only. The index holds each article's title and body; --no-titles and --tokenizer build the
variants a change to the index might bring (the titles dropped, another tokenizer), here and in app.py, which
serves search() at /search and passes them on through configure()."""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
ARTICLES = HERE / "help-centre" / "articles.jsonl"
INDEX_TITLES = True
TOKENIZER = "porter unicode61"
TITLE_WEIGHT = 4.0  # a word of the title counts four times a word of the body
SCORE_DIGITS = 6  # scores are rounded to this many decimals; equal ones are ordered by id
_WORD = re.compile(r"\w+")


class Index:
    """An FTS5 table of the articles; safe to search from several threads."""

    def __init__(self, articles: Path = ARTICLES, *, titles: bool = INDEX_TITLES, tokenizer: str = TOKENIZER) -> None:
        self.db = sqlite3.connect(":memory:", check_same_thread=False)
        self.lock = threading.Lock()
        self.titles: dict[str, str] = {}
        quoted = tokenizer.replace("'", "''")
        self.db.execute(f"CREATE VIRTUAL TABLE articles USING fts5(id UNINDEXED, title, body, tokenize='{quoted}')")
        rows = []
        for line in articles.read_text(encoding="utf-8").splitlines():
            if line.strip():
                a = json.loads(line)
                self.titles[a["id"]] = a["title"]
                rows.append((a["id"], a["title"] if titles else "", a["body"]))
        self.db.executemany("INSERT INTO articles (id, title, body) VALUES (?, ?, ?)", rows)

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """(article id, BM25 score) best first; a query without words finds nothing."""
        words = _WORD.findall(query.lower())
        if not words or k < 1:
            return []
        # Every word quoted: the text is the user's, never FTS5 syntax. Any word may match (OR), as a search box does.
        expression = " OR ".join('"' + w.replace('"', '""') + '"' for w in dict.fromkeys(words))
        with self.lock:
            rows = self.db.execute(
                f"SELECT id, round(bm25(articles, 0.0, {TITLE_WEIGHT}, 1.0), {SCORE_DIGITS}) AS s FROM articles "
                "WHERE articles MATCH ? ORDER BY s, id LIMIT ?", (expression, int(k))).fetchall()
        # FTS5's bm25() is lower for a better match; the score here is higher for a better one.
        return [(doc, -score) for doc, score in rows]


_index: Index | None = None
_index_lock = threading.Lock()


def configure(*, titles: bool = INDEX_TITLES, tokenizer: str = TOKENIZER) -> None:
    """Build the index search() uses as this variant: with or without the titles, with this tokenizer."""
    global _index
    index = Index(titles=titles, tokenizer=tokenizer)
    with _index_lock:
        _index = index


def search(query: str, k: int = 10) -> list[tuple[str, float]]:
    """The example's retriever: the top k articles for a query, as (id, score) best first."""
    global _index
    with _index_lock:
        if _index is None:
            _index = Index(titles=INDEX_TITLES, tokenizer=TOKENIZER)
        index = _index
    return index.search(query, k)


def serve(index: Index, port: int, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            url = urlsplit(self.path)
            if url.path == "/healthz":
                return self._send(200, {"ok": True})
            if url.path != "/search":
                return self._send(404, {"error": "not found"})
            params = parse_qs(url.query)
            try:
                k = int(params.get("k", ["10"])[0])
            except ValueError:
                return self._send(400, {"error": "k must be a whole number"})
            query = params.get("q", [""])[0]
            hits = index.search(query, k)
            self._send(200, {"query": query, "results": [{"id": d, "title": index.titles.get(d, ""), "score": s}
                                                         for d, s in hits]})

        def _send(self, status: int, body: object) -> None:
            data = json.dumps(body).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - quiet: the gate reads no log
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--no-titles", action="store_true", help="index the bodies only")
    parser.add_argument("--tokenizer", default=TOKENIZER, help="the FTS5 tokenizer (default: %(default)s)")
    args = parser.parse_args()
    server = serve(Index(titles=not args.no_titles, tokenizer=args.tokenizer), args.port, args.host)
    print(f"retriever on http://{args.host}:{server.server_address[1]}/search", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
