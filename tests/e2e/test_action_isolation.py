"""A pull request cannot run its own code in the action's Pythons, nor turn a failing gate green.

Python puts the current folder first on sys.path; the action's steps run with the checkout under
review as their current folder. A checkout here holds modules named like those the steps import
(venv, pip, hashlib, json, gate itself); each writes a marker outside the checkout when imported,
and json.py also claims a pass. The steps run as the runner runs them (tests/e2e/test_action_runner.py).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile
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


def wheel(folder: Path, name: str, files: dict[str, bytes]) -> str:
    """A wheel of `files` and a requirement line naming it by file URL with its hash, as the locks do."""
    path = folder / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    with zipfile.ZipFile(path, "w") as whl:  # stored: the uv binary is large
        for rel, data in {**files, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
                          f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                           b"Tag: py3-none-any\n", f"{info}/RECORD": b""}.items():
            entry = zipfile.ZipInfo(rel)
            entry.external_attr = (0o100000 | 0o755) << 16  # a regular file, executable: pip keeps the mode
            whl.writestr(entry, data)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return f"{name} @ {path.as_uri()} --hash=sha256:{digest}\n"


def standin_action(root: Path) -> Path:
    """An action folder whose install runs offline and fast, through the real steps: its tools.lock holds the
    real uv (this environment's binary, wheeled), its lock a stand-in dependency, and the package an in-tree
    build backend."""
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = []\nbuild-backend = "backend"\nbackend-path = ["."]\n', encoding="utf-8")
    (root / "backend.py").write_text(
        "import zipfile\n"
        "NAME = 'standin-1.0.dist-info'\n"
        "def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):\n"
        "    name = 'standin-1.0-py3-none-any.whl'\n"
        "    with zipfile.ZipFile(wheel_directory + '/' + name, 'w') as whl:\n"
        "        whl.writestr('standin.py', 'from standin_dep import ANSWER\\n')\n"
        "        whl.writestr(NAME + '/METADATA', 'Metadata-Version: 2.1\\nName: standin\\nVersion: 1.0\\n')\n"
        "        whl.writestr(NAME + '/WHEEL', 'Wheel-Version: 1.0\\nGenerator: test\\nRoot-Is-Purelib: true\\n"
        "Tag: py3-none-any\\n')\n"
        "        whl.writestr(NAME + '/RECORD', '')\n"
        "    return name\n", encoding="utf-8")
    # The probe a restored venv must pass: `import gate.cli`.
    (root / "gate").mkdir()
    uv = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert uv, "uv is a test dependency: pip install -e '.[test]'"
    wheels = root / "wheels"
    wheels.mkdir()
    locks = root / "requirements"
    locks.mkdir()
    (locks / "tools.lock").write_text(wheel(wheels, "uv", {"uv-1.0.data/scripts/uv": Path(uv).read_bytes()}))
    (locks / "core.lock").write_text(wheel(wheels, "standin_dep", {
        "standin_dep.py": b"ANSWER = 42\n", "gate/__init__.py": b"", "gate/cli.py": b"",
    }))
    return root


def run_install(checkout: Path, temp: Path, action: Path) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    step = next(s for s in load_action()["runs"]["steps"] if s.get("id") == "install")
    temp.mkdir(exist_ok=True)
    output = temp / "output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(temp), "RUNNER_TEMP": str(temp), "GITHUB_OUTPUT": str(output),
           "PYTHON": sys.executable, "ACTION_PATH": str(action), "VENV": str(temp / "prodgate-venv"),
           "LOCK": str(action / "requirements" / "core.lock"), "PIP_NO_INDEX": "1", "UV_OFFLINE": "1",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], env=env,
                          cwd=checkout, capture_output=True, text=True, timeout=300, check=False)
    return proc, parse_outputs(output.read_text())


def test_action_install_step_with_shadow_modules_in_the_checkout_imports_none(
        hostile: tuple[GitRepo, Path], tmp_path: Path) -> None:
    repo, markers = hostile
    temp = tmp_path / "runner-temp"
    proc, outputs = run_install(repo.path, temp, standin_action(tmp_path / "action"))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(p.name for p in markers.iterdir()) == []
    assert outputs["fresh"] == "true"
    python = outputs["python"]
    assert Path(python).parent.parent == temp / "prodgate-venv"
    # The venv is real and holds what was installed: the locked dependency and the action's own package.
    probe = subprocess.run([python, "-I", "-c", "import standin; print(standin.ANSWER)"], cwd=repo.path,
                           capture_output=True, text=True, check=False)
    assert probe.stdout.strip() == "42", probe.stderr
    # Neither the tools nor uv's cache stay behind to be saved with the venv.
    assert sorted(p.name for p in temp.iterdir()) == ["output", "prodgate-venv"]


def test_action_install_step_reuses_a_restored_venv_and_rebuilds_a_broken_one(tmp_path: Path) -> None:
    action = standin_action(tmp_path / "action")
    temp = tmp_path / "runner-temp"
    first, _ = run_install(tmp_path, temp, action)
    assert first.returncode == 0, first.stderr
    marker = temp / "prodgate-venv" / "restored"
    marker.write_text("")
    again, outputs = run_install(tmp_path, temp, action)
    assert again.returncode == 0, again.stderr
    assert outputs["fresh"] == "false" and marker.exists()
    (temp / "prodgate-venv" / "bin" / "python").unlink()  # e.g. restored on a runner with another interpreter
    rebuilt, outputs = run_install(tmp_path, temp, action)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert outputs["fresh"] == "true" and not marker.exists()


def test_action_install_step_refuses_a_lock_entry_whose_hash_differs(tmp_path: Path) -> None:
    action = standin_action(tmp_path / "action")
    lock = action / "requirements" / "core.lock"
    lock.write_text(re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, lock.read_text()))
    proc, outputs = run_install(tmp_path, tmp_path / "runner-temp", action)
    assert proc.returncode != 0
    assert "hash" in proc.stderr.lower() and "python" not in outputs


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
    # The venv's key: planned by a Python that read gate.yaml as text (it has a load section), outside the checkout.
    assert run.step("restore-venv").with_["key"].startswith("prodgate-venv-Linux-load-retrieval-")
    assert run.step("restore-venv").with_["path"] == str(tmp_path / "runner-temp" / "prodgate-venv")
