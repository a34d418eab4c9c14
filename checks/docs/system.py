"""Consistency with the system: fallback models, failure categories observed in this run, links."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from gate.models import ModelsFile
from gate.redact import clip
from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity
from gate.taxonomy import is_failure

from .catalogue import Mode, covering
from .parse import Document, Link
from .rules import ModeRow, ModeSection
from .text import names_model

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:|^//")


@dataclass(frozen=True)
class FallbackRow:
    model: str
    chain: tuple[str, ...]
    undocumented: tuple[str, ...]


def fallback_findings(models: ModelsFile, fallback_text: str, models_file: str, where: str) -> tuple[list[FallbackRow], list[Finding]]:
    """Every model with a fallback chain, and every model in one, is named in some fallback field."""
    rows: list[FallbackRow] = []
    findings: list[Finding] = []
    reported: set[str] = set()
    for name, model in models.models.items():
        if not model.fallback:
            continue
        chain = tuple(models.chain(name))
        undocumented = [n for n in chain if not _named(n, models, fallback_text)]
        rows.append(FallbackRow(name, chain, tuple(undocumented)))
        for n in undocumented:
            if n in reported:
                continue
            reported.add(n)
            line = _line(models, n)
            findings.append(Finding(Severity.ERROR, f"model '{n}' is in the fallback chain {' -> '.join(chain)} but "
                                    f"no fallback field of the failure-mode document names it ({where})",
                                    models_file, line))
    return rows, findings


def _named(name: str, models: ModelsFile, text: str) -> bool:
    model = models.models.get(name)
    return names_model(text, [name, model.model if model else ""])


def _line(models: ModelsFile, name: str) -> int | None:
    """Where models.yaml puts `name` in a chain: its own fallback key, or the entry naming it."""
    if models.doc is None:
        return None
    own = models.models.get(name)
    if own is not None and own.fallback:
        return models.doc.locate(["models", name, "fallback"]).line
    for other, m in models.models.items():
        if name in m.fallback:
            at: list[str | int] = ["models", other, "fallback"]
            if isinstance(m.raw.get("fallback"), list):
                at.append(m.fallback.index(name))
            return models.doc.locate(at).line
    return models.doc.locate(["models", name]).line


@dataclass(frozen=True)
class Observed:
    category: str
    count: int
    checks: tuple[str, ...]
    covered_by: tuple[str, ...]  # titles of the sections that cover it


def observed_categories(results: Mapping[str, CheckResult]) -> dict[str, dict[str, int]]:
    """{category: {check: count}} from every earlier check's metrics["failure_categories"] and findings."""
    out: dict[str, dict[str, int]] = {}
    for name, result in results.items():
        published = result.metrics.get("failure_categories")
        counts: dict[str, int] = {}
        if isinstance(published, Mapping):
            counts = {str(k): int(v) for k, v in published.items() if isinstance(v, (int, float)) and v > 0}
        # Findings add the categories a check did not count in its metrics.
        from_findings: dict[str, int] = {}
        for f in result.findings:
            if f.category:
                from_findings[f.category] = from_findings.get(f.category, 0) + 1
        for category, n in from_findings.items():
            counts.setdefault(category, n)
        for category, n in counts.items():
            if is_failure(category):
                out.setdefault(category, {})[name] = n
    return dict(sorted(out.items()))


def observed_findings(observed: Mapping[str, Mapping[str, int]], catalogue: Sequence[Mode], rows: Sequence[ModeRow],
                      sections: Sequence[ModeSection], waiver_at: Callable[[str], tuple[str, int | None]],
                      doc_file: str, doc_line: int) -> tuple[list[Observed], list[Finding]]:
    """Each observed category needs a documented mode covering it; a waived one is contradicted by the run."""
    state = {r.id: r for r in rows}
    out: list[Observed] = []
    findings: list[Finding] = []
    for category, by_check in observed.items():
        count = sum(by_check.values())
        seen = f"{' and '.join(f'the {c} check' for c in by_check)} observed {counted(count, f'{category} failure')} in this run"
        modes = covering(category, catalogue)
        covered = [ms.title for ms in sections if ms.waiver is None and
                   (category in ms.covers or any(m.id in ms.modes for m in modes))]
        out.append(Observed(category, count, tuple(by_check), tuple(covered)))
        if covered:
            continue
        waived = [m for m in modes if m.id in state and state[m.id].state == "not applicable"]
        if waived:
            file, line = waiver_at(waived[0].id)
            findings.append(Finding(Severity.ERROR, f"'{waived[0].title}' is marked not applicable, but {seen}",
                                    file, line, category=category))
            continue
        hint = (f"add a `## {modes[0].title}` section" if modes
                else f"add a section with `**Covers:** {category}`")
        findings.append(Finding(Severity.ERROR, f"{seen}, but no failure mode covers it: {hint}", doc_file, doc_line,
                                category=category))
    return out, findings


def link_findings(doc: Document, path: Path, file: str, repo_root: Path,
                  anchors_of: Callable[[Path], frozenset[str] | None]) -> list[Finding]:
    """Relative links (and #anchors) that lead nowhere."""
    findings = []
    for link in doc.links:
        problem = _link_problem(link, doc, path, repo_root, anchors_of)
        if problem:
            findings.append(Finding(Severity.ERROR, f"link {clip(link.href, 100)!r} {problem}", file, link.line))
    return findings


def _link_problem(link: Link, doc: Document, path: Path, repo_root: Path,
                  anchors_of: Callable[[Path], frozenset[str] | None]) -> str | None:
    href = link.href.strip()
    if not href:
        return "is empty"
    if _SCHEME.match(href):
        return None
    target_part, _, fragment = href.partition("#")
    target_part = unquote(target_part.partition("?")[0])
    fragment = unquote(fragment)
    if not target_part:
        return None if not fragment or fragment.lower() in doc.anchors else "names no heading of this document"
    base = repo_root if target_part.startswith("/") else path.parent
    if "\0" in target_part:
        return "does not resolve: a file name cannot hold a NUL byte"
    try:
        target = (base / target_part.lstrip("/")).resolve()
        inside = target.is_relative_to(repo_root)
        exists = inside and target.exists()
    except (OSError, ValueError) as exc:  # a name over 255 bytes, a path too long, a loop of symlinks
        return f"does not resolve: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
    if not inside:
        return "points outside the repository"
    if not exists:
        return "does not resolve: no such file"
    if fragment and target.is_file() and target.suffix.lower() in (".md", ".markdown"):
        anchors = anchors_of(target)
        if anchors is not None and fragment.lower() not in anchors:
            return f"names no heading of {target.name}"
    return None
