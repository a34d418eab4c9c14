"""Plans the Action's install before prodgate exists: the extras gate.yaml needs, their lock, the venv's cache key.

Runs on the standard library alone (`python -I -S -B`, the action's folder appended to sys.path). gate.yaml
belongs to the checkout under review: it is read as text, never parsed by a loader that could run anything."""

from __future__ import annotations

import hashlib
import os
import platform
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from gate.extras import Extra

# What the installed prodgate is made of: a change to any of them is another venv.
_SOURCES = ("pyproject.toml", "gate", "checks", "schemas")
# Any key of that name, at any depth, even in a comment: one extra too many costs seconds, one too few fails
# the run (exit 2, naming the extra). A top-level `load:` and a metric's `deepeval:` are what the checks need.
MAX_CONFIG_BYTES = 4 << 20
_KEYS = {extra: re.compile(rf"""\b["']?{extra.value}["']?\s*:""") for extra in Extra}


class PlanError(Exception):
    """A bad `extras:` input: the Action's step fails with this message."""


def needed_extras(text: str) -> tuple[Extra, ...]:
    return tuple(extra for extra in Extra if _KEYS[extra].search(text))


def parse_extras(value: str, config_text: str | None) -> tuple[Extra, ...]:
    """The `extras:` input: auto (from gate.yaml; none when it cannot be read: gate then says what is wrong),
    all, none, or names such as `load,deepeval`."""
    value = value.strip().lower()
    if value == "auto":
        return needed_extras(config_text or "")
    if value == "all":
        return tuple(Extra)
    names = {n.strip() for n in value.split(",") if n.strip()} - {"none"}
    known = {e.value for e in Extra}
    unknown = sorted(names - known)
    if unknown:
        raise PlanError(f"input extras: unknown {', '.join(unknown)} (known: auto, all, none, {', '.join(sorted(known))})")
    return tuple(e for e in Extra if e.value in names)


def lock_name(extras: Sequence[Extra]) -> str:
    """requirements/<name>.lock: core, the extras' names joined by `-` (load-retrieval), or all of them. One lock
    for each combination: a gate.yaml that needs two extras never installs the third (deepeval alone is
    hundreds of megabytes)."""
    wanted = [e.value for e in Extra if e in extras]
    if not wanted:
        return "core"
    return "all" if len(wanted) == len(Extra) else "-".join(wanted)


def _files(root: Path) -> Iterable[Path]:
    for name in _SOURCES:
        top = root / name
        if top.is_file():
            yield top
            continue
        for path in sorted(top.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                yield path


def cache_key(action: Path, lock: str, venv: str) -> str:
    """Exact, never partial: the interpreter (a venv is tied to it and to its own path), the lock, and prodgate's
    own source, so that a restored venv is byte for byte what this install would make."""
    digest = hashlib.sha256()
    for part in (sys.version, os.path.realpath(sys.executable), platform.machine(), venv, lock):
        digest.update(part.encode() + b"\0")
    for path in [action / "requirements" / f"{lock}.lock", action / "requirements" / "tools.lock", *_files(action)]:
        digest.update(path.relative_to(action).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return f"prodgate-venv-{platform.system()}-{lock}-{digest.hexdigest()[:32]}"


def _read(path: Path) -> str | None:
    # Bounded: gate.yaml may be a link to /dev/zero; the gate's own reader says what is wrong with it.
    try:
        with path.open("rb") as f:
            return f.read(MAX_CONFIG_BYTES).decode("utf-8", errors="replace")
    except OSError:
        return None


def main(argv: list[str]) -> int:
    """ACTION_PATH EXTRAS VENV WORKSPACE WORKING_DIRECTORY CONFIG -> `name=value` lines for $GITHUB_OUTPUT.

    gate.yaml's path is the last three joined as paths are: a later absolute part wins, as it does for the gate."""
    action, extras_input, venv, *config = argv
    try:
        extras = parse_extras(extras_input, _read(Path(*config)))
    except PlanError as exc:
        print(f"::error title=prodgate::{exc}", file=sys.stderr)
        return 2
    lock = lock_name(extras)
    print(f"extras={','.join(e.value for e in extras)}")
    print(f"lock={Path(action, 'requirements', lock + '.lock')}")
    print(f"key={cache_key(Path(action), lock, venv)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
