"""`.gate/baseline.json`: written by `gate baseline update` on main, read at the base ref in a pull request."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from gate.baseconfig import baseline_of, missing_baseline
from gate.context import CheckContext
from gate.files import MAX_DATA_BYTES, FileError, loads_json, read_bytes, write_atomic
from gate.providers.base import valid_unicode
from gate.report import CheckResult, Finding, Severity

from .compare import Baseline, compact
from .config import SECTION, RegressionConfig

FORMAT = 1
DEFAULT_PATH = ".gate/baseline.json"
MAX_OUTPUT = 1_000  # characters of a case's answer the baseline keeps


def baseline_data(result: CheckResult, *, keep_outputs: bool = True) -> dict[str, Any]:
    """Per suite, per case: pass, scores, the input's hash and (unless keep_outputs is false) the answer a
    reviewer sees beside a flipped case's new one; per repeat: pass, scores, tokens, latency, output hash."""
    suites: dict[str, Any] = {}
    for name, s in sorted((result.details.get("suites") or {}).items()):
        cases: dict[str, Any] = {}
        for c in s.get("cases") or []:
            reps = c.get("repeats") or []
            repeats = [{k: r.get(k) for k in ("pass", "scores", "input_tokens", "output_tokens", "latency_s",
                                              "output_sha")} for r in reps]
            case: dict[str, Any] = {"pass": c["pass"], "scores": c.get("scores") or {}, "repeats": repeats}
            if c.get("input_sha"):
                case["input_sha"] = c["input_sha"]
            if keep_outputs and reps:
                # The answer the report shows for the case: its first failed repeat's, else its first.
                shown = next((r for r in reps if not r.get("pass")), reps[0])
                if isinstance(shown.get("output"), str):
                    case["output"] = shown["output"][:MAX_OUTPUT]
            cases[c["id"]] = case
        suites[name] = {"cases": dict(sorted(cases.items()))}
    data: dict[str, Any] = {"format": FORMAT, "tool": "prodgate", "suites": suites}
    cached = result.metrics.get("cached_answers")
    if isinstance(cached, int) and cached > 0:
        # Answers the response cache gave are as old as the cache: whoever reads the baseline should know.
        data["cached_answers"] = cached
    return data


def write_baseline(path: Path, data: Mapping[str, Any]) -> Path:
    """One case per line, so a re-baseline diffs case by case in review."""
    lines = ["{", f'"format": {FORMAT},', '"tool": "prodgate",']
    if data.get("cached_answers"):
        lines.append(f'"cached_answers": {int(data["cached_answers"])},')
    lines.append('"suites": {')
    names = sorted(data["suites"])
    for i, name in enumerate(names):
        s = data["suites"][name]
        lines.append(f"{json.dumps(name)}: {{\"cases\": {{")
        ids = list(s["cases"])
        for j, case_id in enumerate(ids):
            comma = "," if j < len(ids) - 1 else ""
            lines.append(f"{json.dumps(case_id)}: {json.dumps(s['cases'][case_id], sort_keys=True)}{comma}")
        lines.append("}}" + ("," if i < len(names) - 1 else ""))
    lines += ["}", "}"]
    return write_atomic(path, ["\n".join(lines), "\n"])


def load_baseline(ctx: CheckContext, cfg: RegressionConfig) -> tuple[Baseline | None, str, Finding | None]:
    """(baseline, where it came from or why there is none, a finding: the file's defect if it is unreadable, or that
    the base expects one and has none).

    In a repository with a base ref, the baseline is the file as committed there, at the path the base's own
    gate.yaml names (a change that renames it compares all the same); without git, the file in the working tree."""
    kept = baseline_of(ctx.config, ctx.base, SECTION, DEFAULT_PATH, cfg.baseline, cfg.baseline_rel, ctx.display)
    if kept.path is None:
        return None, kept.note, kept.finding
    path, expected = kept.path, kept.expected
    rel = ctx.base.relpath(path)
    shown = rel or cfg.baseline_rel
    raw: bytes | None = None
    data: Any = None
    # Each case is cut down to what the comparison reads as it is parsed: 200,000 cases are never held whole. A
    # file laid out as `gate baseline update` writes it is read a line at a time (from git as git writes it);
    # any other is read whole, as any JSON reader reads it.
    try:
        if ctx.base.available and rel is not None:
            where = f"{shown} at {ctx.base.ref} ({(ctx.base.sha or '')[:7]})"
            with ctx.base.lines(rel, MAX_DATA_BYTES) as found:
                if found is None:
                    why = f"{shown} does not exist at {ctx.base.ref}"
                    return None, (f"no baseline: {why}; run `gate baseline update` on the base branch and commit "
                                  "it"), missing_baseline(ctx.config, SECTION, why, ctx.display) if expected else None
                data = _read_as_written(found)
            raw = ctx.base.read(rel) if data is None else None
        else:
            if not cfg.baseline.is_file():
                reason = ctx.base.reason or "no base ref"
                return None, f"no baseline: {shown} does not exist ({reason})", None
            where = f"{shown} in the working tree ({ctx.base.reason or 'no base ref'})"
            raw = read_bytes(cfg.baseline, shown, max_bytes=MAX_DATA_BYTES)
            data = _read_as_written(_lines(raw))
    except FileError as exc:
        return None, f"no baseline: {shown} cannot be read", _defect(str(exc), shown)
    try:
        if data is None:
            text = (raw or b"").decode("utf-8-sig")
            del raw
            data = loads_json(text, object_hook=_compact_case)
            del text
        data = valid_unicode(data)
    except ValueError as exc:
        return None, f"no baseline: {shown} is not valid JSON", _defect(f"{shown}: not valid JSON: {exc}", shown)
    if not isinstance(data, dict) or not isinstance(data.get("suites"), dict):
        return None, f"no baseline: {shown} is not a prodgate baseline", _defect(
            f"{shown}: not a prodgate baseline (no `suites`)", shown)
    problem = _shape_problem(data)
    if problem:
        return None, f"no baseline: {shown} is not a usable prodgate baseline", _defect(f"{shown}: {problem}", shown)
    return Baseline.from_dict(data, where), where, None


