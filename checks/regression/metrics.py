"""Deterministic metrics and gh-models string evaluators: an answer in, a score and a verdict out."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from gate.prompts import render_template
from gate.redact import clip

from .config import MetricSpec

# The order in which a failed case's category is chosen: the most basic defect explains the rest
# (an empty answer also fails `contains`, but "empty" is what someone must fix).
CATEGORY_PRIORITY = (
    "transport.timeout", "transport.rate_limited", "transport.server_error", "transport.connection",
    "transport.client_error", "output.empty", "output.truncated", "output.invalid_json", "output.schema_violation",
    "output.refusal", "budget.latency", "budget.tokens", "budget.cost", "quality.assertion", "quality.judge",
)
_RANK = {c: i for i, c in enumerate(CATEGORY_PRIORITY)}

# Phrases that open or carry a refusal in the answers of common chat models.
_REFUSAL = re.compile(
    r"(?i)\b(i\s*(?:'m|am)\s+(?:sorry|afraid)[^.]{0,40}\b(?:can(?:'|no)?t|cannot|unable|not able)"
    r"|i\s+(?:can(?:'|no)?t|cannot|won'?t|will not|am unable to|'m unable to|am not able to)\s+"
    r"(?:help|assist|provide|comply|do that|answer|share|fulfil|fulfill|support)"
    r"|as an ai(?: language model)?,? i"
    r"|i must (?:decline|refuse)|not able to help with)"
)


@dataclass(frozen=True)
class Outcome:
    """What one request produced; `error` is a failure category when there is no answer at all."""

    content: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    latency_s: float = 0.0
    cost_usd: float | None = None
    finish_reason: str | None = None
    error: str | None = None
    error_message: str = ""


@dataclass(frozen=True)
class Score:
    name: str
    score: float
    passed: bool
    category: str | None = None  # set when it failed
    detail: str = ""


# A regex metric's pattern comes from the checkout under review and may backtrack catastrophically
# (`^(a|aa)+$`): the `regex` engine stops a search after this much CPU time (about 3x that in wall time on a busy 2-core
# machine), which `re` cannot.
REGEX_TIMEOUT_S = 0.25
# Answers longer than this are not searched at all (a deadline bounds time, this bounds the work per case).
REGEX_MAX_CHARS = 200_000
# Timeouts of one pattern in a run after which it is not run again: its remaining cases fail at once with the
# same reason. 10,000 answers that all hit a catastrophic pattern would otherwise cost 10,000 deadlines (40 min).
REGEX_TIMEOUT_CAP = 3


@dataclass
class RegexTimeouts:
    """One run's regex timeouts per pattern, and the cases each capped pattern failed without being run."""

    timeouts: dict[str, int] = field(default_factory=dict)
    capped: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def spent(self, pattern: str) -> int | None:
        """The pattern's timeouts once it reached the cap (the case is failed at once, and counted), else None."""
        with self.lock:
            n = self.timeouts.get(pattern, 0)
            if n < REGEX_TIMEOUT_CAP:
                return None
            self.capped[pattern] = self.capped.get(pattern, 0) + 1
            return n

    def timed_out(self, pattern: str) -> None:
        with self.lock:
            self.timeouts[pattern] = self.timeouts.get(pattern, 0) + 1

    def report(self) -> list[dict[str, Any]]:
        """[{pattern (cut short: it is the checkout's), timeouts, failed_at_once}] for the run's details."""
        return [{"pattern": clip(p, 80), "timeouts": n, "failed_at_once": self.capped.get(p, 0)}
                for p, n in sorted(self.timeouts.items())]


# The run in progress (regex_timeouts()): metrics evaluated outside one, as in a unit test, are never capped.
_RUN: RegexTimeouts | None = None


@contextmanager
def regex_timeouts() -> Iterator[RegexTimeouts]:
    """Counts and caps regex timeouts for the metrics evaluated inside it (one run of the check)."""
    global _RUN
    before, _RUN = _RUN, RegexTimeouts()
    try:
        yield _RUN
    finally:
        _RUN = before


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Any:
    """The compiled pattern (cached: a metric's pattern is the same for every case); regex.error if invalid."""
    import regex  # 17 ms, paid only by a run that has a regex metric

    return regex.compile(pattern)


def pattern_problem(pattern: str) -> str | None:
    """Why `pattern` is not a regular expression a regex metric can use, or None. The syntax is Python's `re`
    (its messages too); the `regex` engine that runs it must accept it as well."""
    import regex

    try:
        re.compile(pattern)
        compile_pattern(pattern)
    except (re.error, regex.error, ValueError, OverflowError, RecursionError) as exc:
        return f"invalid regular expression: {exc}"
    return None


