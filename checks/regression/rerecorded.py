"""Cassettes the change under review re-recorded: their answers are the change's own evidence, worth a look."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from gate.context import CheckContext
from gate.files import MAX_DATA_BYTES, FileError, loads_json, read_bytes
from gate.gitref import git_output
from gate.providers.keys import as_sent, canonical
from gate.render.words import counted
from gate.report import Finding, Severity

from .config import RegressionConfig


def rerecorded(ctx: CheckContext, cfg: RegressionConfig) -> list[Finding]:
    """A notice per replayed cassette whose answers differ from the base branch's: a pull request can write any
    answer into a cassette, so a reviewer should read the diff of one it changed beside its prompts. The base's
    cassette is the one at the same path, else the one git reports it was renamed from, else the one the base's
    gate.yaml names in its place; the same content at any path of the base is the base's evidence."""
    if not ctx.base.available or ctx.options.get("record"):
        return []
    roles = _replays(ctx.config.data)
    in_repo = {rel: ctx.base.relpath((ctx.config.root / rel).resolve()) for rel in sorted(set(roles.values()))}
    files = {(ctx.config.root / rel).resolve(): r for rel, r in in_repo.items() if r is not None}
    tree: dict[str, str] = {}  # the base commit's files and their object ids, listed once a cassette changed
    changed = _changed(ctx, files, tree)
    moved = _renamed(ctx) if any(r not in tree for r in changed) else {}
    base_of = {r: r if r in tree else moved.get(r) or _named_on_base(ctx, roles, rel, tree)
               for rel, r in in_repo.items() if r in changed}
    base = ctx.base.read_many([b for b in base_of.values() if b is not None])
    out = []
    for rel, repo_rel in in_repo.items():
        if repo_rel not in changed:
            continue
        path = (ctx.config.root / rel).resolve()
        try:
            head = read_bytes(path, rel, max_bytes=MAX_DATA_BYTES)
        except FileError:
            continue  # the replay itself reports an unreadable cassette
        base_rel = base_of[repo_rel]
        count = _new_answers(base.get(base_rel) if base_rel is not None else None, head)
        if not count:
            continue  # lines removed, reordered or respelt only: no answer is new
        what = "is new in this change" if base_rel is None else "was re-recorded in this change" \
            if base_rel == repo_rel else f"({_shown(ctx, base_rel)} on the base branch) was re-recorded in this change"
        out.append(Finding(Severity.NOTICE, f"{rel} {what}: {counted(count, 'recorded answer')} new or changed since "
                           "the base branch. Replayed answers are the change's own evidence: review the cassette's "
                           "diff beside its prompts", ctx.display(path)))
    return out


def _replays(data: Mapping[str, Any]) -> dict[tuple[str | int, ...], str]:
    """The cassettes a gate.yaml replays, by where it names them (target, judge, a suite's target by name)."""
    section = data.get("regression")
    if not isinstance(section, Mapping):
        return {}
    specs: list[tuple[tuple[str | int, ...], Any]] = [(("target",), section.get("target")),
                                                     (("judge",), section.get("judge"))]
    suites = section.get("suites")
    for i, s in enumerate(suites if isinstance(suites, list) else []):
        if isinstance(s, Mapping):
            specs.append((("suite", str(s.get("name") or s.get("prompt") or s.get("dataset") or i)), s.get("target")))
    return {role: str(spec["replay"]) for role, spec in specs
            if isinstance(spec, Mapping) and isinstance(spec.get("replay"), str)}


def _shown(ctx: CheckContext, repo_rel: str) -> str:
    """A base path as the head's gate.yaml would name it (relative to its folder), where it can."""
    root = ctx.base.repo_root
    try:
        return (root / repo_rel).relative_to(ctx.config.root.resolve()).as_posix() if root else repo_rel
    except ValueError:
        return repo_rel


