"""What every part of the markdown view shares, and what a check's `markdown_details` may use: icons, links
into the head commit, the comment's and the summary's layouts, findings as a linked list."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from gate.render.escape import code_span, link, prose, url_path
from gate.report import Finding, Severity, Status

# GitHub refuses a comment over 65,536 characters; the margin absorbs its own normalisation.
COMMENT_LIMIT = 65_000
# The job summary may hold 1 MiB per step (bytes, not characters).
SUMMARY_LIMIT_BYTES = 1_000_000
MAX_FINDINGS = 30
MAX_FINDINGS_SUMMARY = 1_000

ICONS = {Status.PASS: "✅", Status.WARN: "⚠️", Status.FAIL: "❌", Status.ERROR: "🛑", Status.SKIP: "⏭️"}
_SEVERITY_ICONS = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.NOTICE: "ℹ️"}


@dataclass(frozen=True)
class Links:
    """Where links point: files at the head commit of the pull request, and the workflow run."""

    server_url: str
    repository: str
    head_sha: str | None = None
    run_url: str | None = None

    def blob(self, path: str, line: int | None = None) -> str | None:
        if not self.head_sha or not path or path.startswith(("/", "../")) or "\\" in path:
            return None
        url = f"{self.server_url.rstrip('/')}/{self.repository}/blob/{self.head_sha}/{url_path(path)}"
        return url + (f"#L{line}" if line else "")


_LINKS: ContextVar[Links | None] = ContextVar("prodgate_markdown_links", default=None)
# Whether the text is for the pull request comment, which the runner does not mask (the default, as the
# safe guess), or for the job summary and files, which it does.
_IN_COMMENT: ContextVar[bool] = ContextVar("prodgate_markdown_in_comment", default=True)


def in_comment() -> bool:
    """For checks' `markdown_details`: whether to leave out what only the job summary may show (a service's log)."""
    return _IN_COMMENT.get()


@contextmanager
def audience(comment: bool) -> Iterator[None]:
    """While the sections render: whether for the pull request comment (in_comment() is True) or the job summary."""
    token = _IN_COMMENT.set(comment)
    try:
        yield
    finally:
        _IN_COMMENT.reset(token)


@contextmanager
def linking(links: Links | None) -> Iterator[None]:
    """Make file_link() point into the head commit while a check renders its details."""
    token = _LINKS.set(links)
    try:
        yield
    finally:
        _LINKS.reset(token)


def file_link(path: str, line: int | None = None) -> str:
    """`path:line` as a link to that line in the head commit when rendering for a pull request.

    For checks' `markdown_details`: the path is repository-relative, as in a Finding."""
    label = f"{path}:{line}" if line else path
    links = _LINKS.get()
    url = links.blob(path, line) if links else None
    return link(label, url) if url else code_span(label)


def findings_markdown(findings: Sequence[Finding], limit: int = MAX_FINDINGS) -> str:
    """A bullet list of findings, each linked to its file and line; for checks to reuse."""
    out = []
    for f in findings[:limit]:
        where = file_link(f.file, f.line) + " " if f.file else ""
        case = f"{code_span(f.case_id)} " if f.case_id else ""
        category = f" ({code_span(f.category)})" if f.category else ""
        out.append(f"- {_SEVERITY_ICONS[f.severity]} {where}{case}{prose(f.message, 500)}{category}")
    if len(findings) > limit:
        out.append(f"- … and {len(findings) - limit} more in the job summary and the JSON report")
    return "\n".join(out)


@dataclass(frozen=True)
class Layout:
    limit: int
    measure: Callable[[str], int]
    max_findings: int
    # Where the reader finds what a shortened text left out.
    elsewhere: str
    in_comment: bool = True


def comment_layout() -> Layout:
    return Layout(COMMENT_LIMIT, len, MAX_FINDINGS, "the job summary")


def summary_layout() -> Layout:
    return Layout(SUMMARY_LIMIT_BYTES, lambda s: len(s.encode("utf-8")), MAX_FINDINGS_SUMMARY, "the JSON report",
                  in_comment=False)