class RegexGaveUp(Exception):
    """A pattern that did not finish within REGEX_TIMEOUT_S, or that is not run again: str() says which."""


def bounded_search(pattern: str, text: str, what: str = "answer") -> Any:
    """compile_pattern(pattern).search(text) within REGEX_TIMEOUT_S; inside regex_timeouts(), a pattern that
    timed out REGEX_TIMEOUT_CAP times is not run again. Raises RegexGaveUp, its reason naming `what` was searched."""
    run = _RUN
    spent = run.spent(pattern) if run is not None else None
    if spent is not None:
        raise RegexGaveUp(f"did not finish within {REGEX_TIMEOUT_S:g}s on {spent} {what}s of this run "
                          "(catastrophic backtracking?): not run again")
    try:
        return compile_pattern(pattern).search(text, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        if run is not None:
            run.timed_out(pattern)
        raise RegexGaveUp(f"did not finish within {REGEX_TIMEOUT_S:g}s on its {len(text):,}-character {what} "
                          "(catastrophic backtracking?)") from None


def _regex(name: str, kind: str, pattern: str, text: str) -> Score:
    if len(text) > REGEX_MAX_CHARS:
        return Score(name, 0.0, False, "quality.assertion",
                     f"the answer ({len(text):,} characters) is longer than the {REGEX_MAX_CHARS:,} a pattern is run on")
    try:
        hit = bounded_search(pattern, text) is not None
    except RegexGaveUp as exc:
        return Score(name, 0.0, False, "quality.assertion", f"the pattern {exc}")
    ok = hit if kind == "regex" else not hit
    return _bool(name, ok, "quality.assertion", "does not match" if kind == "regex" else "matches a forbidden pattern")


def is_refusal(text: str) -> bool:
    return bool(_REFUSAL.search(text[:600]))


def _texts(value: Any, variables: Mapping[str, Any]) -> list[str]:
    items = value if isinstance(value, list) else [value]
    return [render_template(str(v), variables) for v in items]


def _parse_json(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text.strip())
    except ValueError:
        return False, None


@cache
def _validator(schema_text: str) -> Any:
    import jsonschema
    from referencing import Registry

    schema = json.loads(schema_text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    # The schema's patterns are the dataset's, run on the model's answer: within the regex metrics' deadline,
    # never on an unbounded `re.search` (`^(a+)+$` on 30 a's and a `!` took a minute, 64 never ended).
    bounded: Any = jsonschema.validators.extend(  # type: ignore[no-untyped-call]
        cls, {"pattern": _bounded_pattern, "patternProperties": _bounded_pattern_properties})
    # An empty registry retrieves nothing: jsonschema's default would fetch a remote $ref over the network.
    return bounded(schema, registry=Registry())


def _found(pattern: Any, text: str, what: str) -> tuple[bool, str | None]:
    """(whether pattern is found in text, why it could not be run): within bounded_search's deadline."""
    try:
        return bounded_search(str(pattern), text, what) is not None, None
    except RegexGaveUp as exc:
        return False, clip(f"the schema's pattern {pattern!r} {exc}", 200)
    except Exception as exc:  # noqa: BLE001 - the regex engine's own error type: a pattern it cannot read
        return False, clip(f"the schema's pattern {pattern!r} cannot be used: {exc}", 200)


def _bounded_pattern(validator: Any, pattern: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema import ValidationError

    if not validator.is_type(instance, "string"):
        return
    hit, failed = _found(pattern, instance, "string")
    if failed or not hit:
        yield ValidationError(failed or f"{clip(repr(instance), 80)} does not match {pattern!r}")


def _bounded_pattern_properties(validator: Any, patterns: Any, instance: Any, schema: Any) -> Iterator[Any]:
    from jsonschema import ValidationError

    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for key, value in instance.items():
            hit, failed = _found(pattern, key, "property name")
            if failed:
                yield ValidationError(failed)
                return
            if hit:
                yield from validator.descend(value, subschema, path=key, schema_path=pattern)


def _json_schema(name: str, schema: Any, data: Any) -> Score:
    try:
        error = next(iter(_validator(json.dumps(schema, sort_keys=True)).iter_errors(data)), None)
    except RecursionError:  # {"$ref": "#"}: a schema that applies itself to the same value, endlessly
        return Score(name, 0.0, False, "quality.assertion", "the JSON Schema cannot be applied: it refers to itself "
                     "without end (a $ref cycle)")
    except (AttributeError, TypeError, LookupError, ValueError) as exc:  # a $ref to a value that is not a schema
        return Score(name, 0.0, False, "quality.assertion", clip(
            "the JSON Schema cannot be applied (does a $ref point at something that is not a schema?): "
            f"{type(exc).__name__}: {exc}", 200))
    return _bool(name, error is None, "output.schema_violation", clip(error.message, 200) if error else "")


def _bool(name: str, ok: bool, category: str, detail: str) -> Score:
    return Score(name, 1.0 if ok else 0.0, ok, None if ok else category, "" if ok else detail)


def _string_evaluator(name: str, spec: Mapping[str, Any], text: str, variables: Mapping[str, Any]) -> Score:
    """gh-models' string evaluator: the first non-empty of equals, contains, startsWith, endsWith, on the
    answer with surrounding whitespace trimmed (gh-models trims every model response before evaluating it)."""
    text = text.strip()
    for key in ("equals", "contains", "startsWith", "endsWith"):
        raw = spec.get(key)
        if not raw:
            continue
        want = render_template(str(raw), variables)
        if key == "equals":
            ok = text == want
        elif key == "contains":
            ok = want.lower() in text.lower()
        elif key == "startsWith":
            ok = text.lower().startswith(want.lower())
        else:
            ok = text.lower().endswith(want.lower())
        return _bool(name, ok, "quality.assertion", f"expected {key} {want!r}")
    return Score(name, 0.0, False, "quality.assertion", "no string evaluation criteria specified")


def evaluate(spec: MetricSpec, outcome: Outcome, variables: Mapping[str, Any]) -> Score:
    """Score one answer with a deterministic metric (the scored kinds are judged elsewhere)."""
    text, kind, name, value = outcome.content, spec.kind, spec.name, spec.value
    if kind == "string":
        return _string_evaluator(name, value, text, variables)
    if kind == "equals":
        want = render_template(str(value), variables)
        return _bool(name, text == want, "quality.assertion", f"expected exactly {want!r}")
    if kind in ("contains", "icontains"):
        wants = _texts(value, variables)
        missing = [w for w in wants if w.lower() not in text.lower()]
        return _bool(name, not missing, "quality.assertion", f"does not contain {missing[:1][0]!r}" if missing else "")
    if kind == "contains_exact":
        missing = [w for w in _texts(value, variables) if w not in text]
        return _bool(name, not missing, "quality.assertion", f"does not contain {missing[:1][0]!r}" if missing else "")
    if kind == "not_contains":
        found = [w for w in _texts(value, variables) if w and w.lower() in text.lower()]
        # The forbidden text itself may be a secret: say which entry, never echo it.
        return _bool(name, not found, "quality.assertion", "contains a forbidden string" if found else "")
    if kind in ("regex", "not_regex"):
        return _regex(name, kind, render_template(str(value), variables), text)
    if kind == "starts_with":
        want = render_template(str(value), variables)
        return _bool(name, text.lower().startswith(want.lower()), "quality.assertion", f"does not start with {want!r}")
    if kind == "ends_with":
        want = render_template(str(value), variables)
        return _bool(name, text.lower().endswith(want.lower()), "quality.assertion", f"does not end with {want!r}")
    if kind == "is_json":
        ok, _ = _parse_json(text)
        return _bool(name, ok == bool(value), "output.invalid_json", "not valid JSON" if value else "is JSON")
    if kind == "json_schema":
        ok, data = _parse_json(text)
        if not ok:
            return Score(name, 0.0, False, "output.invalid_json", "not valid JSON")
        return _json_schema(name, value, data)
    if kind == "is_refusal":
        refused = is_refusal(text)
        if value:
            return _bool(name, refused, "quality.assertion", "expected a refusal")
        return _bool(name, not refused, "output.refusal", "the answer is a refusal")
    if kind == "max_latency_s":
        return _bool(name, outcome.latency_s <= float(value), "budget.latency",
                     f"took {outcome.latency_s:.2f}s > {float(value):g}s")
    if kind == "max_output_tokens":
        used = outcome.output_tokens
        ok = used is None or used <= int(value)
        return _bool(name, ok, "budget.tokens", f"{used} output tokens > {int(value)}")
    if kind == "max_cost_usd":
        cost = outcome.cost_usd
        ok = cost is None or cost <= float(value)
        return _bool(name, ok, "budget.cost", f"cost ${cost or 0:.6f} > ${float(value):g}")
    raise ValueError(f"{kind} is not a deterministic metric")


def failure_category(outcome: Outcome, scores: Sequence[Score]) -> str | None:
    """The one category of a failed answer, or None when it passed."""
    if outcome.error:
        return outcome.error
    failed = [s.category or "quality.assertion" for s in scores if not s.passed]
    if not failed:
        return None
    content_failed = any(c.startswith(("quality.", "output.")) for c in failed)
    if content_failed and not outcome.content.strip():
        return "output.empty"
    if content_failed and outcome.finish_reason == "length":
        return "output.truncated"
    return min(failed, key=lambda c: _RANK.get(c, len(_RANK)))
