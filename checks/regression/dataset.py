"""Regression datasets (JSONL, YAML, CSV) -> cases; every defect is a problem at file:line, never raised."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.files import MAX_DATA_BYTES, interned_keys, lines, loads_json, read_text
from gate.providers.base import valid_unicode
from gate.render.words import counted
from gate.schemas import _registry, load_schema, quick_check
from gate.yamlfile import YamlDocument, YamlError, format_path, load_yaml, parse_yaml

from .config import MAX_CASES, MetricSpec, parse_metric, schema_value

if TYPE_CHECKING:
    import jsonschema

    from gate.context import CheckContext
    from gate.prompts import PromptFile
    from gate.report import CheckResult

RESERVED = ("id", "expected", "metadata", "assert")


@dataclass(frozen=True, slots=True)
class Case:
    id: str
    variables: Mapping[str, Any]  # the template variables, `expected` included (as gh-models' testData)
    expected: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    asserts: tuple[MetricSpec, ...] = ()
    line: int = 1

    @property
    def cluster(self) -> str | None:
        value = self.metadata.get("cluster")
        return None if value is None else str(value)


@dataclass(frozen=True)
class Problem:
    message: str
    line: int = 1
    column: int = 1


@dataclass
class SchemaFiles:
    """json_schema files named by a dataset's asserts: relative to the dataset's folder, inside `root` (the
    repository), each read once."""

    folder: Path
    root: Path
    read: dict[Path, tuple[Any, str | None]] = field(default_factory=dict)

    def load(self, name: str) -> tuple[Any, str | None]:
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.root.resolve()):
            return None, f"{name}: outside the repository"
        if path not in self.read:
            self.read[path] = schema_value(name, path)
        return self.read[path]


def case_from_row(row: Mapping[str, Any], case_id: str, line: int, schemas: SchemaFiles, *,
                  owned: bool = False) -> tuple[Case | None, list[Problem]]:
    """The case a row holds. `owned`: the row was parsed for this call alone (a JSONL or CSV line, not a cached
    YAML document's data), and becomes the case's variables."""
    problems: list[Problem] = []
    metadata = row.get("metadata") or {}
    if not isinstance(metadata, dict):
        problems.append(Problem(f"case {case_id}: metadata must be a mapping", line))
        metadata = {}
    asserts: list[MetricSpec] = []
    raw_asserts = row.get("assert") or []
    if not isinstance(raw_asserts, list):
        problems.append(Problem(f"case {case_id}: assert must be a list of metrics", line))
        raw_asserts = []
    for i, item in enumerate(raw_asserts):
        if not isinstance(item, dict):
            problems.append(Problem(f"case {case_id}: assert[{i}] must be a mapping", line))
            continue
        try:
            spec = parse_metric(item)
        except ValueError as exc:
            problems.append(Problem(f"case {case_id}: assert[{i}]: {exc}", line))
            continue
        if spec.kind == "json_schema":
            value, problem = schemas.load(spec.value) if isinstance(spec.value, str) else schema_value(spec.value, None)
            if problem:
                problems.append(Problem(f"case {case_id}: assert[{i}]: json_schema {problem}", line))
                continue
            spec = replace(spec, value=value)
        asserts.append(spec)
    if problems:
        return None, problems
    if owned and isinstance(row, dict):
        # A row parsed for this dataset alone becomes the case's variables, not a copy: 200,000 rows stay small.
        for key in ("id", "metadata", "assert"):
            row.pop(key, None)
        variables: Mapping[str, Any] = row
    else:
        variables = {k: v for k, v in row.items() if k not in ("id", "metadata", "assert")}
        metadata = dict(metadata)
    return Case(case_id, variables, row.get("expected"), metadata, tuple(asserts), line), []


@cache
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # only for a row that fails the quick check

    return jsonschema.Draft202012Validator(load_schema("dataset-case"), registry=_registry())


def _validate(row: Any, line: int, column: int = 1) -> list[Problem]:
    quick = quick_check("dataset-case")
    if quick is not None and quick(row):
        return []  # most rows: jsonschema, per row, only words the errors of those that fail
    out = []
    for err in sorted(_validator().iter_errors(row), key=lambda e: [str(p) for p in e.absolute_path]):
        message = err.message.replace("is a required property", "is required")
        out.append(Problem(f"{format_path(tuple(err.absolute_path))}: {message}", line, column))
    return out


def _jsonl_rows(text: str) -> Iterator[tuple[int, Any, Problem | None]]:
    for n, raw in lines(text):
        if not raw.strip():
            continue
        try:
            yield n, loads_json(raw, object_pairs_hook=interned_keys), None
        except ValueError as exc:
            column = getattr(exc, "colno", 1)
            yield n, None, Problem(f"invalid JSON: {getattr(exc, 'msg', str(exc))}", n, column)


def _yaml_rows(doc: YamlDocument) -> Iterator[tuple[int, Any, Problem | None]]:
    data = doc.data
    if isinstance(data, dict) and isinstance(data.get("cases"), list):
        prefix: tuple[str, ...] = ("cases",)
        items = data["cases"]
    elif isinstance(data, list):
        items, prefix = data, ()
    else:
        yield 1, None, Problem("a YAML dataset is a list of cases (or a mapping with a `cases:` list)")
        return
    for i, item in enumerate(items):
        yield doc.locate((*prefix, i)).line, item, None


def _csv_rows(text: str) -> Iterator[tuple[int, Any, Problem | None]]:
    reader = csv.DictReader(io.StringIO(text))
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, None, Problem("more fields than the header has", line)
            continue
        out: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        for key, value in row.items():
            if key.startswith("metadata."):
                metadata[key.split(".", 1)[1]] = value
            elif key == "assert" and value:
                try:
                    out["assert"] = loads_json(value)
                except ValueError:
                    yield line, None, Problem("the assert column must hold a JSON list of metrics", line)
                    break
            elif value is not None:
                out[key] = value
        else:
            if metadata:
                out["metadata"] = metadata
            yield line, out, None


def load_dataset(path: Path, display: str, root: Path | None = None, *,
                 max_cases: int = MAX_CASES) -> tuple[list[Case], list[Problem]]:
    """All cases of a dataset, with every problem found (bad rows are left out, never guessed). A json_schema
    file an assert names is relative to the dataset's folder and must be inside `root` (default: that folder).
    More than max_cases rows is one problem at the first row too many."""
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            found = _yaml_rows(load_yaml(path, display))
        else:
            text = read_text(path, display, max_bytes=MAX_DATA_BYTES)
            if path.suffix.lower() == ".csv":
                found = _csv_rows(text)
            elif path.suffix.lower() == ".json":
                found = _yaml_rows(parse_yaml(text, display))
            else:
                found = _jsonl_rows(text)
        rows = list(islice(found, max_cases + 1))
        owned = path.suffix.lower() not in (".yaml", ".yml", ".json")
    except YamlError as exc:
        return [], [Problem(exc.problem, exc.line or 1, exc.column or 1)]
    if len(rows) > max_cases:
        return [], [Problem(f"more than {max_cases:,} cases: raise regression.max_cases in gate.yaml to run them all",
                            rows[max_cases][0])]
    return rows_to_cases(rows, SchemaFiles(path.parent, root or path.parent), owned=owned)


def rows_to_cases(rows: list[tuple[int, Any, Problem | None]], schemas: SchemaFiles, *,
                  owned: bool = False) -> tuple[list[Case], list[Problem]]:
    cases: list[Case] = []
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for line, row, problem in rows:
        if problem is not None:
            problems.append(problem)
            continue
        row = valid_unicode(row)  # JSON's "\ud800": no request, cassette or report could carry it
        if not isinstance(row, dict):
            problems.append(Problem(f"a case must be a mapping, not {type(row).__name__}", line))
            continue
        found = _validate(row, line)
        if found:
            problems += found
            continue
        case_id = str(row["id"])
        if case_id in seen:
            problems.append(Problem(f"duplicate case id {case_id!r} (first on line {seen[case_id]})", line))
            continue
        seen[case_id] = line
        case, more = case_from_row(row, case_id, line, schemas, owned=owned)
        problems += more
        if case is not None:
            cases.append(case)
    if not cases and not problems:
        problems.append(Problem("the dataset has no cases"))
    return cases, problems


def test_data_cases(prompt: PromptFile) -> list[Case]:
    """A prompt file's testData rows that are mappings: id is the row's `id`, else its position in testData
    (row-1, row-2, ...), counting the rows left out, so a case keeps its id and line when a row before it is null."""
    return [Case(str(row["id"]) if "id" in row else f"row-{i + 1}", dict(row), row.get("expected"), {}, (),
                 prompt.doc.locate(("testData", i)).line) for i, row in prompt.test_rows]


def null_rows(prompt: PromptFile) -> list[int]:
    """The positions of testData's null rows (`- ~`, a bare `-`): skipped, with a notice, as the schema check
    reports them."""
    rows = prompt.data.get("testData")
    return [i for i, row in enumerate(rows) if row is None] if isinstance(rows, list) else []


def validation_result(ctx: CheckContext) -> CheckResult:
    """`gate validate`'s regression row: every suite's prompt and dataset read and checked exactly as
    `gate check` reads them (a defect is a finding at file:line, exit 1), and no case sent to a model."""
    from gate.report import CheckResult, Status

    from .config import parse_config
    from .suites import SuiteLoader

    loader = SuiteLoader(ctx, parse_config(ctx.config))
    suites = loader.load()
    if loader.findings:
        return CheckResult("regression", Status.FAIL, f"{counted(len(loader.findings), 'defect')} in the suites' files",
                           findings=(*loader.findings, *loader.notices))
    cases = sum(len(s.cases) for s in suites)
    return CheckResult("regression", Status.PASS, f"{counted(len(suites), 'suite')}, {counted(cases, 'case')} valid; "
                       "not run (gate check runs them)", metrics={"suites": len(suites), "cases": cases},
                       findings=tuple(loader.notices))
