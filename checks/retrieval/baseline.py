"""`.gate/retrieval-baseline.json`: per query, every measure and the top ids; written by `gate baseline update` on
the base branch, read at the base ref in a pull request."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.context import CheckContext
from gate.files import MAX_DATA_BYTES, FileError, loads_json, read_bytes, write_atomic
from gate.providers.base import valid_unicode

from .config import RetrievalConfig

FORMAT = 1


@dataclass(frozen=True)
class Baseline:
    measures: Mapping[str, Mapping[str, float]]  # query -> measure -> value (judged queries)
    top: Mapping[str, tuple[str, ...]]  # query -> its top ids (every query)
    source: str


def baseline_data(details: Mapping[str, Any]) -> dict[str, Any]:
    """What a run's details say about each query, as the baseline keeps it."""
    queries: dict[str, Any] = {}
    for q in details.get("queries") or []:
        entry: dict[str, Any] = {"top": list(q.get("top") or [])}
        if q.get("measures"):
            entry["measures"] = dict(sorted(q["measures"].items()))
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


def load_baseline(ctx: CheckContext, cfg: RetrievalConfig) -> tuple[Baseline | None, str, str | None]:
    """(baseline, where it came from or why there is none, a defect of the file if it is unusable). With a base
    ref, the file as committed there; without git, the file in the working tree."""
    rel = ctx.base.relpath(cfg.baseline)
    shown = rel or cfg.baseline_rel
    raw: bytes | None
    if ctx.base.available and rel is not None:
        raw = ctx.base.read(rel)
        where = f"{shown} at {ctx.base.ref} ({(ctx.base.sha or '')[:7]})"
        if raw is None:
            return None, (f"no baseline: {shown} does not exist at {ctx.base.ref}; run `gate baseline update` on the "
                          "base branch and commit it"), None
    else:
        if not cfg.baseline.is_file():
            return None, f"no baseline: {shown} does not exist ({ctx.base.reason or 'no base ref'})", None
        try:
            raw = read_bytes(cfg.baseline, shown, max_bytes=MAX_DATA_BYTES)
        except FileError as exc:
            return None, f"no baseline: {shown} cannot be read", str(exc)
        where = f"{shown} in the working tree ({ctx.base.reason or 'no base ref'})"
    try:
        data = valid_unicode(loads_json(raw))
    except ValueError as exc:
        return None, f"no baseline: {shown} is not valid JSON", f"{shown}: not valid JSON: {exc}"
    problem = shape_problem(data)
    if problem:
        return None, f"no baseline: {shown} is not a usable retrieval baseline", f"{shown}: {problem}"
    measures = {q: dict(v.get("measures") or {}) for q, v in data["queries"].items()}
    top = {q: tuple(v.get("top") or ()) for q, v in data["queries"].items()}
    return Baseline(measures, top, where), where, None


def shape_problem(data: Any) -> str | None:
    """What in a parsed baseline the comparison could not read, at its JSON path; None when it is sound."""
    if not isinstance(data, dict) or not isinstance(data.get("queries"), dict):
        return "not a prodgate retrieval baseline (no `queries` object)"
    fmt = data.get("format")
    if type(fmt) is not int or fmt != FORMAT:
        return (f"baseline format {fmt!r}, but this prodgate reads format {FORMAT}: run `gate baseline update` "
                "with this version on the base branch")
    for qid, entry in data["queries"].items():
        at = f"$.queries[{json.dumps(qid)}]"
        if not isinstance(entry, dict):
            return f"{at}: must be an object"
        top = entry.get("top", [])
        if not isinstance(top, list) or not all(isinstance(d, str) for d in top):
            return f"{at}.top: must be a list of document ids"
        values = entry.get("measures", {})
        if not isinstance(values, dict) or not all(
                isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= 1
                for v in values.values()):
            return f"{at}.measures: must map measure names to numbers between 0 and 1"
    return None
