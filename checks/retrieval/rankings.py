"""A retriever's answer as a ranking of document ids: items read by JSON paths, chunks mapped to their documents
and de-duplicated by first rank, ties ordered as trec_eval orders them, cut at k; and run files read the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.files import MAX_DATA_BYTES, FileError, lines, loads_json, read_text
from gate.providers import jsonpath
from gate.report import Finding, Severity

from .config import ResultShape
from .inputs import named

Ranking = tuple[str, ...]


class InvalidAnswer(ValueError):
    """An answer that is not a ranked list of document ids: the query's finding (retrieval.invalid_output)."""


def _at(value: Any, steps: tuple[str | int, ...], what: str) -> Any:
    try:
        return jsonpath.find(value, steps)
    except KeyError as exc:
        raise InvalidAnswer(f"{what}: nothing at {exc.args[0]}") from None


def _ident(value: Any, what: str) -> str:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise InvalidAnswer(f"{what} is not a document id (a string or a whole number): {str(value)[:80]!r}")


def _score(value: Any, what: str) -> float | None:
    if value is None:
        return None
    try:
        # float() first: a JSON integer of 400 digits is a Python int that no float holds (OverflowError).
        score = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.nan
    except OverflowError:
        score = math.nan
    if not math.isfinite(score):
        raise InvalidAnswer(f"{what} has a score that is not a finite number: {str(value)[:40]!r}")
    return score


def _plain_item(item: Any) -> tuple[str, float | None, str] | None:
    """(id, score, id) of the usual item, {"id": "...", "score": 1.5}, with no path or chunk rule to apply; None
    for anything else, which _item reads and words the problem of. Per result of every query: kept cheap."""
    if type(item) is not dict:
        return None
    ident = item["id"] if "id" in item else item.get("doc_id")
    score = item.get("score")
    if type(ident) is not str or not ident:
        return None
    if score is None:
        return ident, None, ident
    if type(score) is float and math.isfinite(score):
        return ident, score, ident
    if type(score) is int and score.bit_length() < 1000:
        return ident, float(score), ident
    return None


def _item(item: Any, shape: ResultShape, i: int) -> tuple[str, float | None, str]:
    """(id, score, document id) of the i-th item."""
    what = f"result {i + 1}"
    score: Any = None
    if shape.id is not None:
        ident = _at(item, shape.id, what)
    elif isinstance(item, (list, tuple)) and item:
        ident = item[0]
        score = item[1] if len(item) > 1 else None
    elif isinstance(item, Mapping):
        ident = item.get("id", item.get("doc_id"))
        score = item.get("score")
    else:
        ident = item
    if shape.score is not None:
        score = _at(item, shape.score, what)
    chunk = _ident(ident, what)
    doc = chunk
    if shape.doc_id is not None:
        doc = _ident(_at(item, shape.doc_id, what), f"{what}'s document")
    elif shape.chunk_pattern is not None:
        doc = _chunk_doc(shape.chunk_pattern.pattern, chunk, what)
    return chunk, _score(score, what), doc


def _score_then_id(entry: tuple[str, float | None]) -> tuple[float, str]:
    return (entry[1] or 0.0), entry[0]


def _chunk_doc(pattern: str, chunk: str, what: str) -> str:
    """The document of a chunk by chunk_pattern's first group (the chunk's own id when it does not match). The
    pattern comes from the gate.yaml under review and may backtrack without end: it runs under the regression
    check's regex deadline and per-run cap, as its regex metrics do."""
    from ..regression.metrics import RegexGaveUp, bounded_search

    try:
        found = bounded_search(pattern, chunk, "id")
    except RegexGaveUp as exc:
        raise InvalidAnswer(f"{what}: chunk_pattern {exc}") from None
    return found.group(1) if found and found.group(1) else chunk


def canonical(entries: Sequence[tuple[str, float | None]], k: int) -> Ranking:
    """Documents (id, score) best first, each once at its first rank. With scores, ties are broken as trec_eval
    breaks them (by document id, descending), so a retriever that orders its ties differently ranks the same."""
    scored = [s for _, s in entries if s is not None]
    if scored and len(scored) != len(entries):
        raise InvalidAnswer("some results have a score and some do not")
    if scored:  # score descending, ties by id descending: one sort on (score, id) reversed
        entries = sorted(entries, key=_score_then_id, reverse=True)
    seen: dict[str, None] = {}
    for doc, _ in entries:
        if doc not in seen:
            seen[doc] = None
            if len(seen) == k:
                break
    return tuple(seen)


