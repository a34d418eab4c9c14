"""Finding, reading and parsing the documents gate.yaml names, here and on the base branch."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

from gate.context import CheckContext
from gate.report import Finding, Severity

from .catalogue import DEFAULT_FIELDS, FieldNames, normalise
from .config import GLOB_CHARS, DocsOptions
from .parse import Document, parse
from .rules import ModeRow, mode_rows, mode_sections
from .system import link_findings
from .text import ReadProblem, placeholder, read_document

# Links into other markdown files only need their headings: any field names will do.
_NAMES = FieldNames.build(DEFAULT_FIELDS)
_TEMPLATE_HINT = ("`gate init` writes a complete template: run it in an empty folder and copy its "
                  "docs/failure-modes.md")


@dataclass(frozen=True)
class ParsedDoc:
    file: str
    path: Path
    document: Document


@dataclass(frozen=True)
class Documents:
    parsed: tuple[ParsedDoc, ...]
    findings: tuple[Finding, ...]
    link_findings: tuple[Finding, ...]
    anchor: tuple[str, int]  # where a finding about the documents as a whole goes


def document_paths(ctx: CheckContext, opts: DocsOptions, gate_file: str) -> tuple[list[Path], list[Finding]]:
    paths: list[Path] = []
    findings: list[Finding] = []
    for pattern, line in opts.documents:
        if GLOB_CHARS & set(pattern):
            matches = ctx.config.glob(pattern, "docs", "failure_modes")
            if not matches:
                findings.append(Finding(Severity.ERROR, f"{pattern}: no failure-mode document matches ({_TEMPLATE_HINT})",
                                        gate_file, line))
            paths += [p for p in matches if p not in paths]
            continue
        path = (ctx.root / pattern).resolve()
        if not path.exists():
            findings.append(Finding(Severity.ERROR, f"{pattern}: the failure-mode document does not exist "
                                    f"({_TEMPLATE_HINT})", gate_file, line))
        elif path not in paths:
            paths.append(path)
    return paths, findings


def read_documents(ctx: CheckContext, opts: DocsOptions, gate_file: str) -> Documents:
    paths, findings = document_paths(ctx, opts, gate_file)
    parsed: list[ParsedDoc] = []
    links: list[Finding] = []
    repo_root = ctx.base.repo_root or ctx.root
    for path in paths:
        file = ctx.display(path)
        text = read_document(path, opts.max_bytes)
        if isinstance(text, ReadProblem):
            hint = f" ({_TEMPLATE_HINT})" if text.message == "is empty" else ""
            findings.append(Finding(Severity.ERROR, f"the failure-mode document {text.message}{hint}", file,
                                    text.line, text.column))
            continue
        doc = parse(text, opts.fields)
        parsed.append(ParsedDoc(file, path, doc))
        if opts.check_links:
            links += link_findings(doc, path, file, repo_root, lambda p: _anchors(p, opts.max_bytes))
    if parsed:
        first = parsed[0]
        anchor = (first.file, first.document.headings[0].line if first.document.headings else 1)
    elif paths:
        anchor = (ctx.display(paths[0]), 1)
    else:
        anchor = (gate_file, opts.documents[0][1] if opts.documents else 1)
    return Documents(tuple(parsed), tuple(findings), tuple(links), anchor)


@cache
def _anchors_cached(path: Path, mtime: float, max_bytes: int) -> frozenset[str] | None:
    text = read_document(path, max_bytes)
    return None if isinstance(text, ReadProblem) else parse(text, _NAMES).anchors


def _anchors(path: Path, max_bytes: int) -> frozenset[str] | None:
    """The heading anchors of another markdown file a link points into (None if unreadable)."""
    try:
        return _anchors_cached(path, path.stat().st_mtime, max_bytes)
    except OSError:
        return None


def required_document_findings(ctx: CheckContext, opts: DocsOptions, gate_file: str) -> list[Finding]:
    """Each further document exists, reads, has its headings, and says something under each."""
    findings: list[Finding] = []
    repo_root = ctx.base.repo_root or ctx.root
    for req in opts.required_documents:
        path = (ctx.root / req.path).resolve()
        if not path.exists():
            findings.append(Finding(Severity.ERROR, f"{req.path}: required document does not exist", gate_file,
                                    req.line))
            continue
        file = ctx.display(path)
        text = read_document(path, opts.max_bytes)
        if isinstance(text, ReadProblem):
            findings.append(Finding(Severity.ERROR, f"required document {text.message}", file, text.line, text.column))
            continue
        doc = parse(text, opts.fields)
        top = doc.headings[0].line if doc.headings else 1
        for wanted in req.headings:
            key = normalise(wanted)
            heading = next((h for h in doc.headings if normalise(h.title) == key), None) or next(
                (h for h in doc.headings if f" {key} " in f" {normalise(h.title)} "), None)
            if heading is None:
                findings.append(Finding(Severity.ERROR, f"has no heading '{wanted}' (required by gate.yaml "
                                        "docs.required_documents)", file, top))
                continue
            why = placeholder(heading.body, [heading.title])
            if why:
                findings.append(Finding(Severity.ERROR, f"section '{heading.title}' {why}", file, heading.line))
        if opts.check_links:
            findings += link_findings(doc, path, file, repo_root, lambda p: _anchors(p, opts.max_bytes))
    return findings


@dataclass(frozen=True)
class BaseDocuments:
    """The same failure-mode documents on the base branch, read with git."""

    present: bool  # False: none of them existed there
    rows: tuple[ModeRow, ...]

    def complete(self) -> str:
        required = sum(r.state != "not applicable" for r in self.rows)
        return f"{sum(r.state == 'complete' for r in self.rows)}/{required}"


def base_documents(ctx: CheckContext, opts: DocsOptions) -> BaseDocuments | None:
    """None when there is no base to compare with (no git, shallow clone, documents outside the repository)."""
    if not ctx.base.available:
        return None
    paths, _ = document_paths(ctx, opts, "")
    rels = [r for r in (ctx.base.relpath(p) for p in paths) if r is not None]
    if not rels:
        return None
    contents = ctx.base.read_many(rels)
    sections = []
    for rel, data in contents.items():
        if data is None or len(data) > opts.max_bytes:
            continue
        text = data.decode("utf-8", "replace")
        sections += mode_sections(rel, parse(text, opts.fields).sections, opts)[0]
    present = any(d is not None for d in contents.values())
    return BaseDocuments(present, tuple(mode_rows(opts.catalogue, sections, opts)) if present else ())
