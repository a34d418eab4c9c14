"""Per-case results: the record every later step works from (analysis, report, baseline, shard merge)."""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .metrics import Outcome, Score, failure_category

MAX_TEXT = 1_000  # characters of input and output kept: a reviewer reads them beside the base branch's answer


@dataclass(frozen=True, slots=True)  # one per case and repeat, 200,000 in a large run: no __dict__ each
class RepeatResult:
    passed: bool
    category: str | None
    scores: Mapping[str, float]
    failed: tuple[tuple[str, str], ...]  # (metric, why) of each metric that failed
    input_tokens: int | None
    output_tokens: int | None
    latency_s: float
    cost_usd: float | None
    output_sha: str
    output: str

    def to_dict(self, keep_output: bool) -> dict[str, Any]:
        out: dict[str, Any] = {
            "pass": self.passed, "scores": dict(sorted(self.scores.items())),
            "input_tokens": self.input_tokens, "output_tokens": self.output_tokens,
            "latency_s": round(self.latency_s, 4), "output_sha": self.output_sha,
        }
        if self.cost_usd is not None:
            out["cost_usd"] = round(self.cost_usd, 8)
        if self.category:
            out["category"] = self.category
        if self.failed:
            out["failed"] = [list(f) for f in self.failed]
        if keep_output:
            out["output"] = self.output
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RepeatResult:
        return cls(bool(d["pass"]), d.get("category"), dict(d.get("scores") or {}),
                   tuple((str(a), str(b)) for a, b in d.get("failed") or []), d.get("input_tokens"),
                   d.get("output_tokens"), float(d.get("latency_s") or 0.0), d.get("cost_usd"),
                   str(d.get("output_sha", "")), str(d.get("output", "")))


# Score sets seen in this run: most cases score alike (every metric 1.0), and each such case shares one mapping
# (results are read-only) rather than holding its own; a run of 200,000 cases is spared tens of megabytes.
_SCORE_SETS: dict[tuple[tuple[str, float], ...], Mapping[str, float]] = {}
_MAX_SCORE_SETS = 10_000


def _scores_of(scores: Sequence[Score]) -> Mapping[str, float]:
    key = tuple((s.name, s.score) for s in scores)
    found = _SCORE_SETS.get(key)
    if found is None:
        found = dict(key)
        if len(_SCORE_SETS) < _MAX_SCORE_SETS:
            _SCORE_SETS[key] = found
    return found


def repeat_result(outcome: Outcome, scores: Sequence[Score]) -> RepeatResult:
    category = failure_category(outcome, scores)
    failed = tuple((s.name, s.detail) for s in scores if not s.passed)
    if outcome.error:
        failed = (("request", outcome.error_message[:200]),) + failed
    text = outcome.content
    return RepeatResult(
        passed=category is None, category=category, scores=_scores_of(scores), failed=failed,
        input_tokens=outcome.input_tokens, output_tokens=outcome.output_tokens, latency_s=outcome.latency_s,
        cost_usd=outcome.cost_usd, output_sha=hashlib.sha256(text.encode()).hexdigest()[:16],
        output=text[:MAX_TEXT],
    )


@dataclass(frozen=True, slots=True)
class CaseResult:
    id: str
    line: int
    passed: bool
    category: str | None
    scores: Mapping[str, float]  # the mean over repeats
    repeats: tuple[RepeatResult, ...]
    cluster: str | None = None
    input: str = ""  # what the model was asked (kept for failed cases only)
    # The identity of the case's input (its rendered user message, else its variables): pairs a renamed case
    # with its baseline case. A system prompt edit leaves it unchanged.
    input_sha: str = ""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "line": self.line, "pass": self.passed}
        if self.category:
            out["category"] = self.category
        out["scores"] = {k: round(v, 6) for k, v in sorted(self.scores.items())}
        if self.cluster is not None:
            out["cluster"] = self.cluster
        if not self.passed:
            out["input"] = self.input
        if self.input_sha:
            out["input_sha"] = self.input_sha
        # The answers a reader is shown (each failed repeat's, and the first) are kept, capped: the baseline takes
        # the case's answer from here, so a flip shows the base branch's answer beside the new one.
        out["repeats"] = [r.to_dict(keep_output=i == 0 or not r.passed) for i, r in enumerate(self.repeats)]
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CaseResult:
        return cls(str(d["id"]), int(d.get("line", 1)), bool(d["pass"]), d.get("category"),
                   dict(d.get("scores") or {}), tuple(RepeatResult.from_dict(r) for r in d.get("repeats") or []),
                   d.get("cluster"), str(d.get("input", "")), input_sha=str(d.get("input_sha", "")))

    @property
    def output(self) -> str:
        """The answer to show: that of the first failed repeat, else the first."""
        for r in self.repeats:
            if not r.passed:
                return r.output
        return self.repeats[0].output if self.repeats else ""


def aggregate(case_id: str, line: int, repeats: Sequence[RepeatResult], pass_at: int, *, cluster: str | None,
              input_text: str) -> CaseResult:
    """A case passes when at least pass_at of its repeats pass; its category is the most common failure's."""
    passes = sum(r.passed for r in repeats)
    passed = passes >= pass_at
    category = None
    if not passed:
        counts: dict[str, int] = {}
        for r in repeats:
            if r.category:
                counts[r.category] = counts.get(r.category, 0) + 1
        category = max(sorted(counts), key=lambda c: counts[c]) if counts else "quality.assertion"
    if len(repeats) == 1:
        scores = repeats[0].scores  # the mean of one: shared, not copied (a run may hold 200,000 cases)
    else:
        names = sorted({n for r in repeats for n in r.scores})
        scores = {n: sum(r.scores.get(n, 0.0) for r in repeats) / len(repeats) for n in names} if repeats else {}
    shared = None if cluster is None else sys.intern(cluster)  # a cluster's name held once, not once per case
    return CaseResult(case_id, line, passed, category, scores, tuple(repeats), shared,
                      "" if passed else input_text[:MAX_TEXT], input_sha=input_digest(input_text))


def input_digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class SuiteResult:
    name: str
    file: str
    target: str
    scored: tuple[str, ...]  # metrics with a graded score, compared as scores (the rest count through pass)
    cases: tuple[CaseResult, ...]

    def to_dict(self, *, full: bool = True) -> dict[str, Any]:
        """Every case, or (full=False) only the failing ones, which the comment shows, and how many passed:
        a report of 200,000 cases stays readable, and is never built whole in memory."""
        cases = sorted(self.cases if full else (c for c in self.cases if not c.passed), key=lambda c: c.id)
        out: dict[str, Any] = {"file": self.file, "target": self.target, "scored_metrics": list(self.scored),
                               "cases": [c.to_dict() for c in cases]}
        if not full:
            out["passing_omitted"] = len(self.cases) - len(cases)
        return out

    @classmethod
    def from_dict(cls, name: str, d: Mapping[str, Any]) -> SuiteResult:
        return cls(name, str(d.get("file", "")), str(d.get("target", "")), tuple(d.get("scored_metrics") or []),
                   tuple(CaseResult.from_dict(c) for c in d.get("cases") or []))


def input_text(request_messages: Sequence[Any], variables: Mapping[str, Any]) -> str:
    """The case as a reviewer reads it: the last user message, else the variables."""
    users = [m.content for m in request_messages if m.role == "user"]
    if users:
        return str(users[-1])
    return ", ".join(f"{k}={v}" for k, v in sorted(variables.items()) if k != "expected")
