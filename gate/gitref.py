"""The base ref: which commit a change is compared against, and files as they are there."""

from __future__ import annotations

import contextlib
import os
import subprocess
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from gate.errors import ConfigError
from gate.files import FileError, resolved


def _git(cwd: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False,
        env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"},
    )


def _out(cwd: Path, *args: str) -> str | None:
    try:
        proc = _git(cwd, *args)
    except OSError:
        return None
    return proc.stdout.decode().strip() if proc.returncode == 0 else None


def git_output(cwd: Path, *args: str) -> str | None:
    """A git command's stdout, stripped; None when git is missing or the command failed."""
    return _out(cwd, *args)


def toplevel(path: Path) -> Path | None:
    """The root of the git work tree path is in, if any."""
    root = _out(path, "rev-parse", "--show-toplevel")
    return Path(root).resolve() if root else None


class BaseRef:
    """Reads files at the merge base of HEAD and the base branch, without checking anything out."""

    def __init__(self, repo_root: Path | None, ref: str | None, sha: str | None, head: str | None,
                 reason: str | None) -> None:
        self.repo_root = repo_root
        self.ref = ref
        self.sha = sha
        self.head = head
        # Why no comparison is possible, in words a reviewer understands.
        self.reason = reason
        self._tree: list[str] | None = None
        self._relpaths: dict[str, str | None] = {}
        self._blobs: dict[str, bytes | None] = {}
        self._reader: threading.Thread | None = None

    @property
    def available(self) -> bool:
        return self.sha is not None

    def relpath(self, path: Path) -> str | None:
        """path relative to the repository root, symlinks resolved; None outside it. Remembered per path:
        every finding and every base read asks again for the same few thousand files."""
        if self.repo_root is None:
            return None
        key = str(path)
        if key not in self._relpaths:
            try:
                self._relpaths[key] = resolved(path).relative_to(self.repo_root).as_posix()
            except ValueError:
                self._relpaths[key] = None
        return self._relpaths[key]

    def prefetch(self, relpaths: Iterable[str]) -> None:
        """Start reading these files, and the base's list of files, while the caller does other work (parsing
        the working copies): git runs beside the parser on a second core, and read_many then only waits."""
        wanted = list(relpaths)
        if not (self.sha and self.repo_root) or self._reader is not None:
            return

        def read() -> None:
            try:
                self._blobs.update(self._read(wanted))
                self._list()
            except Exception:  # noqa: BLE001 - read_many and files() read again, and say what failed
                return
        self._reader = threading.Thread(target=read, name="base-ref-prefetch", daemon=True)
        self._reader.start()

    def _wait(self) -> None:
        if self._reader is not None:
            self._reader.join()

    def files(self) -> list[str]:
        """Repository-relative paths of every file at the base commit."""
        self._wait()
        return self._list()

    def _list(self) -> list[str]:
        if self._tree is None:
            self._tree = []
            if self.sha and self.repo_root:
                proc = _git(self.repo_root, "ls-tree", "-r", "-z", "--name-only", self.sha)
                if proc.returncode == 0:
                    self._tree = [p for p in proc.stdout.decode("utf-8", "replace").split("\0") if p]
        return self._tree

    @contextlib.contextmanager
    def lines(self, relpath: str, max_bytes: int) -> Iterator[Iterator[bytes] | None]:
        """The file at the base commit as its lines (without their newline), read from git as they come: a file
        of hundreds of megabytes is never held whole. None where absent. More than max_bytes raises FileError."""
        if not (self.sha and self.repo_root) or _git(self.repo_root, "cat-file", "-e",
                                                     f"{self.sha}:{relpath}").returncode != 0:
            yield None
            return
        proc = subprocess.Popen(["git", "cat-file", "blob", f"{self.sha}:{relpath}"], cwd=self.repo_root,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                env={**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"})
        assert proc.stdout is not None

        def read(stream: IO[bytes]) -> Iterator[bytes]:
            total = 0
            while line := stream.readline(max_bytes + 1 - total):
                total += len(line)
                if total > max_bytes:
                    raise FileError(relpath, f"larger than {max_bytes // (1 << 20)} MiB at the base commit")
                yield line[:-1] if line.endswith(b"\n") else line
        try:
            yield read(proc.stdout)
        finally:
            proc.stdout.close()
            proc.kill()
            proc.wait()

    def read(self, relpath: str) -> bytes | None:
        """One file at the base commit, None where absent. Its bytes are git's output itself, not a slice of a
        batch: a baseline of 200,000 cases is not held twice."""
        self._wait()
        if relpath in self._blobs:
            return self._blobs[relpath]
        if not (self.sha and self.repo_root):
            return None
        proc = _git(self.repo_root, "cat-file", "blob", f"{self.sha}:{relpath}")
        return proc.stdout if proc.returncode == 0 else None

    def read_many(self, relpaths: Iterable[str]) -> Mapping[str, bytes | None]:
        """Contents at the base commit (None where absent), in one `git cat-file --batch`."""
        wanted = list(dict.fromkeys(relpaths))
        self._wait()
        known = {p: self._blobs[p] for p in wanted if p in self._blobs}
        return {**known, **self._read([p for p in wanted if p not in known])} if known else self._read(wanted)

    def _read(self, wanted: list[str]) -> dict[str, bytes | None]:
        out: dict[str, bytes | None] = {p: None for p in wanted}
        if not (self.sha and self.repo_root and wanted):
            return out
        request = "".join(f"{self.sha}:{p}\n" for p in wanted).encode()
        proc = _git(self.repo_root, "cat-file", "--batch", stdin=request)
        data, pos = proc.stdout, 0
        for path in wanted:
            end = data.find(b"\n", pos)
            if end < 0:
                break
            header = data[pos:end].split()
            pos = end + 1
            if len(header) == 3 and header[1] == b"blob":
                size = int(header[2])
                out[path] = data[pos: pos + size]
                pos += size + 1
            elif len(header) == 3:  # a tree or other object: skip its body
                pos += int(header[2]) + 1
        return out


def resolve_base(start: Path, explicit: str | None = None, env: Mapping[str, str] | None = None) -> BaseRef:
    """The merge base of HEAD with the base branch: --base-ref, else GITHUB_BASE_REF, else origin/HEAD or main."""
    env = os.environ if env is None else env
    root = toplevel(start)
    if root is None:
        return BaseRef(None, explicit, None, None, "not inside a git repository")
    head = _out(root, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    if explicit and _out(root, "rev-parse", "--verify", "--quiet", f"{explicit}^{{commit}}") is None:
        # Asked for by name: a typo must not quietly turn every comparison off.
        raise ConfigError(f"--base-ref {explicit}: no such commit, branch or tag in {root}")
    if head is None:
        return BaseRef(root, explicit, None, None, "the repository has no commit yet")
    if explicit:
        candidates = [explicit]
    elif env.get("GITHUB_BASE_REF"):
        candidates = [f"origin/{env['GITHUB_BASE_REF']}", env["GITHUB_BASE_REF"]]
    else:
        candidates = ["origin/HEAD", "main", "origin/main", "master"]
    for ref in candidates:
        target = _out(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if target is None:
            continue
        base = _out(root, "merge-base", head, target)
        if base is None:
            shallow = _out(root, "rev-parse", "--is-shallow-repository") == "true"
            hint = " (shallow clone: fetch full history, e.g. actions/checkout with fetch-depth: 0)" if shallow else ""
            return BaseRef(root, ref, None, head, f"no common ancestor of HEAD and {ref}{hint}")
        return BaseRef(root, ref, base, head, None)
    shallow = _out(root, "rev-parse", "--is-shallow-repository") == "true"
    names = " or ".join(candidates)
    hint = " (shallow clone: fetch with fetch-depth: 0)" if shallow else ""
    return BaseRef(root, candidates[0], None, head, f"base ref {names} not found{hint}")
