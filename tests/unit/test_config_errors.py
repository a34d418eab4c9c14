"""The bad-input corpus for gate.yaml: each is exit 2 with one line naming file:line:col and the problem."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.conftest import gate

PROMPT = """name: p
version: 1.0.0
model: openai/gpt-4o-mini
messages:
  - role: user
    content: hi
"""

# (id, gate.yaml text, expected "file:line:col" suffix or line prefix, a phrase of the message)
CORPUS = [
    ("typo-top-level", "version: 1\nschem:\n  strict: true\n", ":2:1:", "did you mean 'schema'"),
    ("typo-nested", "version: 1\nschema:\n  strickt: true\n", ":3:3:", "did you mean 'strict'"),
    ("wrong-type", "version: 1\nschema:\n  strict: yes please\n", ":3:11:", "is not of type 'boolean'"),
    ("missing-version", "schema: {strict: true}\n", ":1:1:", "'version' is required"),
    ("bad-version", "version: 2\n", ":1:10:", "$.version"),
    ("prompts-not-list", "version: 1\nprompts: {a: 1}\n", ":2:10:", "$.prompts"),
    ("prompts-empty-string", "version: 1\nprompts: ['']\n", ":2:11:", "$.prompts[0]"),
    ("glob-matches-nothing", "version: 1\nprompts: ['nothing/*.prompt.yml']\n", ":2:11:", "matches no file"),
    ("second-glob-nothing", "version: 1\nprompts:\n  - 'p/*.prompt.yml'\n  - 'q/*.yml'\n", ":4:5:", "matches no file"),
    ("bad-glob", "version: 1\nprompts: ['p/a**b']\n", ":2:11:", "not a usable glob"),
    ("nul-in-path", "version: 1\nmodels: \"a\\0b\"\n", ":2:9:", "not a usable path"),
    ("absolute-glob", "version: 1\nprompts: ['/etc/*.conf']\n", ":2:11:", "relative"),
    ("missing-models", "version: 1\nmodels: nope.yaml\n", ":2:9:", "file not found"),
    ("models-is-dir", "version: 1\nmodels: p\n", ":2:9:", "is a directory"),
    ("invalid-yaml", "version: 1\nschema: [strict\n", ":3:1:", "invalid YAML"),
    ("tab-indent", "version: 1\nschema:\n\tstrict: true\n", ":3:1:", "invalid YAML"),
    ("duplicate-key", "version: 1\nversion: 1\n", ":2:1:", "duplicate key 'version'"),
    ("list-not-mapping", "- version: 1\n", ":1:1:", "must be a mapping"),
    ("empty-file", "", ":1:1:", "file is empty"),
    ("scalar-file", "just text\n", ":1:1:", "must be a mapping"),
    ("two-documents", "version: 1\n---\nversion: 1\n", ":2:1:", "invalid YAML"),
    ("section-not-mapping", "version: 1\nschema: true\n", ":2:9:", "is not of type 'object'"),
    ("unknown-yaml-tag", "version: 1\nmodels: !!python/object:os.system x\n", ":2:9:", "invalid YAML"),
    ("complex-key", "version: 1\n? [a, b]\n: 1\n", ":2:3:", "mapping key must be a plain value"),
    ("typo-after-valid", "version: 1\nschema: {strict: true}\nregresion: {}\n", ":3:1:", "did you mean 'regression'"),
    ("extra-files-bad-glob", "version: 1\nprompts: p/*.yml\nschema:\n  extra_files: ['p/a**b']\n", ":4:17:",
     "not a usable glob"),
    ("extra-files-absolute", "version: 1\nprompts: p/*.yml\nschema:\n  extra_files: [p/*, /etc/*]\n", ":4:22:",
     "not absolute"),
    ("extra-files-match-nothing", "version: 1\nprompts: p/*.yml\nschema:\n  extra_files: ['q/*.env']\n", ":4:17:",
     "matches no file"),
    ("extra-files-empty", "version: 1\nprompts: p/*.yml\nschema:\n  extra_files: ['']\n", ":4:17:", "non-empty"),
    ("docs-bad-glob", "version: 1\ndocs:\n  failure_modes: [docs/*.md, 'x/**y/*.md']\n", ":3:30:", "not a usable glob"),
    # Hostile YAML: each an error at its line, never a traceback.
    ("nested-500-deep", "version: 1\nschema: " + "[" * 500 + "]" * 500 + "\n", ":2:108:", "nested deeper than 100"),
    ("tag-int-bad", "version: !!int x\n", ":1:10:", "'x' is not a valid int"),
    ("tag-bool-bad", "version: 1\nschema: {strict: !!bool x}\n", ":2:18:", "'x' is not a valid bool"),
    ("tag-float-bad", "version: 1\nschema: {strict: !!float x}\n", ":2:18:", "'x' is not a valid float"),
    ("tag-int-empty", "version: !!int ''\n", ":1:10:", "'' is not a valid int"),
    ("nan-gate", "version: 1\nregression:\n  gates: {min_pass_rate: .nan}\n", ":3:26:", ".nan is not a finite"),
    ("inf-budget", "version: 1\ncost:\n  budget: {monthly_usd: -.inf}\n", ":3:25:", "-.inf is not a finite"),
    ("recursive-alias", "version: 1\nschema: &a {x: *a}\n", ":2:9:", "recursive alias"),
    ("control-character", "version: 1\nschema: {strict: \"a\x07\"}\n", ":2:20:", "#x0007 is not allowed"),
]


def _layout(tmp_path: Path, text: str) -> Path:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "a.prompt.yml").write_text(PROMPT)
    cfg = tmp_path / "gate.yaml"
    cfg.write_text(text)
    return cfg


@pytest.mark.parametrize(("case", "text", "where", "phrase"), CORPUS, ids=[c[0] for c in CORPUS])
def test_config_bad_input_exits_2_with_location(tmp_path: Path, case: str, text: str, where: str, phrase: str) -> None:
    cfg = _layout(tmp_path, text)
    res = gate("check", "-c", cfg, cwd=tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: gate.yaml" + where), first
    assert phrase in first
    assert "Traceback" not in res.stderr


def test_config_alias_bomb_exits_2_quickly(tmp_path: Path) -> None:
    lines = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    prev = "a"
    for name in "bcdefghij":
        lines.append(f"{name}: &{name} [" + ",".join(["*" + prev] * 9) + "]")
        prev = name
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("\n".join(lines) + "\n")
    res = gate("check", "-c", cfg, cwd=tmp_path)
    assert res.exit_code == 2
    assert "alias" in res.stderr and "gate.yaml:" in res.stderr


def test_config_huge_file_exits_2_without_reading_it(tmp_path: Path) -> None:
    cfg = tmp_path / "gate.yaml"
    with cfg.open("wb") as fh:
        fh.write(b"version: 1\n")
        fh.write(b"# " + b"x" * (50 * 1024 * 1024) + b"\n")
    res = gate("check", "-c", cfg, cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: gate.yaml: file is 52.4 MB, larger than the 10 MiB limit")


def test_config_non_utf8_exits_2_with_line(tmp_path: Path) -> None:
    cfg = tmp_path / "gate.yaml"
    cfg.write_bytes(b"version: 1\nschema:\n  strict: \xff\xfe\n")
    res = gate("check", "-c", cfg, cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: gate.yaml:3:11: not valid UTF-8 (byte 0xff)")


def test_config_directory_exits_2(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").mkdir()
    res = gate("check", "-c", tmp_path / "gate.yaml", cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: gate.yaml: is a directory, not a file"


def test_config_missing_file_points_to_init(tmp_path: Path) -> None:
    res = gate("check", cwd=tmp_path)
    assert res.exit_code == 2
    assert "gate.yaml: file not found" in res.stderr and "gate init" in res.stderr


def test_config_several_errors_each_on_its_own_line(tmp_path: Path) -> None:
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("version: 1\nschema:\n  strict: 3\n  require_version_bump: maybe\nextra: 1\n")
    res = gate("check", "-c", cfg, cwd=tmp_path)
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert [line.split(": $")[0] for line in lines] == [
        "error: gate.yaml:3:11", "error: gate.yaml:4:25", "error: gate.yaml:5:1"]


def test_config_debug_shows_traceback_for_gate_errors(tmp_path: Path) -> None:
    cfg = tmp_path / "gate.yaml"
    cfg.write_text("version: 1\nschem: {}\n")
    res = gate("check", "-c", cfg, "--debug", cwd=tmp_path)
    assert res.exit_code == 2
    assert "Traceback" in res.stderr and "did you mean 'schema'" in res.stderr


def test_config_error_never_echoes_a_secret(tmp_path: Path) -> None:
    key = "sk-proj-" + "Q7w8E9r0" * 5
    cfg = tmp_path / "gate.yaml"
    cfg.write_text(f"version: 1\nschema:\n  strict: {key}\n  secrets: hunter2-correct-horse\n")
    res = gate("check", "-c", cfg, cwd=tmp_path, env={"DB_PASSWORD": "hunter2-correct-horse"})
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        "error: gate.yaml:3:11: $.schema.strict: '[redacted]' is not of type 'boolean'",
        "error: gate.yaml:4:12: $.schema.secrets: '[redacted]' is not of type 'boolean'",
    ]


def test_config_error_quoting_hostile_text_stays_one_inert_line(tmp_path: Path) -> None:
    cfg = tmp_path / "gate.yaml"
    cfg.write_text('version: 1\n"x\\e[2J\\r\\n::error file=a::pwned##[group]": 1\n')
    res = gate("check", "-c", cfg, cwd=tmp_path)
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: gate.yaml:2:1: ")
    assert "\x1b" not in res.stderr and "\r" not in res.stderr and "##[" not in res.stderr


REG = "regression:\n  target: {replay: c.jsonl}\n  suites:\n    - prompt: p/a.prompt.yml\n"
# (id, gate.yaml text after `version: 1`, expected ":line:col:", a phrase): every path gate.yaml names stays in
# the repository, whichever key names it.
ESCAPES = [
    ("glob-climbs-out", "prompts: ['../../**/*.prompt.yml']\n", ":2:11:", "is outside the repository"),
    ("glob-climbs-out-midway", "prompts: ['p/../../outside/*.prompt.yml']\n", ":2:11:", "is outside the repository"),
    ("glob-matches-symlink-out", "prompts: ['links/*.prompt.yml']\n", ":2:11:", "matches a symlink out"),
    ("models-dotdot", "models: ../outside/models.yaml\n", ":2:9:", "is outside the repository"),
    ("models-symlink-out", "models: links/models.yaml\n", ":2:9:", "is a symlink out of the repository"),
    ("models-dev-zero", "models: links/zero.yaml\n", ":2:9:", "is a symlink out of the repository"),
    ("models-fifo", "models: fifo.yaml\n", ":2:9:", "not a regular file"),
    ("extra-files-out", "prompts: p/*.yml\nschema:\n  extra_files: ['../outside/*']\n", ":4:17:", "outside the repository"),
    ("traffic-out", "cost:\n  traffic: ../outside/traffic.yaml\n", ":3:12:", "is outside the repository"),
    ("docs-out", "docs:\n  failure_modes: ../outside/f.md\n", ":3:18:", "is outside the repository"),
    ("required-doc-symlink", "docs:\n  required_documents: [links/f.md]\n", ":3:24:", "is a symlink out"),
    ("dataset-symlink-out", REG + "      dataset: links/d.jsonl\n", ":6:16:", "is a symlink out of the repository"),
    ("baseline-out", REG + "  baseline: ../outside/b.json\n", ":6:13:", "is outside the repository"),
    ("record-out", REG + "  record: ../outside/c.jsonl\n", ":6:11:", "is outside the repository"),
    ("cache-out", REG + "  cache: ../outside/cache\n", ":6:10:", "is outside the repository"),
    ("replay-out", "regression:\n  target: {replay: ../outside/c.jsonl}\n  suites:\n    - prompt: p/a.prompt.yml\n",
     ":3:20:", "is outside the repository"),
]


def _escape_layout(tmp_path: Path, text: str) -> Path:
    outside = tmp_path / "outside"
    outside.mkdir()
    for name in ("models.yaml", "traffic.yaml", "f.md", "d.jsonl", "c.jsonl", "b.json", "x.prompt.yml"):
        (outside / name).write_text(PROMPT if name.endswith(".prompt.yml") else "{}\n")
    repo = tmp_path / "repo"
    (repo / "p").mkdir(parents=True)
    (repo / "p" / "a.prompt.yml").write_text(PROMPT)
    (repo / "c.jsonl").write_text("")
    (repo / "links").mkdir()
    for name in ("models.yaml", "f.md", "d.jsonl", "x.prompt.yml"):
        (repo / "links" / name).symlink_to(outside / name)
    (repo / "links" / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(repo / "fifo.yaml")
    (repo / "gate.yaml").write_text("version: 1\n" + text)
    return repo


@pytest.mark.parametrize(("case", "text", "where", "phrase"), ESCAPES, ids=[c[0] for c in ESCAPES])
def test_config_path_out_of_the_repository_exits_2_at_its_line(tmp_path: Path, case: str, text: str, where: str,
                                                                phrase: str) -> None:
    repo = _escape_layout(tmp_path, text)
    res = gate("check", "-c", repo / "gate.yaml", cwd=repo)
    assert res.exit_code == 2, res.stdout + res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: gate.yaml" + where), first
    assert phrase in first and "Traceback" not in res.stderr


def test_config_path_up_from_a_subfolder_inside_the_git_repository_is_fine(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.prompt.yml").write_text(PROMPT)
    (tmp_path / "ci").mkdir()
    (tmp_path / "ci" / "gate.yaml").write_text("version: 1\nprompts: ['../prompts/*.prompt.yml']\n")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    res = gate("validate", "-c", tmp_path / "ci" / "gate.yaml", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["checks"][0]["summary"].startswith("1 prompt, ")


def test_config_cost_profile_never_lists_a_traffic_file_outside(tmp_path: Path) -> None:
    repo = _escape_layout(tmp_path, "cost:\n  traffic: ../outside/traffic.yaml\n")
    (tmp_path / "outside" / "traffic.yaml").write_text("profiles:\n  private-name: {routes: {}}\n")
    res = gate("cost", "-c", repo / "gate.yaml", "--profile", "nope", cwd=repo)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: gate.yaml:3:12: ../outside/traffic.yaml: is outside the repository")
    assert "private-name" not in res.stdout + res.stderr
