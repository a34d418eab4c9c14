"""Cassettes the change under review re-recorded: their answers are the change's own evidence, worth a look."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gate.context import CheckContext
from gate.files import MAX_DATA_BYTES, FileError, read_bytes
from gate.gitref import git_output
from gate.render.words import counted
from gate.report import Finding, Severity

from .config import RegressionConfig


def rerecorded(ctx: CheckContext, cfg: RegressionConfig) -> list[Finding]:
    """A notice per replayed cassette whose lines differ from the base branch's: a pull request can write any
    answer into a cassette, so a reviewer should read the diff of one it changed beside its prompts."""
    if not ctx.base.available or ctx.options.get("record"):
        return []
    specs: list[Any] = [cfg.target, cfg.judge, *(s.target for s in cfg.suites or ())]
    rels = sorted({str(s["replay"]) for s in specs if isinstance(s, Mapping) and isinstance(s.get("replay"), str)})
    paths = {rel: (ctx.config.root / rel).resolve() for rel in rels}
    in_repo = {rel: ctx.base.relpath(p) for rel, p in paths.items()}
    same = _unchanged(ctx, {p: r for p, r in zip(paths.values(), in_repo.values(), strict=True) if r is not None})
    base = ctx.base.read_many([r for r in in_repo.values() if r is not None and r not in same])
    out = []
    for rel, path in paths.items():
        repo_rel = in_repo[rel]
        if repo_rel is None or repo_rel in same:
            continue
        try:
            head = read_bytes(path, rel, max_bytes=MAX_DATA_BYTES)
        except FileError:
            continue  # the replay itself reports an unreadable cassette
        before = base.get(repo_rel)
        if before == head:
            continue
        lines = set((before or b"").split(b"\n"))
        changed = sum(1 for line in head.split(b"\n") if line.strip() and line not in lines)
        if not changed:
            continue  # only lines removed: no answer is new
        what = "is new in this change" if before is None else "was re-recorded in this change"
        out.append(Finding(Severity.NOTICE, f"{rel} {what}: {counted(changed, 'recorded answer')} new or changed "
                           "since the base branch. Replayed answers are the change's own evidence: review the "
                           "cassette's diff beside its prompts", ctx.display(path)))
    return out


def _unchanged(ctx: CheckContext, files: Mapping[Path, str]) -> set[str]:
    """The cassettes (repository paths) whose bytes equal the base commit's, told by git's object ids: neither
    copy is read, which for a cassette of 200,000 answers saves holding it three times over."""
    root = ctx.base.repo_root
    if not files or root is None or not ctx.base.sha:
        return set()
    listed = git_output(root, "ls-tree", "-z", "--full-tree", ctx.base.sha, "--", *files.values()) or ""
    base = {line.partition("\t")[2]: line.split()[2] for line in listed.split("\0") if line.count(" ") >= 2}
    hashed = git_output(root, "hash-object", "--no-filters", "--", *(str(p) for p in files)) or ""
    ids = hashed.split("\n") if hashed else []
    if len(ids) != len(files):
        return set()  # a file that cannot be read: the byte comparison (and the replay) say what is wrong
    return {rel for rel, oid in zip(files.values(), ids, strict=True) if base.get(rel) == oid}
