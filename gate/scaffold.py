"""`gate init`: writes a starting gate.yaml, prompt, dataset, failure-mode doc and workflow."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from gate.config import display_path
from gate.errors import ConfigError
from gate.gitref import git_output, toplevel

if TYPE_CHECKING:
    from importlib.abc import Traversable

# Packaged names -> where they go; dot-folders cannot be package data, so they are renamed here.
_RENAMES = {"github/workflows/gate.yml": ".github/workflows/gate.yml"}
# The templates' owner, replaced by the real one; the docs check flags it wherever it is left.
PLACEHOLDER_OWNER = "@your-org/your-team"
# Response-cache files hold answers of this machine's runs: never evidence to commit.
IGNORED = ".gate/cache/"
_OWNER = re.compile(r"@[A-Za-z0-9][\w.-]*(?:/[A-Za-z0-9][\w.-]*)?|[\w.%+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_GITHUB_OWNER = re.compile(r"github\.com[:/]+([A-Za-z0-9](?:[A-Za-z0-9-]{0,38}))/")


def _templates() -> list[tuple[str, bytes]]:
    root = resources.files("gate") / "templates" / "init"
    out: list[tuple[str, bytes]] = []

    def walk(node: Traversable, prefix: str) -> None:
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            rel = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, rel + "/")
            elif not child.name.endswith((".pyc", ".py")):
                out.append((_RENAMES.get(rel, rel), child.read_bytes()))

    walk(root, "")
    return out


def _placed(directory: Path, templates: list[tuple[str, bytes]]) -> list[tuple[Path, bytes]]:
    """Where each file goes. GitHub reads workflows only at the repository's root: when directory is a
    subfolder of a git repository, the workflow goes there and names the gate.yaml in the subfolder."""
    top = _git_toplevel(directory)
    sub = None
    if top is not None:
        try:
            sub = directory.resolve().relative_to(top).as_posix()
        except ValueError:
            sub = None
    out = []
    for rel, data in templates:
        if rel in _RENAMES.values() and top is not None and sub not in (None, "."):
            data = data.replace(b"config: gate.yaml", f"config: {sub}/gate.yaml".encode())
            out.append((top / rel, data))
        else:
            out.append((directory / rel, data))
    return out


def _git_toplevel(directory: Path) -> Path | None:
    start = directory.resolve()
    while not start.exists():  # the folder gate init is about to create
        start = start.parent
    return toplevel(start)


def derive_owner(directory: Path) -> str | None:
    """Who owns the failure modes until someone says otherwise: the GitHub owner of the `origin`
    remote (an @org or @user), else the git identity's email address."""
    start = directory.resolve()
    while not start.exists():
        start = start.parent
    url = git_output(start, "remote", "get-url", "origin") or ""
    found = _GITHUB_OWNER.search(url)
    if found:
        return f"@{found.group(1)}"
    email = git_output(start, "config", "user.email")
    return email if email and _OWNER.fullmatch(email) else None


def _ignore_cache(directory: Path) -> str | None:
    """Adds the cache folder to the directory's .gitignore (created if needed; never twice)."""
    path = directory / ".gitignore"
    try:
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        if IGNORED.strip("/") in {line.strip().strip("/") for line in text.splitlines()}:
            return None
        sep = "" if not text or text.endswith("\n") else "\n"
        path.write_text(f"{text}{sep}# prodgate's response cache: local answers, never committed\n{IGNORED}\n",
                        encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot write: {exc.strerror or exc}") from None
    return f"{'updated' if text else 'wrote'} {display_path(path)} (ignores {IGNORED})"


def scaffold(directory: Path, *, force: bool = False, owner: str | None = None) -> list[str]:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    if owner is not None and not _OWNER.fullmatch(owner):
        raise ConfigError(f"--owner {owner!r}: expected @org/team, @user or an email address")
    owner = owner or derive_owner(directory)
    templates = [(rel, data.replace(PLACEHOLDER_OWNER.encode(), owner.encode()) if owner else data)
                 for rel, data in _templates()]
    placed = _placed(directory, templates)
    existing = [target for target, _ in placed if target.exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]}: already exists (use --force to overwrite"
                          f"{f', {len(existing)} files in all' if len(existing) > 1 else ''})")
    lines = []
    for target, data in placed:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        except OSError as exc:
            raise ConfigError(f"{target}: cannot write: {exc.strerror or exc}") from None
        lines.append(f"wrote {display_path(target)}")
    ignored = _ignore_cache(directory)
    if ignored:
        lines.append(ignored)
    docs = display_path(directory / "docs" / "failure-modes.md")
    if owner:
        lines.append(f"owner of every failure mode in {docs}: {owner} (change it there if that is wrong)")
    else:
        lines.append(f"todo: {docs}: replace {PLACEHOLDER_OWNER} with a real owner (or run gate init --owner)")
    lines.append(f"next: gate check -c {display_path(directory / 'gate.yaml')}, then commit every file written")
    return lines
