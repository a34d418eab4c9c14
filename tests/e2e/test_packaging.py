"""The built wheel carries the schemas and templates, an installed copy finds them, and the core install
(no extras) runs every check but load and deepeval's metrics, and says which extra those need."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from importlib.metadata import distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import EXAMPLE, REPO


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(REPO)], check=True, capture_output=True,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    (built,) = dist.glob("prodgate-*.whl")
    return built


def _closure(requirements: list[str]) -> set[str]:
    """The distributions `pip install` of these requirements installs, with no extra of prodgate's own,
    as this environment has them (markers evaluated here; a requirement's extras followed)."""
    seen: set[tuple[str, str]] = set()
    todo = [(r, "") for r in requirements]
    while todo:
        text, extra = todo.pop()
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": extra}):
            continue
        name = canonicalize_name(req.name)
        for wanted in ("", *sorted(req.extras)):
            if (name, wanted) not in seen:
                seen.add((name, wanted))
                todo += [(r, wanted) for r in distribution(name).requires or ()]
    return {name for name, _ in seen}


@pytest.fixture(scope="module")
def core_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding the wheel and exactly its core dependencies, linked from this environment
    (offline, in a second): what `pip install prodgate` gives, with no locust and no deepeval."""
    venv = tmp_path_factory.mktemp("core") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    (site,) = (venv / "lib").glob("python*/site-packages")
    zipfile.ZipFile(wheel).extractall(site)
    (meta,) = site.glob("prodgate-*.dist-info/METADATA")
    requires = Parser().parsestr(meta.read_text()).get_all("Requires-Dist") or []
    for name in sorted(_closure(requires)):
        dist = distribution(name)
        for file in dist.files or ():
            if file.parts[0] == ".." or (site / file).exists():  # scripts, and files two dists share
                continue
            (site / file).parent.mkdir(parents=True, exist_ok=True)
            (site / file).symlink_to(Path(str(dist.locate_file(file))).resolve())
    return venv / "bin" / "python"


def _core_gate(python: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-I", "-m", "gate", *map(str, args)], cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def test_packaging_core_install_has_no_extra(core_python: Path, tmp_path: Path) -> None:
    probe = ("import importlib.util as u; "
             "print([m for m in ('locust', 'deepeval', 'gevent', 'ir_measures', 'gate') if u.find_spec(m)])")
    proc = subprocess.run([str(core_python), "-I", "-c", probe], cwd=tmp_path, capture_output=True, text=True,
                          check=True)
    assert proc.stdout.strip() == "['gate']"


def test_packaging_core_install_load_section_is_exit_2_naming_the_extra(core_python: Path, tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\n\nload:\n  target: {url: 'http://127.0.0.1:9'}\n")
    res = _core_gate(core_python, "validate", cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    assert res.stdout == ""
    assert res.stderr == ("error: gate.yaml:3:1: $.load needs locust, which is not installed: "
                          "run pip install 'prodgate[load]'\n")
    check = _core_gate(core_python, "check", cwd=tmp_path)
    assert (check.returncode, check.stderr) == (2, res.stderr)
    skipped = _core_gate(core_python, "check", "--skip", "load", "--format", "json", cwd=tmp_path)
    assert skipped.returncode == 0, skipped.stderr
    assert "load" not in [c["name"] for c in json.loads(skipped.stdout)["checks"]]


def test_packaging_core_install_deepeval_metric_is_exit_2_at_its_line(core_python: Path, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "ex", ignore=shutil.ignore_patterns(".gate"))
    text = (tmp_path / "ex" / "gate.yaml").read_text()
    anchor = "      metrics:\n        - name: no secrets\n"
    assert anchor in text
    text = text.replace(anchor, "      metrics:\n        - name: correct\n          deepeval: GEval\n"
                                "          params: {criteria: right}\n" + anchor.split("\n", 1)[1], 1)
    (tmp_path / "ex" / "gate.yaml").write_text(text)
    line = text.splitlines().index("          deepeval: GEval") + 1
    res = _core_gate(core_python, "validate", cwd=tmp_path / "ex")
    assert res.returncode == 2, res.stderr
    assert res.stderr == (f"error: gate.yaml:{line}:11: $.regression.suites[2].metrics[0].deepeval needs deepeval, "
                          "which is not installed: run pip install 'prodgate[deepeval]'\n")


def test_packaging_core_install_runs_the_example_but_load_and_retrieval(core_python: Path, tmp_path: Path) -> None:
    shutil.copytree(EXAMPLE, tmp_path / "ex", ignore=shutil.ignore_patterns(".gate"))
    help_ = _core_gate(core_python, "--help", cwd=tmp_path)
    assert help_.returncode == 0 and "  merge " in help_.stdout
    res = _core_gate(core_python, "check", "--skip", "load", "--skip", "retrieval", "--format", "json",
                     cwd=tmp_path / "ex")
    assert res.returncode == 0, res.stderr
    statuses = {c["name"]: c["status"] for c in json.loads(res.stdout)["checks"]}
    assert set(statuses) == {"schema", "regression", "cost", "docs", "resilience"}  # aiohttp is core
    assert set(statuses.values()) <= {"pass", "warn"}, statuses


def test_packaging_wheel_ships_schemas_and_finds_installed_copy(wheel: Path, tmp_path: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (REPO / "schemas").glob("*.schema.json")}
    assert {f"gate/_schemas/{n}" for n in shipped} <= names
    assert "gate/templates/init/gate.yaml" in names
    assert "gate/templates/init/github/workflows/gate.yml" in names
    assert any(n.startswith("prodgate_checks/schema/check.py") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "prodgate_checks.schema.check:SchemaCheck" in zipfile.ZipFile(wheel).read(entry_points).decode()

    # Run the unpacked wheel from a folder with no source tree nearby: it must use its own schemas.
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import gate.schemas as s, json, sys; print(s._schema_dir()); "
            "print(json.dumps(s.load_schema('gate')['title']))")
    proc = subprocess.run([sys.executable, "-I", "-c", f"import sys; sys.path.insert(0, {str(site)!r}); {code}"],
                          cwd=tmp_path, capture_output=True, text=True, check=True)
    where, title = proc.stdout.splitlines()
    assert Path(where) == site / "gate" / "_schemas"
    assert json.loads(title) == json.loads((REPO / "schemas" / "gate.schema.json").read_text())["title"]


def _pins(lock: Path) -> dict[str, set[str]]:
    pins: dict[str, set[str]] = {}
    for line in lock.read_text().splitlines():
        if line[:1].isalnum():
            name, _, version = line.split(" ;")[0].split(" ")[0].partition("==")
            pins.setdefault(canonicalize_name(name), set()).add(version)
    return pins


def test_packaging_locks_hold_each_requirement_of_their_extra_with_hashes() -> None:
    """An offline guard; `requirements/compile --check` (in .ci/run) compares them with a fresh resolution."""
    import itertools

    import tomllib

    from gate.action_plan import lock_name
    from gate.extras import Extra

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    core = {canonicalize_name(Requirement(r).name) for r in project["dependencies"]}
    extras = {name: {canonicalize_name(Requirement(r).name) for r in reqs}
              for name, reqs in project["optional-dependencies"].items() if name in ("load", "deepeval", "retrieval")}
    wanted = {lock_name(combo): core.union(*(extras[e.value] for e in combo))
              for n in range(len(Extra) + 1) for combo in itertools.combinations(Extra, n)}
    for name, needs in wanted.items():
        lock = REPO / "requirements" / f"{name}.lock"
        pins = _pins(lock)
        assert needs <= set(pins), (name, sorted(needs - set(pins)))
        assert not ({"locust", "deepeval", "ir-measures"} - needs) & set(pins), name  # no extra it does not name
        lines = lock.read_text().splitlines()
        hashed = [lines[i + 1].strip().startswith("--hash=sha256:") for i, line in enumerate(lines) if line[:1].isalnum()]
        assert hashed and all(hashed), name
    tools = _pins(REPO / "requirements" / "tools.lock")
    test_uv = next(r for r in project["optional-dependencies"]["test"] if Requirement(r).name == "uv")
    assert tools["uv"] == {str(Requirement(test_uv).specifier).removeprefix("==")}
