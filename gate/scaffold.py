"""`gate init`: writes a starting gate.yaml, prompt, dataset, failure-mode doc and workflow."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from gate.errors import ConfigError

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


def scaffold(directory: Path, *, force: bool = False) -> list[str]:
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory}: not a directory")
    templates = _templates()
    existing = [rel for rel, _ in templates if (directory / rel).exists()]
    if existing and not force:
        raise ConfigError(f"{directory / existing[0]}: already exists (use --force to overwrite"
                          f"{f', {len(existing)} files in all' if len(existing) > 1 else ''})")
    lines = []
    for rel, data in templates:
        target = directory / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        lines.append(f"wrote {target}")
    lines.append(f"next: gate check -c {directory / 'gate.yaml'}")
    return lines
