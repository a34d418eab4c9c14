"""The labelled cases: queries (JSONL, CSV, TSV), relevance judgements (TREC qrels or JSONL) and the titles of the
corpus. A line that cannot be used is a finding at its file and line; the rest is still read."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.files import MAX_DATA_BYTES, FileError, lines, loads_json, read_text
from gate.render.escape import cap
from gate.report import Finding, Severity

# trec_eval (through pytrec_eval) keeps a grade in a C int: a larger one wraps round or fails inside it.
MIN_GRADE, MAX_GRADE = -(2**31), 2**31 - 1
# An id or a text from the labelled files, as a finding, the report's details or the comment shows it: a file
# may hold an id of a megabyte, and every finding is one line.
ID_CHARS = 200
TEXT_CHARS = 1000


def named(ident: str) -> str:
    """An id quoted in a finding's sentence, cut short."""
    return repr(cap(ident, 80))


@dataclass(frozen=True)
class Query:
    id: str
    text: str
    cluster: str | None
    line: int


@dataclass
class Inputs:
    queries: dict[str, Query] = field(default_factory=dict)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    defects: list[Finding] = field(default_factory=list)
    qrel_lines: dict[str, int] = field(default_factory=dict)  # query -> the line of its first judgement

    def defect(self, file: str, line: int | None, message: str) -> None:
        self.defects.append(Finding(Severity.ERROR, message, file, line))

    @property
    def judged(self) -> list[str]:
        """The queries the measures are computed on: those with relevance judgements, in file order."""
        return [q for q in self.queries if q in self.qrels]


def _ident(value: Any) -> str | None:
    """An id as text: a string or an integer (JSON ids are often numbers); anything else is no id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _records(text: str, path: Path) -> Iterator[tuple[int, Any, str | None]]:
    """(line, record, problem) of a JSONL, CSV or TSV file; records of CSV/TSV are dicts of their header's columns."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".tsv"):
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
        try:
            for row in reader:
                if None in row:
                    yield reader.line_num, None, f"{len(row[None])} more fields than the header has"
                else:
                    yield reader.line_num, row, None
        except csv.Error as exc:
            yield reader.line_num, None, f"not valid {suffix[1:].upper()}: {exc}"
        return
    for number, line in lines(text):
        if not line.strip():
            continue
        try:
            yield number, loads_json(line), None
        except ValueError as exc:
            yield number, None, f"not valid JSON: {exc}"


def _read(path: Path, display: str, inputs: Inputs) -> str | None:
    try:
        return read_text(path, display, max_bytes=MAX_DATA_BYTES)
    except FileError as exc:
        inputs.defect(display, exc.line, exc.problem)
        return None


def read_queries(path: Path, display: str, inputs: Inputs) -> None:
    text = _read(path, display, inputs)
    if text is None:
        return
    for number, record, problem in _records(text, path):
        if problem or not isinstance(record, Mapping):
            inputs.defect(display, number, problem or "a query is an object with `id` and `query`")
            continue
        qid, query = _ident(record.get("id")), record.get("query")
        if qid is None:
            inputs.defect(display, number, "a query needs an `id` (a string or a number)")
            continue
        if not isinstance(query, str) or not query.strip():
            inputs.defect(display, number, f"query {named(qid)} has no `query` text")
            continue
        if qid in inputs.queries:
            inputs.defect(display, number, f"duplicate query id {named(qid)} (first at line {inputs.queries[qid].line})")
            continue
        meta = record.get("metadata")
        # JSONL nests it under metadata; a CSV or TSV header names it `cluster` or `metadata.cluster`.
        cluster = meta.get("cluster") if isinstance(meta, Mapping) else record.get("cluster",
                                                                                    record.get("metadata.cluster"))
        if cluster not in (None, "") and _ident(cluster) is None:
            inputs.defect(display, number, f"query {named(qid)}: a cluster is a string or a whole number, not "
                                           f"{str(cluster)[:40]!r}")
            continue
        inputs.queries[qid] = Query(qid, query, _ident(cluster) if cluster not in (None, "") else None, number)
    if not inputs.queries and not inputs.defects:
        inputs.defect(display, None, "no query: the file is empty")