def _changed(ctx: CheckContext, files: Mapping[Path, str], tree: dict[str, str]) -> set[str]:
    """The cassettes (repository paths) whose bytes are in no file of the base commit, told by git's object
    ids: neither copy is read. A cassette moved unchanged is the same evidence at another path. Fills `tree`
    with the base's files when one is not where it was."""
    root = ctx.base.repo_root
    if not files or root is None or not ctx.base.sha:
        return set(files.values())
    hashed = git_output(root, "hash-object", "--no-filters", "--", *(str(p) for p in files)) or ""
    ids = hashed.split("\n") if hashed else []
    if len(ids) != len(files):
        return set(files.values())  # a file that cannot be read: the byte comparison (and the replay) say why
    same_path = _ids(root, ctx.base.sha, files.values())
    head = {rel: oid for rel, oid in zip(files.values(), ids, strict=True) if same_path.get(rel) != oid}
    if not head:
        return set()
    tree.update(_ids(root, ctx.base.sha, ()))
    anywhere = set(tree.values())
    return {rel for rel, oid in head.items() if oid not in anywhere}


def _ids(root: Path, sha: str, paths: Iterable[str]) -> dict[str, str]:
    """path -> git object id at commit `sha`, for these paths (every file when none is given)."""
    wanted = list(paths)
    listed = git_output(root, "ls-tree", "-r", "-z", "--full-tree", sha, *(["--", *wanted] if wanted else [])) or ""
    return {line.partition("\t")[2]: line.split()[2] for line in listed.split("\0") if line.count(" ") >= 2}


def _renamed(ctx: CheckContext) -> dict[str, str]:
    """head path -> base path, for the files git finds renamed since the base commit (content mostly alike)."""
    if ctx.base.repo_root is None or ctx.base.sha is None:
        return {}
    raw = git_output(ctx.base.repo_root, "diff", "-z", "--name-status", "-M", "--diff-filter=R", ctx.base.sha,
                     "--") or ""
    parts = raw.split("\0")
    out = {}
    for i, field in enumerate(parts):
        if field.startswith("R") and i + 2 < len(parts):
            out[parts[i + 2]] = parts[i + 1]
    return out


def _named_on_base(ctx: CheckContext, roles: Mapping[tuple[str | int, ...], str], rel: str,
                   base_tree: Mapping[str, str]) -> str | None:
    """The cassette the base's gate.yaml names where this one's names `rel`, if it is in the base commit."""
    from gate.yamlfile import YamlError, parse_yaml

    config_rel = ctx.base.relpath(ctx.config.path)
    raw = ctx.base.read(config_rel) if config_rel is not None else None
    if raw is None or ctx.base.repo_root is None:
        return None
    try:
        data = parse_yaml(raw.decode("utf-8-sig"), config_rel or "gate.yaml").data
    except (YamlError, UnicodeDecodeError, ValueError):
        return None
    before = _replays(data) if isinstance(data, Mapping) else {}
    folder = Path(config_rel or "gate.yaml").parent
    for role, named in roles.items():
        if named == rel and role in before:
            candidate = (folder / before[role]).as_posix()
            if candidate in base_tree:
                return candidate
    return None


def _new_answers(before: bytes | None, head: bytes) -> int:
    """Lines of `head` recording an answer `before` does not hold: a new request or producer, or other content.
    A line whose producer is only spelt another way (its parameters as sent, or not) is the same answer."""
    old = set((before or b"").split(b"\n"))
    added = [line for line in head.split(b"\n") if line.strip() and line not in old]
    if not added or before is None:
        return len(added)
    new_lines = set(head.split(b"\n"))
    gone = {_answer(line) for line in old if line.strip() and line not in new_lines}
    return sum(1 for line in added if (found := _answer(line)) is None or found not in gone)


def _answer(line: bytes) -> bytes | None:
    """A digest of what a cassette line says was answered, by whom, to which request (a digest: a re-recorded
    cassette of 200,000 answers is not held again as text); None for a line that is not one."""
    try:
        item = loads_json(line)
    except ValueError:
        return None
    if not isinstance(item, dict) or not isinstance(item.get("response"), dict):
        return None
    request = item.get("request")
    params = request.get("params") if isinstance(request, dict) else None
    who = item.get("producer")
    made_by = as_sent(who, params if isinstance(params, dict) else {}) if isinstance(who, dict) else who
    response = item["response"]
    said = canonical([item.get("key"), made_by, response.get("content"), response.get("answered_by")])
    return hashlib.sha256(said.encode("utf-8", "surrogatepass")).digest()  # JSON may spell a lone surrogate
