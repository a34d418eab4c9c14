"""Datasets in JSONL, YAML and CSV: cases with variables, metadata and assertions; defects at file:line."""

from __future__ import annotations

from pathlib import Path

from prodgate_checks.regression.dataset import load_dataset


def test_regression_dataset_jsonl_variables_metadata_asserts(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": 1, "question": "Q?", "expected": "A", "metadata": {"cluster": "t"}, '
                 '"assert": [{"contains": "A"}]}\n\n{"id": "two", "question": "R?"}\n', encoding="utf-8")
    cases, problems = load_dataset(p, "d.jsonl")
    assert problems == []
    assert [c.id for c in cases] == ["1", "two"]
    assert cases[0].variables == {"question": "Q?", "expected": "A"}
    assert cases[0].cluster == "t" and cases[0].asserts[0].kind == "contains"
    assert cases[1].line == 3


def test_regression_dataset_jsonl_bad_line_duplicate_and_missing_id(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "a"}\n{"id": "a"}\n{"question": "no id"}\n{not json\n[1]\n', encoding="utf-8")
    _, problems = load_dataset(p, "d.jsonl")
    got = [(pr.line, pr.message) for pr in problems]
    assert got[0] == (2, "duplicate case id 'a' (first on line 1)")
    assert got[1] == (3, "$: 'id' is required")
    assert got[2][0] == 4 and got[2][1].startswith("invalid JSON")
    assert got[3][0] == 5 and "must be a mapping" in got[3][1]


def test_regression_dataset_yaml_cases_key_and_lines(tmp_path: Path) -> None:
    p = tmp_path / "d.yaml"
    p.write_text("cases:\n  - id: a\n    q: one\n  - id: b\n    q: two\n    assert: [{regex: 'x', contains: 'y'}]\n",
                 encoding="utf-8")
    cases, problems = load_dataset(p, "d.yaml")
    assert [c.id for c in cases] == ["a"]
    assert problems[0].line == 4 and "exactly one" in problems[0].message


def test_regression_dataset_csv_metadata_columns(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text('id,question,expected,metadata.cluster\nc1,"Hi, there?",Hello,greet\nc2,Bye?,Bye,greet\n',
                 encoding="utf-8")
    cases, problems = load_dataset(p, "d.csv")
    assert problems == []
    assert cases[0].variables == {"question": "Hi, there?", "expected": "Hello"}
    assert cases[1].cluster == "greet" and cases[1].line == 3


def test_regression_dataset_empty_file_is_a_problem(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text("\n", encoding="utf-8")
    cases, problems = load_dataset(p, "d.jsonl")
    assert cases == [] and problems[0].message == "the dataset has no cases"


def test_regression_dataset_not_utf8_reports_position(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_bytes(b'{"id": "a"}\n{"id": "\xff"}\n')
    _, problems = load_dataset(p, "d.jsonl")
    assert problems[0].line == 2 and "UTF-8" in problems[0].message


def test_regression_dataset_json_schema_file_read_relative_to_dataset(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "answer.schema.json").write_text('{"type": "object", "required": ["a"]}', encoding="utf-8")
    (tmp_path / "bad.json").write_text('{"type": 5}', encoding="utf-8")
    (tmp_path / "data" / "broken.json").write_text('{"type": ', encoding="utf-8")
    p = tmp_path / "data" / "d.jsonl"
    p.write_text('{"id": "ok", "assert": [{"json_schema": "answer.schema.json"}]}\n'
                 '{"id": "again", "assert": [{"json_schema": "./answer.schema.json"}]}\n'
                 '{"id": "missing", "assert": [{"json_schema": "nope.json"}]}\n'
                 '{"id": "invalid", "assert": [{"json_schema": "../bad.json"}]}\n'
                 '{"id": "broken", "assert": [{"json_schema": "broken.json"}]}\n'
                 '{"id": "inline", "assert": [{"json_schema": {"type": 5}}]}\n'
                 '{"id": "escape", "assert": [{"json_schema": "../../x.json"}]}\n',
                 encoding="utf-8")
    cases, problems = load_dataset(p, "data/d.jsonl", tmp_path)
    assert [(c.id, c.asserts[0].value) for c in cases] == [("ok", {"type": "object", "required": ["a"]}),
                                                          ("again", {"type": "object", "required": ["a"]})]
    got = [(pr.line, pr.message.split(": not a JSON file")[0]) for pr in problems]
    assert got == [
        (3, "case missing: assert[0]: json_schema nope.json: file not found"),
        (4, "case invalid: assert[0]: json_schema ../bad.json: not a valid JSON Schema: 5 is not valid under any of "
            "the given schemas"),
        (5, "case broken: assert[0]: json_schema broken.json"),
        (6, "case inline: assert[0]: json_schema not a valid JSON Schema: 5 is not valid under any of the given schemas"),
        (7, "case escape: assert[0]: json_schema ../../x.json: outside the repository"),
    ]


def test_regression_dataset_hostile_json_lines_are_problems_at_their_lines(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "a", "q": ' + "[" * 100_000 + "]" * 100_000 + '}\n{"id": "b", "score": NaN}\n'
                 '{"id": "c", "q": ' + '{"k": ' * 600 + "1" + "}" * 600 + "}\n", encoding="utf-8")
    cases, problems = load_dataset(p, "d.jsonl")
    assert cases == []
    assert [(pr.line, pr.message) for pr in problems] == [
        (1, "invalid JSON: nested deeper than 100 levels"), (2, "invalid JSON: NaN is not a finite number"),
        (3, "invalid JSON: nested deeper than 100 levels")]


def test_regression_dataset_line_separator_inside_a_string_is_text(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": "a", "q": "one\u2028two\u2029three\x85four"}\r\n{"id": "b", "q": "x"}\n', encoding="utf-8")
    cases, problems = load_dataset(p, "d.jsonl")
    assert problems == []
    assert cases[0].variables["q"] == "one\u2028two\u2029three\x85four"
    assert [c.line for c in cases] == [1, 2]


def test_regression_dataset_over_max_cases_is_one_problem_at_the_first_row_too_many(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text("".join(f'{{"id": "{i}"}}\n\n' for i in range(5)), encoding="utf-8")
    cases, problems = load_dataset(p, "d.jsonl", max_cases=3)
    assert cases == []
    assert [(pr.line, pr.message) for pr in problems] == [
        (7, "more than 3 cases: raise regression.max_cases in gate.yaml to run them all")]
    assert len(load_dataset(p, "d.jsonl", max_cases=5)[0]) == 5
