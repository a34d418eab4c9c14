"""README.md and docs/: every relative link resolves, every configuration key and Action input is documented."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from markdown_it import MarkdownIt
from prodgate_checks.docs.catalogue import DEFAULT_FIELDS, FieldNames
from prodgate_checks.docs.parse import parse
from prodgate_checks.docs.system import link_findings

from tests.conftest import gate

REPO = Path(__file__).resolve().parent.parent.parent
DOCS = REPO / "docs"
README = REPO / "README.md"
_NAMES = FieldNames.build(DEFAULT_FIELDS)

# The schemas of files a user writes. prompt.schema.json is GitHub Models' own format (gh-models documents
# it), and report.schema.json is prodgate's output: neither is configuration.
CONFIG_SCHEMAS = ("gate*.schema.json", "models.schema.json", "traffic.schema.json", "dataset-case.schema.json")
# Keys that are deliberately not documented, each with its reason.
UNDOCUMENTED: dict[str, str] = {}


def pages(root: Path = REPO) -> list[Path]:
    return [root / "README.md", *sorted((root / "docs").rglob("*.md"))]


def broken_links(files: list[Path], root: Path) -> list[str]:
    """Every relative link or #anchor that leads nowhere, by the docs check's own rules (GitHub's anchors)."""
    @functools.cache
    def anchors(target: Path) -> frozenset[str] | None:
        return parse(target.read_text(encoding="utf-8"), _NAMES).anchors if target.is_file() else None

    out = []
    for path in files:
        doc = parse(path.read_text(encoding="utf-8"), _NAMES)
        rel = path.relative_to(root).as_posix()
        out += [f"{f.file}:{f.line}: {f.message}" for f in link_findings(doc, path, rel, root, anchors)]
    return out


def code_spans(text: str) -> Iterator[str]:
    """The inline code of a markdown text (not its fenced blocks)."""
    for tok in MarkdownIt("commonmark").enable("table").parse(text):
        for child in tok.children or []:
            if child.type == "code_inline":
                yield child.content


def documented(key: str, spans: set[str]) -> bool:
    """`key`, or `key: value` as an example, in backticks: prose, a table row or a list."""
    return any(s == key or s.startswith((f"{key}:", f"{key} ")) for s in spans)


def schema_keys(node: Any) -> Iterator[str]:
    """Every property name of a JSON Schema, at any depth ($defs and oneOf branches included)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            yield from props
        for value in node.values():
            yield from schema_keys(value)
    elif isinstance(node, list):
        for value in node:
            yield from schema_keys(value)


def scalars(node: Any) -> Iterator[Any]:
    """Every key and leaf value of parsed YAML."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from scalars(value)
    elif isinstance(node, list):
        for value in node:
            yield from scalars(value)
    else:
        yield node


def yaml_blocks(text: str) -> Iterator[str]:
    for tok in MarkdownIt("commonmark").parse(text):
        if tok.type == "fence" and tok.info.strip() == "yaml":
            yield tok.content


def test_docs_links_every_relative_link_and_anchor_resolves() -> None:
    files = pages()
    assert README in files and DOCS / "checks" / "regression.md" in files
    assert broken_links(files, REPO) == []


def test_docs_links_broken_file_and_anchor_are_reported(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    (tmp_path / "README.md").write_text("# Tool\n\nSee [the guide](docs/guide.md#the-gateyaml-file), "
                                        "[gone](docs/gone.md) and [here](#tool).\n", encoding="utf-8")
    (tmp_path / "docs" / "guide.md").write_text("# Guide\n\n## The `gate.yaml` file\n\n[back](../README.md#toll)\n",
                                                encoding="utf-8")
    assert broken_links(pages(tmp_path), tmp_path) == [
        "README.md:3: link 'docs/gone.md' does not resolve: no such file",
        "docs/guide.md:5: link '../README.md#toll' names no heading of README.md",
    ]


def test_docs_keys_every_configuration_key_is_documented() -> None:
    spans = {s for page in pages() if page != README for s in code_spans(page.read_text(encoding="utf-8"))}
    schemas = sorted(p for pattern in CONFIG_SCHEMAS for p in (REPO / "schemas").glob(pattern))
    assert len(schemas) >= 10
    missing = {p.name: sorted({k for k in schema_keys(json.loads(p.read_text(encoding="utf-8")))
                               if k not in UNDOCUMENTED and not documented(k, spans)}) for p in schemas}
    assert {name: keys for name, keys in missing.items() if keys} == {}


def test_docs_keys_a_key_only_in_a_yaml_example_is_not_documented() -> None:
    spans = set(code_spans("Set `strict: true`, or `timeout`.\n\n```yaml\nretries: 3\n```\n"))
    assert [documented(k, spans) for k in ("strict", "timeout", "retries", "time")] == [True, True, False, False]


def test_docs_action_every_input_and_output_is_in_a_table_of_its_page() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    text = (DOCS / "action.md").read_text(encoding="utf-8")
    first_cells = {s for line in text.splitlines() if line.startswith("| `")
                   for s in code_spans(line.split(" | ")[0])}
    assert set(action["inputs"]) - first_cells == set()
    assert set(action["outputs"]) - first_cells == set()


def test_docs_examples_each_gate_yaml_example_holds_to_the_schema() -> None:
    res = gate("schema", "gate")
    assert res.exit_code == 0, res.stderr
    validator = jsonschema.Draft202012Validator(json.loads(res.stdout))
    sections = set(validator.schema["properties"])
    checked = 0
    for page in pages():
        for block in yaml_blocks(page.read_text(encoding="utf-8")):
            doc = yaml.safe_load(block)
            # A sketch with `...` placeholders, or a file that is not gate.yaml (models.yaml, a workflow).
            if not isinstance(doc, dict) or not set(doc) <= sections or "..." in set(scalars(doc)):
                continue
            errors = [f"{page.name}: {'/'.join(map(str, e.absolute_path))}: {e.message}"
                      for e in validator.iter_errors({"version": 1, **doc})]
            assert errors == []
            checked += 1
    assert checked >= 7


@pytest.mark.parametrize("command", [
    "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/gate check -c examples/support-bot/gate.yaml",
    ".venv/bin/python -m pytest -n auto",
])
def test_readme_quick_start_runs_as_ci_runs_it(command: str) -> None:
    quick_start = README.read_text(encoding="utf-8").split("## Quick start", 1)[1].split("\n## ", 1)[0]
    assert f"\n{command}\n" in quick_start
    assert command in (REPO / ".ci" / "run").read_text(encoding="utf-8")


def test_readme_stays_a_five_minute_read() -> None:
    assert len(README.read_bytes()) < 12_000
