"""`.gate/retrieval-baseline.json`: per query, every measure and the top ids; written by `gate baseline update` on
the base branch, read at the base ref in a pull request."""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gate.baseconfig import baseline_of, missing_baseline
from gate.context import CheckContext
from gate.files import MAX_DATA_BYTES, FileError, decode, loads_json, read_bytes, write_atomic
from gate.providers.base import valid_unicode
from gate.report import Finding, Severity

from .config import DEFAULT_BASELINE, SECTION, RetrievalConfig

FORMAT = 1
DIGEST_CHARS = 16  # 64 bits: a change of labels, not an adversary, is what it tells apart


@dataclass(frozen=True)
class Baseline:
    measures: Mapping[str, Mapping[str, float]]  # query -> measure -> value (judged queries)
    top: Mapping[str, tuple[str, ...]]  # query -> its top ids (every query)
    source: str
    k: int | None = None  # the depth its rankings were cut at (None: not recorded)
    # query -> the digest of its relevance judgements when the baseline was measured (none in older baselines)
    judgements: Mapping[str, str] = field(default_factory=dict)


def judgements_digest(grades: Mapping[str, int]) -> str:
    """One query's judgements (document -> grade) as a short digest: any grade changed, added or removed changes
    it; the order of the qrels lines does not."""
    return hashlib.sha256(json.dumps(sorted(grades.items())).encode("utf-8")).hexdigest()[:DIGEST_CHARS]


@dataclass(frozen=True)
class Comparable:
    """The baseline as the comparison may use it: only the queries judged now with the judgements they had when it
    was measured; and the judged queries it set aside (a grade is part of what a measure measures, so a query
    whose labels changed says nothing about the retriever)."""

    baseline: Baseline
    judged: int  # the baseline's judged queries
    gone: tuple[str, ...] = ()  # judged there, not judged now
    relabelled: tuple[str, ...] = ()  # judged on both sides, with other judgements now
    digested: bool = True  # the baseline recorded its judgements (older baselines did not)


def comparable(baseline: Baseline, digests: Mapping[str, str]) -> Comparable:
    """`digests`: this run's judged queries, each with the digest of its judgements."""
    judged = [q for q, m in baseline.measures.items() if m]
    gone = tuple(sorted(q for q in judged if q not in digests))
    relabelled = tuple(sorted(q for q in judged if q in digests and baseline.judgements.get(q, digests[q]) != digests[q]))
    kept = {q: baseline.measures[q] for q in judged if q in digests and q not in relabelled}
    return Comparable(replace(baseline, measures=kept), len(judged), gone, relabelled,
                      digested=not judged or any(q in baseline.judgements for q in judged))


