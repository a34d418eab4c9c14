"""`gate init`: writes a starting gate.yaml, prompt, dataset, failure-mode doc and workflow."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from gate.config import display_path
from gate.errors import ConfigError
from gate.gitref import toplevel

if TYPE_CHECKING:
    from importlib.abc import Traversable

# Packaged names -> where they go; dot-folders cannot be package data, so they are renamed here.
_RENAMES = {"github/workflows/gate.yml": ".github/workflows/gate.yml"}


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


def scaffold(directory: Path, *, force: bool = False) -> list[str]:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    placed = _placed(directory, _templates())
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
    lines.append(f"next: gate check -c {display_path(directory / 'gate.yaml')}")
    return lines
