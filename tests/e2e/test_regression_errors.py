"""Bad input: gate.yaml problems are exit 2 at gate.yaml:line:col; a defective dataset is a finding (exit 1)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gate.providers.base import Request
from gate.providers.keys import request_key
from tests.conftest import gate, gate_subprocess

PROMPT = "name: p\nmodel: m\nmessages:\n  - role: user\n    content: '{{q}}'\n"


def _repo(tmp_path: Path, section: str, dataset: str = '{"id": "a", "q": "hi"}\n') -> Path:
    (tmp_path / "p.prompt.yml").write_text(PROMPT, encoding="utf-8")
    (tmp_path / "d.jsonl").write_text(dataset, encoding="utf-8")
    (tmp_path / "c.jsonl").write_text("", encoding="utf-8")
    config = tmp_path / "gate.yaml"
    config.write_text("version: 1\nregression:\n" + section, encoding="utf-8")
    return config


@pytest.mark.parametrize(("section", "message"), [
    ("  suites:\n    - prompt: p.prompt.yml\n      datset: d.jsonl\n",
     "gate.yaml:5:7: $.regression.suites[0].datset: unknown key 'datset' (did you mean 'dataset'?)"),
    ("  suites:\n    - dataset: missing.jsonl\n",
     "gate.yaml:4:16: missing.jsonl: file not found"),
    ("  suites:\n    - prompt: p.prompt.yml\n      metrics:\n        - {contains: a, regex: b}\n",
     "gate.yaml:6:11: a metric needs exactly one of"),
    ("  repeats: 2\n  pass_at: 3\n  suites:\n    - prompt: p.prompt.yml\n",
     "gate.yaml:4:12: pass_at 3 is more than the 2 repeats a case gets"),
    ("  target: {replay: c.jsonl}\n  gates: {alpha: 2}\n",
     "gate.yaml:4:18: $.regression.gates.alpha: 2 is greater than the maximum of 0.5"),
    ("  suites:\n    - dataset: d.jsonl\n      metrics: [{json_schema: {type: 5}}]\n",
     "gate.yaml:5:31: not a valid JSON Schema: 5 is not valid under any of the given schemas"),
    ("  suites:\n    - dataset: d.jsonl\n      metrics: [{json_schema: {$ref: '#/$defs/nope'}}]\n",
     "gate.yaml:5:31: $ref '#/$defs/nope' points to nothing in the schema"),
    ("  suites:\n    - dataset: d.jsonl\n      metrics: [{json_schema: {properties: {a: {$ref: '#nope'}}}}]\n",
     "gate.yaml:5:31: $ref '#nope' points to nothing in the schema"),
    ("  suites:\n    - dataset: d.jsonl\n      metrics: [{json_schema: {$ref: '#'}}]\n",
     "gate.yaml:5:31: $ref '#' loops back to a schema it is part of without reading any deeper into the value "
     "(a $ref cycle): checking an answer would never end"),
    ("  suites:\n    - dataset: d.jsonl\n      metrics:\n        - json_schema:\n            $ref: '#/$defs/a'\n"
     "            $defs: {a: {anyOf: [{type: string}, {$ref: '#/$defs/b'}]}, b: {not: {$ref: '#/$defs/a'}}}\n",
     "gate.yaml:7:13: $ref '#/$defs/a' loops back to a schema it is part of"),
])
def test_regression_config_error_exit_2_at_line(tmp_path: Path, section: str, message: str) -> None:
    res = gate_subprocess("check", "-c", _repo(tmp_path, section), "--only", "regression", cwd=tmp_path)
    assert res.exit_code == 2
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: " + message), first
    assert "Traceback" not in res.stderr


def test_regression_recursive_schema_through_properties_is_no_cycle(tmp_path: Path) -> None:
    # A tree: each level reads deeper into the value, so the loop ends with the data.
    (tmp_path / "app.py").write_text('import json, sys\njson.load(sys.stdin)\n'
                                     'print(json.dumps({"output": \'{"child": {"child": {}}}\'}))\n', encoding="utf-8")
    config = _repo(tmp_path, "  target: {command: [python, app.py]}\n  suites:\n    - dataset: d.jsonl\n"
                             "      metrics: [{json_schema: {type: object, properties: {child: {$ref: '#'}}}}]\n")
    config.write_text(config.read_text(encoding="utf-8").replace("python", sys.executable), encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["checks"][0]["metrics"]["passed"] == 1


def test_regression_dataset_defect_is_a_finding_exit_1(tmp_path: Path) -> None:
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - prompt: p.prompt.yml\n      dataset: d.jsonl\n",
                   dataset='{"id": "a", "q": "hi"}\n{"q": "no id"}\n')
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1
    check = res.json()["checks"][0]
    assert check["status"] == "fail"
    assert [(f["file"], f["line"], f["message"]) for f in check["findings"]] == [("d.jsonl", 2, "$: 'id' is required")]


def test_regression_replay_never_recorded_suite_is_a_finding_exit_1(tmp_path: Path) -> None:
    # An empty cassette: the suite was never recorded. That is the finding, not a transport failure (exit 3).
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - prompt: p.prompt.yml\n      dataset: d.jsonl\n")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = res.json()["checks"][0]
    assert check["status"] == "fail" and check["metrics"]["failure_categories"] == {}
    [finding] = check["findings"]
    assert (finding["file"], finding["message"]) == ("c.jsonl", "p: never recorded: c.jsonl holds no answer for this "
                                                     "suite: run `gate check --record` and commit the cassette "
                                                     "(1 of 1 cases not compared)")
    assert check["summary"] == finding["message"]


@pytest.mark.parametrize(("baseline", "problem"), [
    ('{"suites": {"p": []}}', '$.suites["p"]: must be an object with a `cases` object'),
    ('{"suites": {"p": {"cases": {"a": 1}}}}', '$.suites["p"].cases["a"]: must be an object with a true/false `pass`'),
    ('{"suites": {"p": {"cases": {"a": {"pass": true, "scores": {"s": "high"}}}}}}',
     '$.suites["p"].cases["a"].scores: must map metric names to numbers'),
    ('{"format": 9, "suites": {}}', "baseline format 9, but this prodgate reads format 1"),
    ('{"format": true, "suites": {}}', "baseline format True, but this prodgate reads format 1"),  # True == 1
    ('{"suites": {"p": {"cases": {"a": {"pass": true, "repeats": 5}}}}}',
     '$.suites["p"].cases["a"].repeats: must be a list of objects'),
    ('{"suites": {"p": {"cases": {"a": {"pass": true, "output": ["x"]}}}}}',
     '$.suites["p"].cases["a"].output: must be a string'),
])
def test_regression_malformed_baseline_is_a_finding_exit_1(tmp_path: Path, baseline: str, problem: str) -> None:
    from gate.providers.base import ChatMessage, Request, Response
    from gate.providers.cassette import entry, write_cassette

    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - prompt: p.prompt.yml\n      dataset: d.jsonl\n")
    asked = Request(messages=(ChatMessage("user", "hi"),), variables={"q": "hi"}, case_id="p/a")
    write_cassette(tmp_path / "c.jsonl", [entry(asked, Response("hello"), "m")])
    (tmp_path / ".gate").mkdir()
    (tmp_path / ".gate" / "baseline.json").write_text(baseline, encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = res.json()["checks"][0]
    assert check["status"] == "fail" and check["metrics"]["passed"] == 1
    [finding] = check["findings"]
    assert finding["file"] == ".gate/baseline.json" and finding["message"].startswith(f".gate/baseline.json: {problem}")
    assert check["summary"].startswith("1 of 1 case passes (100.0%) in 1 suite; unusable baseline: .gate/baseline.json: ")
    assert "absolute results only" not in check["summary"]


def test_regression_test_data_duplicate_id_is_a_finding_exit_1(tmp_path: Path) -> None:
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n")
    (tmp_path / "p.prompt.yml").write_text(PROMPT + "testData:\n  - {id: a, q: hi}\n  - {q: there}\n  - {id: a, q: again}\n",
                                           encoding="utf-8")
    config.write_text(config.read_text(encoding="utf-8") + "prompts: ['*.prompt.yml']\n", encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = res.json()["checks"][0]
    assert [(f["file"], f["line"], f["message"]) for f in check["findings"]] == [
        ("p.prompt.yml", 9, "duplicate case id 'a' (first on line 7)")]


def test_regression_lone_surrogates_in_answer_dataset_and_cassette_replaced_not_a_crash(tmp_path: Path) -> None:
    # JSON allows "\ud800", UTF-8 does not: a model, an app, a dataset or a cassette can still hand one over.
    (tmp_path / "app.py").write_text('import json, sys\ncase = json.load(sys.stdin)\n'
                                     'print(json.dumps({"output": "bad \\ud800 answer to " + case["vars"]["q"]}))\n',
                                     encoding="utf-8")
    config = _repo(tmp_path, f"  suites:\n    - dataset: d.jsonl\n      target: {{command: [{sys.executable!r}, app.py]}}\n"
                             "      metrics: [{contains: zzz}]\n"
                             "    - name: r\n      dataset: d.jsonl\n      target: {replay: c.jsonl}\n"
                             "      metrics: [{contains: zzz}]\n",
                   dataset='{"id": "a\\udfff", "q": "x \\ud800 y"}\n')
    key = request_key(Request(variables={"q": "x \ufffd y"}, case_id="r/a\ufffd"))
    (tmp_path / "c.jsonl").write_text(json.dumps({"key": key, "response": {"content": "re \ud800 played"}}) + "\n",
                                      encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert res.json()["checks"][0]["status"] == "warn"  # every case fails, and no gate is configured
    suites = res.json()["checks"][0]["details"]["suites"]
    [case] = suites["d"]["cases"]
    assert (case["id"], case["input"], case["repeats"][0]["output"]) == (
        "a\ufffd", "q=x \ufffd y", "bad \ufffd answer to x \ufffd y")
    assert suites["r"]["cases"][0]["repeats"][0]["output"] == "re \ufffd played"


def test_regression_dataset_json_schema_file_assert_checks_answers(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text('import json, sys\ncase = json.load(sys.stdin)\nprint(json.dumps({"output": '
                                     'json.dumps({"answer": case["vars"]["q"]}) if case["vars"]["q"] else "{}"}))\n',
                                     encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "answer.json").write_text('{"type": "object", "required": ["answer"]}', encoding="utf-8")
    (tmp_path / "data" / "d.jsonl").write_text(
        '{"id": "good", "q": "hi", "assert": [{"json_schema": "answer.json"}]}\n'
        '{"id": "bad", "q": "", "assert": [{"json_schema": "answer.json"}]}\n', encoding="utf-8")
    config = _repo(tmp_path, f"  target: {{command: [{sys.executable!r}, app.py]}}\n  gates: {{min_pass_rate: 1}}\n"
                             "  suites:\n    - dataset: data/d.jsonl\n")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", "--full-report", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = res.json()["checks"][0]
    cases = {c["id"]: c for c in check["details"]["suites"]["d"]["cases"]}
    assert cases["good"]["pass"] and not cases["bad"]["pass"]
    assert cases["bad"]["category"] == "output.schema_violation"


def test_regression_dataset_json_schema_file_missing_finding_at_line(tmp_path: Path) -> None:
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - dataset: d.jsonl\n",
                   dataset='{"id": "a", "q": "hi", "assert": [{"json_schema": "gone.json"}]}\n')
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    [finding] = res.json()["checks"][0]["findings"]
    assert (finding["file"], finding["line"], finding["message"]) == (
        "d.jsonl", 1, "case a: assert[0]: json_schema gone.json: file not found")


@pytest.mark.parametrize(("line", "message"), [
    (json.dumps({"key": "K", "response": {"content": "ok", "latency_s": "slow"}}),
     "response.latency_s must be a number of seconds, not 'slow'"),
    (json.dumps({"key": "K", "response": {"content": "ok", "latency_s": -0.5}}),
     "response.latency_s must be a number of seconds, not -0.5"),
    ("[]", "a cassette line needs a string `key` and `response.content`"),
    ("\ufeff" + json.dumps({"key": "K", "response": {"content": "ok"}}),
     "starts with a byte-order mark: save the cassette as UTF-8 without one"),
])
def test_regression_cassette_defect_is_a_finding_at_its_line_exit_1(tmp_path: Path, line: str, message: str) -> None:
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - dataset: d.jsonl\n")
    key = request_key(Request(variables={"q": "hi"}, case_id="d/a"))
    (tmp_path / "c.jsonl").write_text(line.replace("K", key) + "\n", encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = res.json()["checks"][0]
    assert check["status"] == "fail" and check["summary"] == "1 defect in cassette c.jsonl: nothing was compared"
    assert [(f["file"], f["line"], f["message"]) for f in check["findings"]] == [("c.jsonl", 1, message)]


def test_regression_cassette_invalid_utf8_is_a_finding_exit_1(tmp_path: Path) -> None:
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - dataset: d.jsonl\n")
    (tmp_path / "c.jsonl").write_bytes(b'{"key": "k", "response": {"content": "ok"}}\n{"key": "\xff"}\n')
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    [finding] = res.json()["checks"][0]["findings"]
    assert (finding["file"], finding["line"]) == ("c.jsonl", 2) and finding["message"].startswith("not UTF-8")


def test_regression_missing_cassette_exit_2_at_gate_yaml_line(tmp_path: Path) -> None:
    config = _repo(tmp_path, "  target: {replay: gone.jsonl}\n  suites:\n    - dataset: d.jsonl\n")
    res = gate_subprocess("check", "-c", config, "--only", "regression", cwd=tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.splitlines()[0].startswith("error: gate.yaml:3:")
    assert "cassette gone.jsonl does not exist" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize(("tail", "line", "message"), [
    ("evaluators:\n  - {name: e, string: 1}\n", 9, "$.evaluators[0].string: 1 is not of type 'object'"),
    ("evaluators:\n  - {name: e, llm: 1}\n", 9, "$.evaluators[0].llm: 1 is not of type 'object'"),
    ("evaluators:\n  - name: e\n    llm: {prompt: x, modelId: m, choices: x}\n", 10,
     "$.evaluators[0].llm.choices: 'x' is not of type 'array'"),
    ("evaluators:\n  - name: e\n    llm: {prompt: x, modelId: m, choices: [{choice: a, score: high}]}\n", 10,
     "$.evaluators[0].llm.choices[0].score: 'high' is not of type 'number'"),
    ("evaluators:\n  - {name: e, uses: 5}\n", 9, "$.evaluators[0].uses: 5 is not of type 'string'"),
    ("evaluators:\n  - {name: e, uses: github/nope}\n", 9, "unknown built-in evaluator 'github/nope' (known: "),
    ("evaluators:\n  - {name: e, uses: nope}\n", 9, "unknown built-in evaluator 'nope' (known: "),
    ("evaluators: x\n", 8, "$.evaluators: 'x' is not of type 'array'"),
    ("modelParameters: {maxTokens: x}\n", 8, "$.modelParameters.maxTokens: 'x' is not of type 'number'"),
])
def test_regression_wrong_typed_prompt_evaluator_is_a_finding_not_a_crash(
        tmp_path: Path, tail: str, line: int, message: str) -> None:
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - prompt: p.prompt.yml\n")
    (tmp_path / "p.prompt.yml").write_text(PROMPT + "testData:\n  - {q: hi}\n" + tail, encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = res.json()["checks"][0]
    assert check["summary"] == "1 defect in the suites' files: nothing was run"
    [finding] = check["findings"]
    assert (finding["file"], finding["line"]) == ("p.prompt.yml", line) and finding["message"].startswith(message)


@pytest.mark.parametrize(("prompt", "line", "message"), [
    (PROMPT + "testData:\n  - x\n  - 3\n", 7, "$.testData[0]: 'x' is not of type 'object'"),
    # gh-models reads a null content as empty, but refuses a list of parts.
    (PROMPT.replace("'{{q}}'", "[{type: text}]") + "testData:\n  - {q: hi}\n", 5,
     "$.messages[0].content: [{'type': 'text'}] is not of type 'string', 'number', 'boolean'"),
    ("name: p\nmodel: m\nmessages: hi\ntestData:\n  - {q: hi}\n", 3, "$.messages: 'hi' is not of type 'array'"),
])
def test_regression_wrong_typed_prompt_rows_or_messages_are_findings(
        tmp_path: Path, prompt: str, line: int, message: str) -> None:
    config = _repo(tmp_path, "  target: {replay: c.jsonl}\n  suites:\n    - prompt: p.prompt.yml\n")
    (tmp_path / "p.prompt.yml").write_text(prompt, encoding="utf-8")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    findings = res.json()["checks"][0]["findings"]
    assert (findings[0]["file"], findings[0]["line"], findings[0]["message"]) == ("p.prompt.yml", line, message)


@pytest.mark.parametrize(("metrics", "dataset", "line", "message"), [
    ("", '{"id": "a", "q": "hi", "assert": [{"regex": "("}]}\n', 1,
     "case a: regex (: invalid regular expression: missing ), unterminated subpattern at position 0"),
    ("      metrics: [{regex: '{{q}}'}]\n", '{"id": "a", "q": "hi"}\n{"id": "b", "q": "("}\n', 2,
     "case b: regex {{q}}: invalid regular expression: missing ), unterminated subpattern at position 0"),
])
def test_regression_invalid_regex_after_substitution_is_a_finding_at_the_case(
        tmp_path: Path, metrics: str, dataset: str, line: int, message: str) -> None:
    (tmp_path / "app.py").write_text('import json, sys\njson.load(sys.stdin)\nprint(json.dumps({"output": "hi"}))\n',
                                     encoding="utf-8")
    config = _repo(tmp_path, f"  suites:\n    - dataset: d.jsonl\n      target: {{command: [{sys.executable!r}, app.py]}}\n"
                   + metrics, dataset)
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    [finding] = res.json()["checks"][0]["findings"]
    assert (finding["file"], finding["line"], finding["message"]) == ("d.jsonl", line, message)


@pytest.fixture
def schema_server() -> Iterator[tuple[str, list[str]]]:
    """A loopback server that would serve any schema: the paths asked for are recorded."""
    asked: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            asked.append(self.path)
            body = b'{"type": "object"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/schema+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/s.json", asked
    server.shutdown()
    server.server_close()


def test_regression_remote_ref_in_gate_yaml_is_exit_2_and_never_fetched(
        tmp_path: Path, schema_server: tuple[str, list[str]]) -> None:
    url, asked = schema_server
    config = _repo(tmp_path, f"  target: {{replay: c.jsonl}}\n  suites:\n    - dataset: d.jsonl\n"
                             f"      metrics: [{{json_schema: {{$ref: '{url}'}}}}]\n")
    res = gate_subprocess("check", "-c", config, "--only", "regression", cwd=tmp_path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.splitlines()[0] == (f"error: gate.yaml:6:31: $ref '{url}' is not in the schema: a remote $ref "
                                          "is never fetched (copy its schema under $defs)")
    assert asked == []


@pytest.mark.parametrize("ref", ["#/$defs/nope", "REMOTE"])
def test_regression_unresolvable_ref_in_a_case_schema_is_a_finding_never_fetched(
        tmp_path: Path, schema_server: tuple[str, list[str]], ref: str) -> None:
    url, asked = schema_server
    ref = url if ref == "REMOTE" else ref
    (tmp_path / "app.py").write_text('import json, sys\njson.load(sys.stdin)\nprint(json.dumps({"output": "{}"}))\n',
                                     encoding="utf-8")
    row = {"id": "a", "q": "hi", "assert": [{"json_schema": {"$ref": ref}}]}
    config = _repo(tmp_path, f"  suites:\n    - dataset: d.jsonl\n      target: {{command: [{sys.executable!r}, app.py]}}\n",
                   json.dumps(row) + "\n")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    [finding] = res.json()["checks"][0]["findings"]
    assert (finding["file"], finding["line"]) == ("d.jsonl", 1)
    assert finding["message"].startswith(f"case a: assert[0]: json_schema $ref {ref!r} ")
    assert asked == []


def test_regression_local_refs_and_metaschema_ref_still_validate_answers(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text('import json, sys\njson.load(sys.stdin)\nprint(json.dumps({"output": \'{"a": 1}\'}))\n',
                                     encoding="utf-8")
    config = _repo(tmp_path, f"  suites:\n    - dataset: d.jsonl\n      target: {{command: [{sys.executable!r}, app.py]}}\n"
                             "      metrics:\n"
                             "        - {name: defs, json_schema: {$ref: '#/$defs/a', $defs: {a: {required: [a]}}}}\n"
                             "        - {name: meta, json_schema: {$ref: 'https://json-schema.org/draft/2020-12/schema'}}\n"
                             "        - {name: miss, json_schema: {$ref: '#/$defs/a', $defs: {a: {required: [b]}}}}\n")
    res = gate("check", "-c", config, "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 0, res.stdout + res.stderr  # a failed case without gates warns
    [case] = res.json()["checks"][0]["details"]["suites"]["d"]["cases"]
    assert case["scores"] == {"defs": 1.0, "meta": 1.0, "miss": 0.0}, case


def test_regression_null_test_data_row_is_skipped_with_a_notice_and_a_schema_finding(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text('import json, sys\ncase = json.load(sys.stdin)\n'
                                     'print(json.dumps({"output": case["messages"][-1]["content"]}))\n', encoding="utf-8")
    (tmp_path / "a.prompt.yml").write_text(
        "name: a\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n    content: 'say {{q}}'\n"
        "testData:\n  - ~\n  - {q: x}\n  -\n  - {q: y}\nevaluators:\n  - name: says\n    string: {contains: say}\n",
        encoding="utf-8")
    (tmp_path / "gate.yaml").write_text(f"version: 1\nprompts: ['*.prompt.yml']\nregression:\n"
                                        f"  target: {{command: [{json.dumps(sys.executable)}, app.py]}}\n", encoding="utf-8")
    res = gate("check", "--only", "schema,regression", "--format", "json", "--full-report", cwd=tmp_path)
    assert res.exit_code == 1, res.stdout + res.stderr
    schema, regression = (next(c for c in res.json()["checks"] if c["name"] == n) for n in ("schema", "regression"))
    assert schema["status"] == "fail"
    assert [(f["file"], f["line"]) for f in schema["findings"] if f["severity"] == "error"] == [
        ("a.prompt.yml", 7), ("a.prompt.yml", 9)]
    assert regression["status"] == "pass"
    assert [(f["severity"], f["line"], f["message"]) for f in regression["findings"]] == [
        ("notice", 7, "testData row 1 is null: skipped (give it its variables, or remove it)"),
        ("notice", 9, "testData row 3 is null: skipped (give it its variables, or remove it)")]
    # The other rows keep their ids and lines: the positions in testData, null rows counted.
    cases = regression["details"]["suites"]["a"]["cases"]
    assert [(c["id"], c["line"]) for c in cases] == [("row-2", 8), ("row-4", 10)]
    assert regression["metrics"]["cases"] == 2 and regression["metrics"]["passed"] == 2
