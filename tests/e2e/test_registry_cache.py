"""Entry points and package versions read once and kept in the user's cache with the state of every folder on sys.path: a later
process lists checks and verbs without importlib.metadata, and still sees a plugin installed or removed since."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest

from gate.registry import load_target

SCRIPT = """
import json, sys
from gate.installed import version
from gate.registry import GROUP, command_entries, entry_points
print(json.dumps({"checks": sorted(n for n, _ in entry_points(GROUP)), "verbs": sorted(command_entries()),
                  "version": version("genai-prices"), "metadata": "importlib.metadata" in sys.modules}))
"""


def listing(tmp_path: Path, site: Path) -> dict[str, object]:
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, check=True,
                          timeout=120)
    result: dict[str, object] = json.loads(proc.stdout)
    return result


def install(site: Path) -> Path:
    dist = site / "demo_checks-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-checks\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[prodgate.checks]\nprobe = demo_checks:Probe\n"
                                           "[prodgate.commands]\nhello = demo_checks:hello\n")
    return dist


def test_registry_second_process_lists_without_importlib_metadata(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    first, second = listing(tmp_path, site), listing(tmp_path, site)
    assert first["metadata"] is True and second["metadata"] is False
    assert first["checks"] == second["checks"] and "cost" in second["checks"]  # type: ignore[operator]
    assert first["verbs"] == second["verbs"] and "merge" in second["verbs"]  # type: ignore[operator]
    assert first["version"] == second["version"] == version("genai-prices")


def test_registry_plugin_installed_or_removed_after_the_scan_is_seen(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    before = listing(tmp_path, site)
    assert "probe" not in before["checks"]  # type: ignore[operator]
    dist = install(site)
    installed = listing(tmp_path, site)
    assert "probe" in installed["checks"] and "hello" in installed["verbs"]  # type: ignore[operator]
    assert installed["metadata"] is True  # the folder changed: scanned again
    shutil.rmtree(dist)
    removed = listing(tmp_path, site)
    assert "probe" not in removed["checks"] and "hello" not in removed["verbs"]  # type: ignore[operator]


@pytest.mark.parametrize("text", ["{", '{"records": [{"key": 1}, 5]}', '{"records": {}}', "[]"])
def test_registry_corrupt_cache_is_scanned_again(tmp_path: Path, text: str) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install(site)
    listing(tmp_path, site)
    (tmp_path / "cache" / "prodgate" / "installed.json").write_text(text)
    again = listing(tmp_path, site)
    assert again["metadata"] is True and "probe" in again["checks"]  # type: ignore[operator]


def test_registry_planted_entry_of_the_wrong_shape_is_not_loaded(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    listing(tmp_path, site)
    path = tmp_path / "cache" / "prodgate" / "installed.json"
    data = json.loads(path.read_text())
    data["records"][0]["entry_points"]["prodgate.checks"].append(["planted", 7])
    path.write_text(json.dumps(data))
    again = listing(tmp_path, site)
    assert again["metadata"] is True and "planted" not in again["checks"]  # type: ignore[operator]


def test_registry_load_target_reads_module_attribute_and_extras() -> None:
    assert load_target("json:dumps") is json.dumps
    assert load_target("os.path : join [extra]") is os.path.join
    assert load_target("json.decoder:JSONDecoder.decode") is json.decoder.JSONDecoder.decode
    assert load_target("json") is json
    with pytest.raises(ValueError, match="is not module:attribute"):
        load_target("not a target!")


def test_registry_two_interpreter_paths_each_keep_their_record(tmp_path: Path) -> None:
    one, other = tmp_path / "one", tmp_path / "other"
    one.mkdir()
    other.mkdir()
    install(other)
    listing(tmp_path, one)
    listing(tmp_path, other)
    again_one, again_other = listing(tmp_path, one), listing(tmp_path, other)
    assert again_one["metadata"] is False and again_other["metadata"] is False
    assert "probe" not in again_one["checks"] and "probe" in again_other["checks"]  # type: ignore[operator]
