"""Findings, check results and the report: the values every renderer works from."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any, TextIO

SCHEMA_VERSION = 1


class Status(str, Enum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    ERROR = "error"
    SKIP = "skip"

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Status.SKIP: 0, Status.PASS: 1, Status.WARN: 2, Status.FAIL: 3, Status.ERROR: 4}


class Severity(str, Enum):
    # The names of GitHub's annotation levels, so findings map onto them one to one.
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


@dataclass(frozen=True)
class Finding:
    severity: Severity
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    case_id: str | None = None
    category: str | None = None
    rule: str | None = None  # a stable rule id (e.g. PG101), for suppression and SARIF

    def location(self) -> str:
        if not self.file:
            return ""
        parts = [self.file]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        return ":".join(parts)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"severity": self.severity.value, "message": self.message}
        for key in ("file", "line", "column", "case_id", "category", "rule"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            severity=Severity(data["severity"]),
            message=data["message"],
            file=data.get("file"),
            line=data.get("line"),
            column=data.get("column"),
            case_id=data.get("case_id"),
            category=data.get("category"),
            rule=data.get("rule"),
        )


def finding_sort_key(f: Finding) -> tuple[str, int, int, str]:
    return (f.file or "", f.line or 0, f.column or 0, f.message)


@dataclass(frozen=True)
class CheckResult:
    name: str
    status: Status
    summary: str
    duration_s: float = 0.0
    metrics: Mapping[str, Any] = field(default_factory=dict)
    findings: tuple[Finding, ...] = ()
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status.value,
            "summary": self.summary,
            "duration_s": round(self.duration_s, 3),
            "metrics": dict(self.metrics),
            "findings": [f.to_dict() for f in self.findings],
            "details": dict(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CheckResult:
        return cls(
            name=data["name"],
            status=Status(data["status"]),
            summary=data["summary"],
            duration_s=float(data.get("duration_s", 0.0)),
            metrics=dict(data.get("metrics", {})),
            findings=tuple(Finding.from_dict(f) for f in data.get("findings", [])),
            details=dict(data.get("details", {})),
        )

    def counts(self) -> dict[Severity, int]:
        out = {s: 0 for s in Severity}
        for f in self.findings:
            out[f.severity] += 1
        return out


def status_from_findings(findings: Iterable[Finding], *, strict: bool = False) -> Status:
    """fail on any error finding, warn on warnings (fail under strict), pass otherwise."""
    severities = {f.severity for f in findings}
    if Severity.ERROR in severities:
        return Status.FAIL
    if Severity.WARNING in severities:
        return Status.FAIL if strict else Status.WARN
    return Status.PASS


def verdict_of(statuses: Iterable[Status]) -> Status:
    worst = Status.SKIP
    for status in statuses:
        if status.rank > worst.rank:
            worst = status
    return worst


def jsonable(value: Any) -> Any:
    """value as strict JSON holds it: NaN and infinities become null, tuples lists, other objects their text.

    A dict or list that is already so is returned itself, not copied: a report's details can hold 200,000 cases."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        out = {str(k): jsonable(v) for k, v in value.items()}
        same = isinstance(value, dict) and all(k is k2 and v is v2 for (k, v), (k2, v2)
                                               in zip(value.items(), out.items(), strict=True))
        return value if same else out
    if isinstance(value, list):
        items = [jsonable(v) for v in value]
        return value if all(a is b for a, b in zip(value, items, strict=True)) else items
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    return str(value)


def non_finite(value: Any, at: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], float]]:
    """Where a JSON-like tree holds NaN or an infinity (which strict JSON cannot), in document order."""
    out: list[tuple[tuple[Any, ...], float]] = []
    # One iterator per open container: the walk holds the depth of the tree, not its breadth.
    stack: list[tuple[tuple[Any, ...], Iterator[tuple[Any, Any]]]] = []
    _visit(at, value, out, stack)
    while stack:
        path, items = stack[-1]
        step = next(items, None)
        if step is None:
            stack.pop()
            continue
        _visit((*path, step[0]), step[1], out, stack)
    return out


def _visit(path: tuple[Any, ...], item: Any, out: list[tuple[tuple[Any, ...], float]],
           stack: list[tuple[tuple[Any, ...], Iterator[tuple[Any, Any]]]]) -> None:
    if isinstance(item, float) and not math.isfinite(item):
        out.append((path, item))
    elif isinstance(item, Mapping):
        stack.append((path, iter(item.items())))
    elif isinstance(item, (list, tuple)):
        stack.append((path, enumerate(item)))


def _dotted(path: tuple[Any, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


def strict_result(result: CheckResult) -> CheckResult:
    """result with metrics and details as strict JSON holds them. A NaN or infinite figure is written as null,
    never as a bare NaN token (not JSON) nor silently: the check gets a warning naming it (a pass becomes a warn)."""
    bad = [f"{_dotted(at)}: {v}" for at, v in non_finite({"metrics": result.metrics, "details": result.details})]
    if not bad:
        return replace(result, metrics=jsonable(dict(result.metrics)), details=jsonable(dict(result.details)))
    shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    note = Finding(Severity.WARNING, f"not a finite number, reported as null: {shown}")
    return replace(result, status=Status.WARN if result.status is Status.PASS else result.status,
                   findings=(*result.findings, note),
                   metrics=jsonable(dict(result.metrics)), details=jsonable(dict(result.details)))


@dataclass(frozen=True)
class GitInfo:
    head: str | None = None
    base: str | None = None
    base_ref: str | None = None


@dataclass(frozen=True)
class Report:
    tool_name: str
    tool_version: str
    started_at: str
    duration_s: float
    git: GitInfo
    checks: tuple[CheckResult, ...]
    schema_version: int = SCHEMA_VERSION

    @property
    def verdict(self) -> Status:
        return verdict_of(c.status for c in self.checks)

    def check(self, name: str) -> CheckResult | None:
        return next((c for c in self.checks if c.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": self.schema_version,
            "tool": {"name": self.tool_name, "version": self.tool_version},
            "verdict": self.verdict.value,
            "started_at": self.started_at,
            "duration_s": round(self.duration_s, 3),
            "git": {"head": self.git.head, "base": self.git.base, "base_ref": self.git.base_ref},
            "checks": [c.to_dict() for c in self.checks],
        }

    def to_json(self) -> str:
        # Strict JSON: every reader (jq, JavaScript, the Action) must parse it.
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def write_json(self, out: TextIO) -> None:
        """to_json() written piece by piece: a report of 200,000 cases is never one string in memory."""
        json.dump(self.to_dict(), out, indent=2, ensure_ascii=False, allow_nan=False)
        out.write("\n")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Report:
        git = data.get("git") or {}
        return cls(
            tool_name=data["tool"]["name"],
            tool_version=data["tool"]["version"],
            started_at=data["started_at"],
            duration_s=float(data["duration_s"]),
            git=GitInfo(head=git.get("head"), base=git.get("base"), base_ref=git.get("base_ref")),
            checks=tuple(CheckResult.from_dict(c) for c in data["checks"]),
            schema_version=int(data.get("schema_version", SCHEMA_VERSION)),
        )
