"""What the Action installs, planned from gate.yaml's text before prodgate exists: extras, lock, venv cache key."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gate.action_plan import PlanError, cache_key, lock_name, needed_extras, parse_extras
from gate.extras import Extra
from tests.conftest import EXAMPLE, REPO


def test_action_plan_needed_extras_follow_the_keys_gate_yaml_uses() -> None:
    assert needed_extras((EXAMPLE / "gate.yaml").read_text()) == (Extra.LOAD, Extra.RETRIEVAL)
    assert needed_extras("version: 1\nschema: {}\n") == ()
    assert needed_extras("version: 1\nretrieval: {target: {run: r.trec}}\n") == (Extra.RETRIEVAL,)
    metric = "regression:\n  suites:\n    - metrics:\n        - {name: c, deepeval: GEval}\n"
    assert needed_extras(metric) == (Extra.DEEPEVAL,)
    assert needed_extras('{"version": 1, "load": {}}') == (Extra.LOAD,)  # flow style, quoted
    # More than needed, never less: a key of that name anywhere, even commented out.
    assert needed_extras("version: 1\n# load: {}\n") == (Extra.LOAD,)
    assert needed_extras("version: 1\ndocs: {failure_modes: overload.md}\n") == ()


def test_action_plan_extras_input_names_auto_all_none_or_extras() -> None:
    assert parse_extras("auto", "load: {}\n") == (Extra.LOAD,)
    assert parse_extras("auto", None) == ()  # no gate.yaml: the gate itself says so, with exit 2
    assert parse_extras("all", None) == (Extra.LOAD, Extra.DEEPEVAL, Extra.RETRIEVAL)
    assert parse_extras(" none ", "load: {}\n") == ()
    assert parse_extras("deepeval, load", None) == (Extra.LOAD, Extra.DEEPEVAL)
    with pytest.raises(PlanError, match=r"^input extras: unknown lod \(known: auto, all, none, deepeval, load, retrieval\)$"):
        parse_extras("lod", None)


def test_action_plan_lock_names_exist_for_every_choice() -> None:
    import itertools

    choices = [combo for n in range(len(Extra) + 1) for combo in itertools.combinations(Extra, n)]
    names = {lock_name(combo) for combo in choices}
    assert len(names) == len(choices)  # one lock per combination: never an extra more than gate.yaml needs
    assert {"core", "load", "load-retrieval", "all"} <= names
    assert all((REPO / "requirements" / f"{n}.lock").is_file() for n in names)
    assert lock_name((Extra.RETRIEVAL, Extra.LOAD)) == "load-retrieval"


def _action_copy(root: Path) -> Path:
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(".*", "tests", "benchmarks", "examples", "*.egg-info",
                                                              "__pycache__"))
    return root


def test_action_plan_cache_key_changes_with_the_lock_source_and_venv_only(tmp_path: Path) -> None:
    action = _action_copy(tmp_path / "action")
    key = cache_key(action, "load", "/t/prodgate-venv")
    assert key.startswith("prodgate-venv-") and "-load-" in key
    assert cache_key(action, "load", "/t/prodgate-venv") == key
    (action / "README.md").write_text("not part of the install")
    assert cache_key(action, "load", "/t/prodgate-venv") == key
    assert cache_key(action, "load", "/other/prodgate-venv") != key
    assert cache_key(action, "core", "/t/prodgate-venv") != key
    (action / "checks" / "load" / "check.py").write_text((action / "checks" / "load" / "check.py").read_text() + "\n")
    changed = cache_key(action, "load", "/t/prodgate-venv")
    assert changed != key
    (action / "requirements" / "load.lock").write_text("")
    assert cache_key(action, "load", "/t/prodgate-venv") not in (key, changed)


def test_action_plan_runs_on_the_standard_library_alone(tmp_path: Path) -> None:
    """As the Action runs it: -I -S, the action folder appended to sys.path, gate.yaml read from the checkout."""
    (tmp_path / "gate.yaml").write_text("version: 1\nload: {}\n")
    code = ("import sys; sys.path.append(sys.argv[1]); from gate.action_plan import main; "
            "sys.exit(main(sys.argv[1:]))")
    args = [sys.executable, "-I", "-S", "-B", "-c", code, str(REPO)]
    proc = subprocess.run([*args, "auto", "/t/venv", str(tmp_path), ".", "gate.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split("=", 1) for line in proc.stdout.splitlines())
    assert lines["extras"] == "load" and lines["lock"] == str(REPO / "requirements" / "load.lock")
    assert lines["key"] == cache_key(REPO, "load", "/t/venv")
    absolute = subprocess.run([*args, "auto", "/t/venv", "/elsewhere", "sub", str(tmp_path / "gate.yaml")],
                              cwd=tmp_path, capture_output=True, text=True, check=False)
    assert "extras=load\n" in absolute.stdout  # an absolute config wins, as it does for the gate
    (tmp_path / "endless.yaml").symlink_to("/dev/zero")  # read up to a bound, not forever
    endless = subprocess.run([*args, "auto", "/t/venv", "/elsewhere", ".", str(tmp_path / "endless.yaml")], cwd=tmp_path,
                             capture_output=True, text=True, check=False, timeout=60)
    assert endless.returncode == 0 and "extras=\n" in endless.stdout
    bad = subprocess.run([*args, "loud", "/t/venv", str(tmp_path), ".", "gate.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, check=False)
    assert (bad.returncode, bad.stdout) == (2, "")
    assert bad.stderr == "::error title=prodgate::input extras: unknown loud (known: auto, all, none, deepeval, load, retrieval)\n"