def baseline_data(details: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's details say about each query, as the baseline keeps it."""
    queries: dict[str, Any] = {}
    for q in details.get("queries") or []:
        entry: dict[str, Any] = {"top": list(q.get("top") or [])}
        if q.get("measures"):
            entry["measures"] = dict(sorted(q["measures"].items()))
        if q.get("judgements"):
            entry["judgements"] = q["judgements"]
        queries[str(q["id"])] = entry
    run = details.get("run") or {}
    return {"format": FORMAT, "tool": "prodgate", "k": run.get("k"), "depth": run.get("depth"),
            "queries": dict(sorted(queries.items()))}


def write_baseline(path: Path, data: Mapping[str, Any]) -> Path:
    """One query per line, so a re-baseline diffs query by query in review."""
    head = {k: data[k] for k in ("format", "tool", "k", "depth")}
    lines = ["{", *(f"{json.dumps(k)}: {json.dumps(v)}," for k, v in head.items()), '"queries": {']
    ids = list(data["queries"])
    for i, qid in enumerate(ids):
        comma = "," if i < len(ids) - 1 else ""
        lines.append(f"{json.dumps(qid, ensure_ascii=False)}: "
                     f"{json.dumps(data['queries'][qid], sort_keys=True, ensure_ascii=False)}{comma}")
    lines += ["}", "}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, ["\n".join(lines), "\n"])


def load_baseline(ctx: CheckContext, cfg: RetrievalConfig) -> tuple[Baseline | None, str, Finding | None]:
    """(baseline, where it came from or why there is none, the defect of the file at its line if it is unusable).
    With a base ref, the file as committed there, at the path the base's own gate.yaml names (a change that renames it
    compares all the same); without git, the file in the working tree."""
    found = baseline_of(ctx.config, ctx.base, SECTION, DEFAULT_BASELINE, cfg.baseline, cfg.baseline_rel, ctx.display)
    if found.path is None:
        return None, found.note, found.finding
    path, expected = found.path, found.expected
    rel = ctx.base.relpath(path)
    shown = rel or cfg.baseline_rel
    raw: bytes | None
    if ctx.base.available and rel is not None:
        raw = ctx.base.read(rel)
        where = f"{shown} at {ctx.base.ref} ({(ctx.base.sha or '')[:7]})"
        if raw is None:
            why = f"{shown} does not exist at {ctx.base.ref}"
            return None, (f"no baseline: {why}; run `gate baseline update` on the base branch and commit it"), \
                missing_baseline(ctx.config, SECTION, why, ctx.display) if expected else None
    else:
        if not cfg.baseline.is_file():
            return None, f"no baseline: {shown} does not exist ({ctx.base.reason or 'no base ref'})", None
        try:
            raw = read_bytes(cfg.baseline, shown, max_bytes=MAX_DATA_BYTES)
        except FileError as exc:
            return None, f"no baseline: {shown} cannot be read", Finding(Severity.ERROR, exc.problem, shown, exc.line)
        where = f"{shown} in the working tree ({ctx.base.reason or 'no base ref'})"
    unusable = f"no baseline: {shown} is not a usable retrieval baseline"
    try:
        text = decode(raw, shown)
        data = valid_unicode(loads_json(text))
    except FileError as exc:
        return None, unusable, Finding(Severity.ERROR, exc.problem, shown, exc.line, exc.column)
    except json.JSONDecodeError as exc:
        return None, unusable, Finding(Severity.ERROR, f"not valid JSON: {exc.msg}", shown, exc.lineno, exc.colno)
    except ValueError as exc:
        return None, unusable, Finding(Severity.ERROR, f"not valid JSON: {exc}", shown)
    problem = shape_problem(data)
    if problem:
        message, qid = problem
        return None, unusable, Finding(Severity.ERROR, message, shown, _line_of(text, qid))
    measures = {q: dict(v.get("measures") or {}) for q, v in data["queries"].items()}
    top = {q: tuple(v.get("top") or ()) for q, v in data["queries"].items()}
    judgements = {q: v["judgements"] for q, v in data["queries"].items() if "judgements" in v}
    k = data.get("k")
    return Baseline(measures, top, where, k if type(k) is int else None, judgements), where, None


def _line_of(text: str, qid: str | None) -> int | None:
    """The line of a query's entry as the writer lays them out (one a line), or of the opening brace."""
    if qid is None:
        return 1
    for key in (json.dumps(qid, ensure_ascii=False), json.dumps(qid)):
        at = text.find("\n" + key + ":")
        if at >= 0:
            return text.count("\n", 0, at) + 2
        at = text.find(key + ":")  # another layout: the first place the key is written
        if at >= 0:
            return text.count("\n", 0, at) + 1
    return None


def shape_problem(data: Any) -> tuple[str, str | None] | None:
    """What in a parsed baseline the comparison could not read, at its JSON path, and the query it is in; None
    when it is sound."""
    if not isinstance(data, dict) or not isinstance(data.get("queries"), dict):
        return "not a prodgate retrieval baseline (no `queries` object)", None
    fmt = data.get("format")
    if type(fmt) is not int or fmt != FORMAT:
        return (f"baseline format {repr(fmt)[:20]}, but this prodgate reads format {FORMAT}: run `gate baseline "
                "update` with this version on the base branch"), None
    k = data.get("k")
    if k is not None and (type(k) is not int or k < 1):
        return f"$.k: must be the whole number of documents ranked per query, not {str(k)[:20]!r}", None
    names: tuple[str, ...] | None = None  # the writer records the same measures for every judged query
    for qid, entry in data["queries"].items():
        at = f"$.queries[{json.dumps(qid[:80])}]"
        if not isinstance(entry, dict):
            return f"{at}: must be an object", qid
        top = entry.get("top", [])
        if not isinstance(top, list) or not all(isinstance(d, str) for d in top):
            return f"{at}.top: must be a list of document ids", qid
        values = entry.get("measures", {})
        if not isinstance(values, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1
                for v in values.values()):
            return f"{at}.measures: must map measure names to numbers between 0 and 1", qid
        digest = entry.get("judgements", "")
        if not isinstance(digest, str) or len(digest) > 128:
            return f"{at}.judgements: must be the digest of the query's judgements (text)", qid
        if values:
            these = tuple(sorted(values))
            if names is None:
                names = these
            elif these != names:
                return (f"{at}.measures: has {names_text(these)}, the queries before it {names_text(names)}: a baseline "
                        "holds the same measures for every judged query"), qid
    return None


def names_text(names: Sequence[str]) -> str:
    """Measure names read from a baseline, each cut short: the file may be hostile."""
    return ", ".join(n[:40] for n in names[:8]) + (" …" if len(names) > 8 else "") if names else "none"
