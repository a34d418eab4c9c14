"""Odd and hostile files under review end the gate with a verdict and a finding at their line: no crash, no hang."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE, gate


def _check(report: dict[str, Any], name: str) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == name)


def example(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    return root


@pytest.mark.parametrize(("href", "reason"), [
    ("runbook%00.md", "a file name cannot hold a NUL byte"),
    ("x" * 300 + ".md", "File name too long"),
])
def test_docs_unusable_link_is_a_broken_link_finding_at_its_line(tmp_path: Path, href: str, reason: str) -> None:
    root = example(tmp_path)
    doc = root / "docs" / "failure-modes.md"
    doc.write_text(doc.read_text() + f"\nSee [the runbook]({href}).\n")
    line = len(doc.read_text().splitlines())
    res = gate("docs", "--format", "json", cwd=root)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _check(res.json(), "docs")
    assert check["status"] == "fail"
    [finding] = [f for f in check["findings"] if f["message"].startswith("link ")]
    assert (finding["file"], finding["line"]) == ("docs/failure-modes.md", line)
    assert finding["message"].endswith(f"does not resolve: {reason}")