def _defect(message: str, shown: str) -> Finding:
    return Finding(Severity.ERROR, message, shown)


_HEADER = re.compile(rb'"[a-z_]+": [^\n]*,')


def _read_as_written(lines: Iterator[bytes]) -> dict[str, Any] | None:
    """A baseline laid out as write_baseline writes it (one case per line), read a line at a time (lines without
    their newline): neither the whole text nor the whole tree is ever held. None at the first line laid out otherwise, or not valid there:
    the caller then reads the document whole (which gives the same data for every file this accepts, and says
    where a broken one is broken)."""
    if next(lines, None) not in (b"{", b"\xef\xbb\xbf{"):
        return None
    data: dict[str, Any] = {}
    for line in lines:
        if line == b'"suites": {':
            break
        member = _object(line[:-1]) if _HEADER.fullmatch(line) else None
        if member is None:
            return None
        data.update(member)
    else:
        return None
    suites: dict[str, Any] = {}
    data["suites"] = suites
    more = False  # the last line ended with a comma: another member must follow
    for line in lines:
        if line == b"}" and not more:  # the end of `suites`: the document's own end must follow, and nothing else
            return data if list(lines) in ([b"}"], [b"}", b""]) else None
        opened = _object(line + b"}}") if line.endswith(b': {"cases": {') and (more or not suites) else None
        if opened is None:
            return None
        ((name, _),) = opened.items()
        cases: dict[str, Any] = {}
        suites[name] = {"cases": cases}
        more = False
        for case_line in lines:
            if case_line in (b"}}", b"}},") and not more:
                more = case_line.endswith(b",")
                break
            if cases and not more:
                return None  # two members with no comma between them
            more = case_line.endswith(b",")
            member = _object(case_line[:-1] if more else case_line)
            if member is None:
                return None
            cases.update(member)
        else:
            return None
    return None


def _lines(raw: bytes) -> Iterator[bytes]:
    start = 0
    while start < len(raw):
        end = raw.find(b"\n", start)
        end = len(raw) if end < 0 else end
        yield raw[start:end]
        start = end + 1


def _object(member: bytes) -> dict[str, Any] | None:
    """`"key": value` (one member of an object, as one line holds it) as a one-member object, else None."""
    if member.startswith(b"\xef\xbb\xbf"):
        return None  # a byte-order mark inside the document: the whole-document reader says what is wrong
    try:
        found = loads_json(b"{" + member + b"}", object_hook=_compact_case)
    except ValueError:
        return None
    return found if isinstance(found, dict) and len(found) == 1 else None


def _shape_problem(data: Mapping[str, Any]) -> str | None:
    """What in a parsed baseline the comparison could not read, at its JSON path; None when it is sound."""
    fmt = data.get("format", FORMAT)
    # `true` equals 1 in Python: only an integer is a format number.
    if type(fmt) is not int or fmt != FORMAT:
        return (f"baseline format {data.get('format')!r}, but this prodgate reads format {FORMAT}: run "
                "`gate baseline update` with this version on the base branch")
    for name, suite in data["suites"].items():
        at = f"$.suites[{json.dumps(name)}]"
        if not isinstance(suite, dict) or not isinstance(suite.get("cases", {}), dict):
            return f"{at}: must be an object with a `cases` object"
        for case_id, case in suite.get("cases", {}).items():
            problem = _case_problem(case)
            if problem:
                return f"{at}.cases[{json.dumps(case_id)}]{problem}"
    return None


def _case_problem(case: Any) -> str | None:
    """What the comparison could not read in one case (after its JSON path), or None."""
    if not isinstance(case, dict) or not isinstance(case.get("pass"), bool):
        return ": must be an object with a true/false `pass`"
    for key in ("input_sha", "output"):
        if key in case and not isinstance(case[key], str):
            return f".{key}: must be a string"
    repeats = case.get("repeats", [])
    if not isinstance(repeats, list) or not all(isinstance(r, dict) for r in repeats):
        return ".repeats: must be a list of objects"
    scores = case.get("scores", {})
    if not isinstance(scores, dict) or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) for v in scores.values()):
        return ".scores: must map metric names to numbers"
    return None


def _compact_case(obj: dict[str, Any]) -> Any:
    """As the parser meets it: a sound case (an object with `repeats` and a true/false `pass`) is cut down to
    what the comparison reads; anything else is kept whole, for _shape_problem to judge."""
    if "repeats" in obj and _case_problem(obj) is None:
        return compact(obj)
    return obj


def suites_in(data: Mapping[str, Any]) -> Sequence[str]:
    return sorted(data.get("suites") or {})
