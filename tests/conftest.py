"""Shared fixtures: real git repositories in tmp_path and the real CLI, in-process and as a subprocess."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from gate.cli import cli

REPO = Path(__file__).resolve().parent.parent
# The terminal report wraps to COLUMNS when it is set; tests that want a width set it themselves. A worker of
# a parallel run (COLUMNS=80) or a developer's shell must not change what the others read.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)
EXAMPLE = REPO / "examples" / "support-bot"


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@functools.cache
def _report_validator() -> Any:
    import jsonschema

    schema = json.loads((REPO / "schemas" / "report.schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def assert_valid_report(text: str, where: str) -> None:
    """A report (stdout of --format json, or a --report-json file) holds to schemas/report.schema.json."""
    try:
        data = json.loads(text)
    except ValueError:
        return  # not a JSON report (a table, a breakdown): nothing to hold to the schema
    if not (isinstance(data, dict) and {"schema_version", "tool", "checks"} <= data.keys()):
        return
    errors = sorted(_report_validator().iter_errors(data), key=lambda e: list(map(str, e.absolute_path)))
    assert not errors, f"{where}: the report breaks report.schema.json: " + "; ".join(
        f"$.{'.'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in errors[:5])


def _validate_run(args: tuple[str | Path, ...], cwd: Path | None, stdout: str) -> None:
    """Every report a CLI run in a test prints or writes is held to the project's own schema."""
    assert_valid_report(stdout, "stdout")
    words = [str(a) for a in args]
    for flag, value in zip(words, words[1:], strict=False):
        if flag == "--report-json":
            path = Path(value) if Path(value).is_absolute() or cwd is None else cwd / value
            if path.is_file():
                assert_valid_report(path.read_text(encoding="utf-8"), str(path))


def gate(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """The CLI in-process, through click's runner."""
    runner = CliRunner()
    old = os.getcwd()
    try:
        if cwd:
            os.chdir(cwd)
        res = runner.invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
    finally:
        os.chdir(old)
    _validate_run(args, cwd, res.stdout)
    return Result(res.exit_code, res.stdout, res.stderr)


def gate_subprocess(*args: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None,
                    timeout: float = 120) -> Result:
    """The CLI as a real process, exactly as a user or CI runs it."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run([sys.executable, "-m", "gate", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout, check=False)
    _validate_run(args, cwd, proc.stdout)
    return Result(proc.returncode, proc.stdout, proc.stderr)


class GitRepo:
    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        proc = subprocess.run(["git", *args], cwd=self.path, capture_output=True, text=True, check=True,
                              env={**os.environ, "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
                                   "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z"})
        return proc.stdout.strip()

    def write(self, rel: str, text: str) -> Path:
        path = self.path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    def commit(self, message: str = "change") -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD")


def example_repo(repo: GitRepo) -> Path:
    """The support-bot example (its cassettes and baselines) committed on main in `repo` as bot/, with a branch
    `change` checked out for the change under test."""
    import shutil

    shutil.copytree(EXAMPLE, repo.path / "bot", ignore=shutil.ignore_patterns("cache", "__pycache__"))
    repo.commit("the support bot, with its baselines")
    repo.git("checkout", "-q", "-b", "change")
    return repo.path / "bot"


def edit(path: Path, old: str, new: str) -> None:
    """Replace every `old` in the file with `new`; `old` must be there (a test that edits nothing proves nothing)."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def alive(pid: int) -> bool:
    """True while pid runs; a zombie (dead, not yet reaped by whoever adopted it) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.fixture
def repo(tmp_path: Path) -> Iterator[GitRepo]:
    """An empty git repository on branch main, with an identity, in tmp_path/repo."""
    path = tmp_path / "repo"
    path.mkdir()
    r = GitRepo(path)
    r.git("init", "-q", "-b", "main")
    r.git("config", "user.email", "dev@example.com")
    r.git("config", "user.name", "Dev")
    r.git("config", "commit.gpgsign", "false")
    yield r


@pytest.fixture(autouse=True)
def _user_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate's user cache (prices, schema verdicts) in the session's temporary folder, never the real home."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "user-cache"))


@pytest.fixture(autouse=True)
def _clean_ci_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests must not see the CI's own GitHub variables unless they set them."""
    for key in list(os.environ):
        if key.startswith("GITHUB_") or key in ("CI", "RUNNER_TEMP"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture(autouse=True)
def _reports_hold_to_the_schema(request: pytest.FixtureRequest) -> Iterator[None]:
    """After each test, every gate-report.json it left under its tmp_path (e.g. written by the Action's script or a
    subprocess the helpers above do not see) is held to report.schema.json too."""
    root = request.getfixturevalue("tmp_path") if "tmp_path" in request.fixturenames else None
    yield
    if root is None or request.node.get_closest_marker("forged_report"):
        return  # a test that writes an off-schema report on purpose (to prove it is refused) says so
    for path in sorted(Path(root).rglob("gate-report*.json")):
        if path.is_file():
            assert_valid_report(path.read_text(encoding="utf-8", errors="replace"), str(path))