def read_answer(value: Any, shape: ResultShape, k: int, *, apply_path: bool = True) -> Ranking:
    """The ranking in an answer; raises InvalidAnswer saying what is wrong with it."""
    if apply_path and shape.path is not None:
        value = _at(value, shape.path, "the answer")
    if isinstance(value, Mapping) and shape.path is None:
        for key in ("results", "documents", "hits"):  # the usual envelopes, when no path is given
            if isinstance(value.get(key), list):
                value = value[key]
                break
    if not isinstance(value, list):
        raise InvalidAnswer(f"the answer is not a list of results but {type(value).__name__} (set results.path)")
    plain = shape.id is None and shape.score is None and shape.doc_id is None and shape.chunk_pattern is None
    items = [(plain and _plain_item(item)) or _item(item, shape, i) for i, item in enumerate(value)]
    best: dict[str, float | None] = {}
    for _, score, doc in items:
        best.setdefault(doc, score)
    if len(best) < len(items) and any(s is not None for _, s, _ in items):
        # A document in several results (its chunks) keeps its best score; then documents in trec_eval's order.
        best = {}
        for _, score, doc in sorted(items, key=lambda it: -(it[1] if it[1] is not None else math.inf)):
            best.setdefault(doc, score)
    return canonical(list(best.items()), k)


@dataclass
class RunFile:
    rankings: dict[str, Ranking] = field(default_factory=dict)
    defects: list[Finding] = field(default_factory=list)
    unknown: set[str] = field(default_factory=set)  # queries the run has and the queries file has not


def _run_lines(text: str, path: Path) -> Any:
    jsonl = path.suffix.lower() in (".jsonl", ".ndjson", ".json")
    for number, line in lines(text):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if jsonl:
            try:
                record = loads_json(line)
            except ValueError as exc:
                yield number, None, f"not valid JSON: {exc}"
                continue
            if not isinstance(record, Mapping):
                yield number, None, "a run line is an object with query_id, doc_id and score"
                continue
            try:
                qid, doc = _ident(record.get("query_id"), "query_id"), _ident(record.get("doc_id"), "doc_id")
                score = _score(record.get("score"), f"document {named(doc)}")
            except InvalidAnswer as exc:
                yield number, None, str(exc)
                continue
            if score is None:
                rank = record.get("rank")
                if isinstance(rank, bool) or not isinstance(rank, int) or abs(rank) > 2**53:
                    yield number, None, "a run line needs a `score` (or a whole-number `rank`, at most 2**53)"
                    continue
                score = -float(rank)
            yield number, (qid, doc, score), None
            continue
        fields = line.split()
        if len(fields) not in (5, 6):
            yield number, None, f"a TREC run line is `qid Q0 docid rank score tag`, not {len(fields)} fields"
            continue
        try:
            score = float(fields[4])
        except ValueError:
            score = math.nan
        if not math.isfinite(score):
            yield number, None, f"the score {named(fields[4])} is not a finite number"
            continue
        yield number, (fields[0], fields[2], score), None


def read_run(path: Path, display: str, queries: Mapping[str, Any], k: int) -> RunFile:
    """Per query, its ranking as trec_eval reads a run: by score, ties by document id descending; cut at k."""
    out = RunFile()
    try:
        text = read_text(path, display, max_bytes=MAX_DATA_BYTES)
    except FileError as exc:
        out.defects.append(Finding(Severity.ERROR, exc.problem, display, exc.line))
        return out
    per_query: dict[str, dict[str, float]] = {}
    first: dict[tuple[str, str], int] = {}
    for number, item, problem in _run_lines(text, path):
        if item is None:
            out.defects.append(Finding(Severity.ERROR, str(problem), display, number))
            continue
        qid, doc, score = item
        if qid not in queries:
            out.unknown.add(qid)
            continue
        if (qid, doc) in first:
            out.defects.append(Finding(Severity.ERROR, f"query {named(qid)} lists document {named(doc)} twice (first at line "
                                       f"{first[qid, doc]})", display, number))
            continue
        first[qid, doc] = number
        per_query.setdefault(qid, {})[doc] = score
    out.rankings = {qid: canonical(list(docs.items()), k) for qid, docs in per_query.items()}
    if not per_query and not out.defects and queries:
        # Every query would score 0 as if the retriever had found nothing: a wrong file, not a bad retriever.
        what = (f"ranks only queries the queries file does not have ({', '.join(named(q) for q in sorted(out.unknown)[:3])}"
                + (" …)" if len(out.unknown) > 3 else ")")) if out.unknown else "ranks no document: the file is empty"
        out.defects.append(Finding(Severity.ERROR, f"the run {what}", display))
    return out
