"""`gate validate` validates, and a second run does it from the user's cache: no price data, no numpy, no
jsonschema, no HTTP client, no asyncio and no importlib.metadata are imported for a valid configuration."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLE, GitRepo, gate

HEAVY = ("genai_prices", "pydantic", "numpy", "jsonschema", "referencing", "urllib3", "asyncio", "importlib.metadata")
SCRIPT = f"""
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)), file=sys.stderr))
from gate.cli import main
main(["validate", "-c", sys.argv[1]])
"""


def validate(tmp_path: Path) -> tuple[int, str, list[str]]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(EXAMPLE / "gate.yaml")], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    loaded: list[str] = json.loads(proc.stderr.strip().splitlines()[-1])
    return proc.returncode, proc.stdout, loaded


def test_validate_second_run_imports_nothing_heavy(tmp_path: Path) -> None:
    code, out, loaded = validate(tmp_path)
    assert code == 0 and "verdict: PASS" in out, out
    assert {"genai_prices", "jsonschema"} <= set(loaded)  # the first run fills the cache
    assert "numpy" not in loaded  # validating projects no cost, even the first time
    again, out_again, loaded_again = validate(tmp_path)
    assert again == 0 and "verdict: PASS" in out_again, out_again
    assert loaded_again == []
    rows = [line.split()[:2] for line in out.splitlines() if line.startswith(("schema", "regression"))]
    assert rows == [line.split()[:2] for line in out_again.splitlines() if line.startswith(("schema", "regression"))]


def test_validate_bad_base_ref_reported_before_a_section_error(repo: GitRepo) -> None:
    # The base is looked up while the sections are checked; a --base-ref that names nothing still comes first.
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True)
    traffic = repo.path / "traffic.yaml"
    traffic.write_text(traffic.read_text().replace("requests_per_day: {p50: 40000, p95: 60000}",
                                                   "requests_per_day: {p50: 5, p95: 2}"))
    repo.commit()
    section = gate("validate", cwd=repo.path)
    assert section.exit_code == 2
    assert section.stderr.startswith("error: traffic.yaml:10:23: $.routes.answer.requests_per_day: p95 (2) is below")
    both = gate("validate", "--base-ref", "mian", cwd=repo.path)
    assert both.exit_code == 2
    assert both.stderr.startswith("error: --base-ref mian: no such commit, branch or tag in ")


ONLY = """
import atexit, json, sys
atexit.register(lambda: print(json.dumps(sorted(m for m in sys.modules if m.startswith("prodgate_checks."))),
                              file=sys.stderr))
from gate.cli import main
main(sys.argv[1:])
"""


def test_check_only_one_imports_no_other_builtin_check(tmp_path: Path) -> None:
    def run(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        proc = subprocess.run([sys.executable, "-c", ONLY, *args], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        return proc, {m.split(".")[1] for m in json.loads(proc.stderr.strip().splitlines()[-1])}

    proc, packages = run("check", "-c", str(EXAMPLE / "gate.yaml"), "--only", "schema")
    assert proc.returncode == 0 and "verdict: PASS" in proc.stdout, proc.stdout + proc.stderr
    assert packages == {"schema"}
    # A misspelt name is still told from the names of every check, imported or not.
    typo, _ = run("check", "-c", str(EXAMPLE / "gate.yaml"), "--only", "regresion")
    assert typo.returncode == 2
    assert "unknown check 'regresion' (known: cost, docs, load, regression, resilience, retrieval, schema)" in typo.stderr
