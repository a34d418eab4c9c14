"""The built wheel carries the schemas and templates, and an installed copy finds them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO


def test_packaging_wheel_ships_schemas_and_finds_installed_copy(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist),
                    str(REPO)], check=True, capture_output=True,
                   env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"})
    (wheel,) = dist.glob("prodgate-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = {p.name for p in (REPO / "schemas").glob("*.schema.json")}
    assert {f"gate/_schemas/{n}" for n in shipped} <= names
    assert "gate/templates/init/gate.yaml" in names
    assert "gate/templates/init/github/workflows/gate.yml" in names
    assert any(n.startswith("prodgate_checks/schema.py") for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    assert "prodgate_checks.schema:SchemaCheck" in zipfile.ZipFile(wheel).read(entry_points).decode()

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