def _qrel_lines(text: str, path: Path) -> Iterator[tuple[int, tuple[str, str, int] | None, str | None]]:
    if path.suffix.lower() in (".jsonl", ".json", ".ndjson"):
        for number, record, problem in _records(text, path):
            if problem or not isinstance(record, Mapping):
                yield number, None, problem or "a judgement is an object with query_id, doc_id and relevance"
                continue
            qid, doc, rel = _ident(record.get("query_id")), _ident(record.get("doc_id")), record.get("relevance")
            if qid is None or doc is None:
                yield number, None, "a judgement needs `query_id` and `doc_id`"
            elif isinstance(rel, bool) or not isinstance(rel, int):
                yield number, None, f"relevance must be a whole number, not {str(rel)[:40]!r}"
            else:
                yield number, (qid, doc, rel), _grade_problem(rel)
        return
    for number, line in lines(text):
        fields = line.split()
        if not fields or line.lstrip().startswith("#"):
            continue
        if len(fields) != 4:
            yield number, None, f"a TREC qrels line is `qid 0 docid relevance`, not {len(fields)} fields"
            continue
        try:
            rel = int(fields[3])
        except ValueError:
            yield number, None, f"relevance must be a whole number, not {fields[3][:40]!r}"
            continue
        yield number, (fields[0], fields[2], rel), _grade_problem(rel)


def _grade_problem(rel: int) -> str | None:
    if MIN_GRADE <= rel <= MAX_GRADE:
        return None
    return f"relevance {str(rel)[:40]} is out of range: a grade is a whole number from {MIN_GRADE} to {MAX_GRADE}"


def read_qrels(path: Path, display: str, inputs: Inputs) -> None:
    text = _read(path, display, inputs)
    if text is None:
        return
    seen: dict[tuple[str, str], int] = {}
    for number, item, problem in _qrel_lines(text, path):
        if item is None or problem:
            inputs.defect(display, number, problem or "not a judgement")
            continue
        qid, doc, rel = item
        if qid not in inputs.queries:
            inputs.defect(display, number, f"judgement for query {named(qid)}, which the queries file does not have")
            continue
        if (qid, doc) in seen:
            inputs.defect(display, number, f"query {named(qid)} judges document {named(doc)} twice (first at line {seen[qid, doc]})")
            continue
        seen[qid, doc] = number
        inputs.qrels.setdefault(qid, {})[doc] = rel
        inputs.qrel_lines.setdefault(qid, number)
    if not seen and not any(f.file == display for f in inputs.defects):
        # Nothing judged: every measure would be computed on no query and read 0, a figure that means nothing.
        inputs.defect(display, None, "no judgement: the file judges no document")


def read_titles(path: Path, display: str, inputs: Inputs) -> None:
    """id -> title, for the report only."""
    text = _read(path, display, inputs)
    if text is None:
        return
    for number, record, problem in _records(text, path):
        if problem or not isinstance(record, Mapping):
            inputs.defect(display, number, problem or "a document is an object with `id` and `title`")
            continue
        doc, title = _ident(record.get("id")), record.get("title")
        if doc is None or not isinstance(title, str):
            inputs.defect(display, number, "a document needs an `id` and a `title` (text)")
            continue
        inputs.titles[doc] = title


def read_inputs(queries: Path, qrels: Path, corpus: Path | None, display: Any) -> Inputs:
    """Everything the check is labelled with; `display(path)` names a file in findings."""
    inputs = Inputs()
    read_queries(queries, display(queries), inputs)
    read_qrels(qrels, display(qrels), inputs)
    if corpus is not None:
        read_titles(corpus, display(corpus), inputs)
    return inputs
