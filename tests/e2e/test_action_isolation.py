"""A pull request cannot run its own code in the action's Pythons, nor turn a failing gate green.

Python puts the current folder first on sys.path; the action's steps run with the checkout under
review as their current folder. A checkout here holds modules named like those the steps import
(venv, pip, hashlib, json, gate itself); each writes a marker outside the checkout when imported,
and json.py also claims a pass. The steps run as the runner runs them (tests/e2e/test_action_runner.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, GitRepo
from tests.e2e.test_action_run import Workflow
from tests.e2e.test_action_runner import load_action, parse_outputs
from tests.servers.github_fake import serve

SHADOWS = ("venv/__init__.py", "venv/__main__.py", "pip/__init__.py", "pip/__main__.py", "hashlib.py", "json.py",
           "gate/__init__.py", "gate/__main__.py", "click/__init__.py", "yaml/__init__.py")


def plant_shadows(root: Path, markers: Path) -> None:
    """Every module a step might import, as a trap: importing it leaves a marker and fakes success."""
    for rel in SHADOWS:
        name = rel.replace("/", ".")
        code = (f"import os\nopen(os.path.join({str(markers)!r}, {name!r}), 'w').close()\n"
                "print('pass')\n"
                "out = os.environ.get('GITHUB_OUTPUT')\n"
                "if out:\n    open(out, 'a').write('verdict=pass\\nexit-code=0\\n')\n"
                "raise SystemExit(0)\n")
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(code, encoding="utf-8")


@pytest.fixture
def hostile(repo: GitRepo, tmp_path: Path) -> tuple[GitRepo, Path]:
    """The example on main; a pull request that plants the shadows and breaks the gate (an unversioned prompt edit)."""
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".gate", "__pycache__"))
    repo.commit("the support bot")
    repo.git("checkout", "-q", "-b", "changes")
    markers = tmp_path / "markers"
    markers.mkdir()
    plant_shadows(repo.path, markers)
    prompt = repo.path / "prompts" / "classify.prompt.yml"
    prompt.write_text(prompt.read_text().replace("temperature: 0\n", "temperature: 0.2\n"))
    repo.commit("shadows")
    return repo, markers


def standin_package(root: Path) -> Path:
    """A package with an in-tree build backend, so the real install step runs offline and fast."""
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n', encoding="utf-8")
    (root / "backend.py").write_text(
        "import zipfile\n"
        "NAME = 'standin-1.0.dist-info'\n"
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    name = 'standin-1.0-py3-none-any.whl'\n"
        "    with zipfile.ZipFile(wheel_directory + '/' + name, 'w') as whl:\n"
        "        whl.writestr('standin.py', 'ANSWER = 42\\n')\n"
        "        whl.writestr(NAME + '/METADATA', 'Metadata-Version: 2.1\\nName: standin\\nVersion: 1.0\\n')\n"
        "        whl.writestr(NAME + '/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\n"
        "Tag: py3-none-any\\n')\n"
        "        whl.writestr(NAME + '/RECORD', '')\n"
        "    return name\n", encoding="utf-8")
    return root


def test_action_install_step_with_shadow_modules_in_the_checkout_imports_none(
        hostile: tuple[GitRepo, Path], tmp_path: Path) -> None:
    repo, markers = hostile
    step = next(s for s in load_action()["runs"]["steps"] if s.get("id") == "install")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    output = temp / "output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "RUNNER_TEMP": str(temp), "GITHUB_OUTPUT": str(output),
           "PYTHON": sys.executable, "ACTION_PATH": str(standin_package(tmp_path / "action")), "PIP_NO_INDEX": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                          cwd=repo.path, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in markers.iterdir()) == []
    python = parse_outputs(output.read_text())["python"]
    assert Path(python).parent.parent == temp / "prodgate-venv"
    # The venv is real and holds what was installed from the action's folder.
    probe = subprocess.run([python, "-I", "-c", "import standin; print(standin.ANSWER)"], cwd=repo.path,
                           capture_output=True, text=True, check=False)
    assert probe.stdout.strip() == "42", probe.stderr


def test_action_shadow_modules_in_the_checkout_never_run_and_a_failing_gate_still_fails(
        hostile: tuple[GitRepo, Path], tmp_path: Path) -> None:
    repo, markers = hostile
    with serve() as fake:
        fake.open_pull(2)
        run = Workflow(repo, tmp_path, fake).run(checks="schema", cache="true")
    check = run.step("check")
    assert sorted(p.name for p in markers.iterdir()) == [], check.stdout
    assert check.outputs["exit-code"] == "1", check.stdout + check.stderr
    assert check.outputs["verdict"] == "fail"
    assert run.failed and run.outputs["verdict"] == "fail"
    assert "::error title=prodgate::verdict fail (fail-on: fail)" in run.step("Apply fail-on").stdout
    report = json.loads(Path(run.outputs["report-path"]).read_text())
    assert report["verdict"] == "fail"
    assert "## ❌ prodgate: **fail**" in fake.ours(2)[0]["body"]
    # The cache key came from the runner's hashFiles(), not from a Python in the checkout.
    assert run.step("restore").with_["key"].startswith("prodgate-Linux-")
    assert len(run.step("restore").with_["key"].split("-")[2]) == 20
