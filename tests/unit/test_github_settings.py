"""The `comment:` section of gate.yaml: validated by `gate check`, read leniently by `gate comment`."""

from __future__ import annotations

from pathlib import Path

from gate.github.comment import CommentMode
from gate.github.settings import CommentSettings, load_settings
from tests.conftest import gate


def test_load_settings_reads_every_key(tmp_path: Path) -> None:
    config = tmp_path / "gate.yaml"
    config.write_text("version: 1\ncomment:\n  mode: delete-and-new\n  key: web-app\n  annotations: false\n"
                      "  summary: false\n")
    assert load_settings(config) == (CommentSettings(CommentMode.DELETE_AND_NEW, "web-app", False, False), None)


def test_load_settings_missing_file_or_section_is_the_default(tmp_path: Path) -> None:
    assert load_settings(tmp_path / "nope.yaml") == (CommentSettings(), None)
    (tmp_path / "gate.yaml").write_text("version: 1\n")
    assert load_settings(tmp_path / "gate.yaml") == (CommentSettings(), None)


def test_load_settings_broken_yaml_warns_with_line(tmp_path: Path) -> None:
    config = tmp_path / "gate.yaml"
    config.write_text("version: 1\ncomment: [\n")
    settings, problem = load_settings(config)
    assert settings == CommentSettings()
    assert problem is not None and "gate.yaml:3" in problem and "using the default comment settings" in problem


def test_gate_check_rejects_unknown_comment_mode_with_line_and_column(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\ncomment:\n  mode: sometimes\n")
    res = gate("check", "-c", tmp_path / "gate.yaml", cwd=tmp_path)
    assert res.exit_code == 2
    assert "gate.yaml:3:9: $.comment.mode:" in res.stderr and "'sometimes'" in res.stderr


def test_gate_check_rejects_bad_comment_key(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\ncomment:\n  key: 'has space'\n")
    res = gate("check", "-c", tmp_path / "gate.yaml", cwd=tmp_path)
    assert res.exit_code == 2 and "gate.yaml:3:8: $.comment.key:" in res.stderr
