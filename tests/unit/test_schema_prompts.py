"""The schema check on prompt files and models.yaml: each defect is one finding at its file:line."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from tests.conftest import gate

GOOD = """name: Support answer
version: 1.0.0
model: primary
modelParameters:
  temperature: 0.2
  maxTokens: 100
messages:
  - role: system
    content: Answer briefly.
  - role: user
    content: "{{question}}"
testData:
  - question: How do I reset my password?
    expected: Settings
evaluators:
  - name: mentions settings
    string:
      contains: "{{expected}}"
"""

MODELS = """models:
  primary:
    provider: openai
    model: gpt-4o-mini
    api_key_env: OPENAI_API_KEY
    fallback: [backup]
  backup:
    provider: openai
    model: gpt-4.1-mini
    api_key_env: OPENAI_API_KEY
"""


def run(tmp_path: Path, prompt: str, models: str = MODELS, strict: bool = False) -> tuple[int, dict]:
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "a.prompt.yml").write_text(prompt)
    (tmp_path / "models.yaml").write_text(models)
    (tmp_path / "gate.yaml").write_text(
        f"version: 1\nprompts: ['prompts/*.prompt.yml']\nmodels: models.yaml\nschema: {{strict: {str(strict).lower()}}}\n")
    res = gate("validate", "--format", "json", cwd=tmp_path)
    check = res.json()["checks"][0]
    # Outside a git repository the check notes that versions were not compared: not under test here.
    check["findings"] = [f for f in check["findings"] if "not inside a git repository" not in f["message"]]
    return res.exit_code, check


def located(check: dict, severity: str) -> list[tuple[str, int, str]]:
    return [(f.get("file", ""), f.get("line", 0), f["message"]) for f in check["findings"] if f["severity"] == severity]


def test_prompt_valid_file_passes(tmp_path: Path) -> None:
    code, check = run(tmp_path, GOOD)
    assert code == 0
    assert check["status"] == "pass"
    assert check["metrics"]["prompts"] == 1 and check["metrics"]["models"] == 2


# (id, transformation of GOOD, severity, line, phrase)
PROMPT_DEFECTS = [
    ("unknown-key", lambda s: s + "temprature: 1\n", "warning", 19, "unknown key 'temprature'"),
    ("snake-case-param", lambda s: s.replace("maxTokens: 100", "max_tokens: 100"), "warning", 6, "write 'maxTokens'"),
    ("spaced-placeholder", lambda s: s.replace('"{{question}}"', '"{{ question }}"'), "warning", 11, "has spaces"),
    ("unsupplied-variable", lambda s: s.replace('"{{question}}"', '"{{question}} {{tone}}"'), "warning", 11,
     "{{tone}} is supplied by no testData row"),
    ("bad-role", lambda s: s.replace("role: system", "role: developer"), "error", 8, "role 'developer'"),
    ("role-case-insensitive-ok", lambda s: s.replace("role: system", "role: System"), None, 0, ""),
    ("unknown-model", lambda s: s.replace("model: primary", "model: gpt5"), "error", 3, "model 'gpt5'"),
    ("publisher-model-ok", lambda s: s.replace("model: primary", "model: openai/gpt-4o"), None, 0, ""),
    ("temperature-type", lambda s: s.replace("temperature: 0.2", "temperature: hot"), "error", 5, "is not of type 'number'"),
    ("max-tokens-zero", lambda s: s.replace("maxTokens: 100", "maxTokens: 0"), "error", 6, "less than the minimum of 1"),
    ("messages-not-list", lambda s: s.replace("messages:\n  - role: system\n    content: Answer briefly.\n  - role: user\n    content: \"{{question}}\"\n", "messages: hello\n"), "error", 7, "is not of type 'array'"),
    ("no-evaluator-kind", lambda s: s.replace("    string:\n      contains: \"{{expected}}\"\n", "    strin: {}\n"), "error", 16,
     "none of string, llm or uses"),
    ("unknown-builtin", lambda s: s.replace("    string:\n      contains: \"{{expected}}\"\n", "    uses: github/similarty\n"), "error", 17,
     "did you mean 'github/similarity'"),
    ("empty-string-evaluator", lambda s: s.replace('contains: "{{expected}}"', "contains: ''"), "error", 18, "needs one of equals"),
    ("json-schema-missing", lambda s: s + "responseFormat: json_schema\n", "error", 19, "needs a jsonSchema"),
    ("json-schema-not-json", lambda s: s + "responseFormat: json_schema\njsonSchema: '{not json'\n", "error", 20, "not valid JSON"),
    ("json-schema-no-name", lambda s: s + "responseFormat: json_schema\njsonSchema: '{\"schema\": {\"type\": \"object\"}}'\n", "error", 20,
     "no 'name' field"),
    ("json-schema-object", lambda s: s + "responseFormat: json_schema\njsonSchema:\n  name: x\n", "error", 21, "is not of type 'string'"),
    ("bad-response-format", lambda s: s + "responseFormat: xml\n", "error", 19, "is not one of"),
    ("yaml-error", lambda s: s.replace("name: Support answer", "name: [Support"), "error", 2, "invalid YAML"),
    ("not-a-mapping", lambda s: "- just\n- a list\n", "error", 1, "must be a mapping"),
    ("bad-semver", lambda s: s.replace("version: 1.0.0", "version: 'v1.0.0'"), "error", 2, "not a version like 1.2.0"),
    ("test-data-not-list", lambda s: s.replace("testData:\n  - question: How do I reset my password?\n    expected: Settings\n",
                                               "testData: 1\n"), "error", 12, "is not of type 'array'"),
    ("evaluators-not-list", lambda s: s.split("evaluators:")[0] + "evaluators: 1\n", "error", 15, "is not of type 'array'"),
]


@pytest.mark.parametrize(("case", "change", "severity", "line", "phrase"), PROMPT_DEFECTS, ids=[c[0] for c in PROMPT_DEFECTS])
def test_prompt_defect_is_one_finding_at_its_line(tmp_path: Path, case: str, change, severity, line, phrase) -> None:
    code, check = run(tmp_path, change(GOOD))
    if severity is None:
        assert code == 0 and check["findings"] == [], check["findings"]
        return
    hits = [f for f in located(check, severity) if phrase in f[2]]
    assert hits, check["findings"]
    assert hits[0][:2] == ("prompts/a.prompt.yml", line) or hits[0][1] == line, hits
    assert code == (1 if severity == "error" else 0)
    assert check["status"] == ("fail" if severity == "error" else "warn")


def test_prompt_warning_becomes_failure_under_strict(tmp_path: Path) -> None:
    code, check = run(tmp_path, GOOD.replace("maxTokens", "max_tokens"), strict=True)
    assert code == 1 and check["status"] == "fail"
    assert [f["severity"] for f in check["findings"]] == ["error"]


MODEL_DEFECTS = [
    ("dangling-fallback", MODELS.replace("fallback: [backup]", "fallback: [bakup]"), 6, "no model named 'bakup'"),
    ("cycle", MODELS + "    fallback: primary\n", 6, "cycle: primary -> backup -> primary"),
    ("self-fallback", MODELS.replace("fallback: [backup]", "fallback: primary"), 6, "fall back to itself"),
    ("unknown-provider", MODELS.replace("provider: openai\n    model: gpt-4.1", "provider: opena\n    model: gpt-4.1"), 8, "is not one of"),
    ("literal-key", MODELS.replace("api_key_env: OPENAI_API_KEY\n    fallback", "api_key: x\n    fallback"), 5, "api_key_env"),
    ("missing-model-id", MODELS.replace("    model: gpt-4o-mini\n", ""), 3, "'model' is required"),
    ("base-url-needed", MODELS.replace("provider: openai\n    model: gpt-4o-mini", "provider: vllm\n    model: llama"), 3, "needs a base_url"),
    ("bad-env-name", MODELS.replace("api_key_env: OPENAI_API_KEY\n    fallback", "api_key_env: 'my key'\n    fallback"), 5, "must name an environment variable"),
    ("default-unknown", "default: nope\n" + MODELS, 1, "no model named 'nope'"),
    ("timeout-not-number", MODELS.replace("fallback: [backup]", "timeout: fast"), 6, "'fast' is not of type 'number'"),
    ("params-not-mapping", MODELS.replace("fallback: [backup]", "params: [1]"), 6, "is not of type 'object'"),
    ("headers-env-list", MODELS.replace("fallback: [backup]", "headers_env: [X]"), 6, "is not of type 'object'"),
    ("key-env-not-text", MODELS.replace("api_key_env: OPENAI_API_KEY\n    fallback", "api_key_env: 5\n    fallback"), 5,
     "5 is not of type 'string'"),
]


@pytest.mark.parametrize(("case", "models", "line", "phrase"), MODEL_DEFECTS, ids=[c[0] for c in MODEL_DEFECTS])
def test_models_defect_fails_with_line(tmp_path: Path, case: str, models: str, line: int, phrase: str) -> None:
    code, check = run(tmp_path, GOOD, models=models)
    assert code == 1, check
    hits = [f for f in located(check, "error") if f[0] == "models.yaml" and phrase in f[2]]
    assert hits and hits[0][1] == line, check["findings"]


def test_models_yaml_syntax_error_is_a_finding_not_exit_2(tmp_path: Path) -> None:
    code, check = run(tmp_path, GOOD, models="models: [\n")
    assert code == 1
    assert located(check, "error")[0][:2] == ("models.yaml", 2)


def test_secret_in_prompt_fails_and_value_never_echoed(tmp_path: Path) -> None:
    key = "sk-proj-" + "A1b2C3d4" * 6
    code, check = run(tmp_path, GOOD.replace("Answer briefly.", f"Use key {key} for lookups."))
    assert code == 1
    hits = [f for f in check["findings"] if f.get("category") == "secret"]
    assert [(h["file"], h["line"], h["column"]) for h in hits] == [("prompts/a.prompt.yml", 9, 22)]
    assert "OpenAI API key" in hits[0]["message"]
    assert key not in json.dumps(check)


def noise(n: int) -> str:
    """Credential-shaped filler: a row of one character would read as a placeholder (ghp_xxxx...)."""
    return ("aB3dE6gH9jK2mN5pQ8sT1vW4yZ7" * 4)[:n]


@pytest.mark.parametrize("secret", [
    "ghp_" + noise(36), "github_pat_" + noise(30), "AKIA" + "ABCDEFGHIJKLMNOP", "sk-ant-api03-" + noise(30),
    "Bearer " + noise(40),
])
def test_secret_kinds_detected_in_gate_yaml(tmp_path: Path, secret: str) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.prompt.yml").write_text(GOOD.replace("model: primary", "model: openai/gpt-4o"))
    (tmp_path / "gate.yaml").write_text(f"version: 1\n# token: {secret}\nprompts: ['prompts/*.prompt.yml']\n")
    res = gate("validate", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1
    findings = res.json()["checks"][0]["findings"]
    assert [(f.get("file"), f.get("line")) for f in findings if f["severity"] == "error"] == [("gate.yaml", 2)]
    assert secret not in res.stdout + res.stderr


def test_secret_allow_marker_suppresses(tmp_path: Path) -> None:
    code, check = run(tmp_path, GOOD.replace("Answer briefly.", "Example sk-" + "z" * 30 + "  # gate: allow-secret"))
    assert code == 0 and check["findings"] == []


def test_secret_in_a_file_gate_yaml_names_by_glob_is_found(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.prompt.yml").write_text(GOOD.replace("model: primary", "model: openai/gpt-4o"))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "runbook.md").write_text("# Runbook\n\nUse AKIAABCDEFGHIJKLMNOP to log in.\n")
    (tmp_path / "gate.yaml").write_text("version: 1\nprompts: ['prompts/*.prompt.yml']\ndocs: {failure_modes: 'docs/*.md'}\n")
    res = gate("validate", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1
    errors = [(f["file"], f["line"]) for f in res.json()["checks"][0]["findings"] if f["severity"] == "error"]
    assert errors == [("docs/runbook.md", 3)]


CORPUS = Path(__file__).resolve().parent.parent / "fixtures" / "prompts"


def corpus_labels() -> dict[str, tuple[str, set[str]]]:
    """file (relative to the corpus) -> (what gh-models does with it, the rule ids expected)."""
    out = {}
    for path in sorted([*CORPUS.rglob("*.prompt.yml"), *CORPUS.rglob("*.prompt.yaml")]):
        head = path.read_text(encoding="utf-8").split("\n", 2)
        verdict = head[0].removeprefix("# gh-models: ").strip()
        expected = head[1].removeprefix("# expect: ").split()
        out[path.relative_to(CORPUS).as_posix()] = (verdict, set(expected) - {"none"})
    return out


def test_corpus_each_file_gets_exactly_its_labelled_rules(tmp_path: Path) -> None:
    shutil.copytree(CORPUS, tmp_path / "repo")
    (tmp_path / "repo" / "gate.yaml").write_text("version: 1\nprompts: ['**/*.prompt.y*ml']\n", encoding="utf-8")
    res = gate("validate", "--format", "json", cwd=tmp_path / "repo")
    assert res.exit_code == 1, res.stderr
    check = res.json()["checks"][0]
    labels = corpus_labels()
    assert len(labels) >= 50 and check["metrics"]["prompts"] == len(labels)
    got: dict[str, set[str]] = {name: set() for name in labels}
    errors: dict[str, int] = {name: 0 for name in labels}
    for f in check["findings"]:
        if f.get("rule") == "PG303":  # not a git repository: versions not compared
            continue
        got[f["file"]].add(f["rule"])
        errors[f["file"]] += f["severity"] == "error"
    assert {n: got[n] for n in labels} == {n: rules for n, (_, rules) in labels.items()}
    for name, (verdict, _) in labels.items():
        assert verdict in ("loads", "misreads", "refuses"), name
        # A file gh-models loads gets no error; one it refuses gets at least one.
        assert (errors[name] > 0) == (verdict == "refuses"), (name, verdict, errors[name])


def findings_of(tmp_path: Path, prompt: str, gate_yaml: str = "", files: dict[str, str] | None = None
                ) -> tuple[int, list[dict]]:
    """gate validate over one prompt file (prompts/a.prompt.yml) and gate.yaml extras; findings without PG303."""
    (tmp_path / "prompts").mkdir(exist_ok=True)
    (tmp_path / "prompts" / "a.prompt.yml").write_text(prompt, encoding="utf-8")
    for rel, text in (files or {}).items():
        (tmp_path / rel).write_text(text, encoding="utf-8")
    (tmp_path / "gate.yaml").write_text("version: 1\nprompts: ['prompts/*.prompt.yml']\n" + gate_yaml, encoding="utf-8")
    res = gate("validate", "--format", "json", cwd=tmp_path)
    assert res.exit_code in (0, 1), res.stderr
    return res.exit_code, [f for f in res.json()["checks"][0]["findings"] if f.get("rule") != "PG303"]


BLOCK = """name: p
model: openai/gpt-4o-mini
messages:
  - role: user
    content: |
      First line.
      Question: {{ input }}
      Again: {{ input }} and {{.input}}
testData:
  - input: hi
"""


def test_placeholder_spaced_in_block_one_finding_at_its_own_line(tmp_path: Path) -> None:
    code, found = findings_of(tmp_path, BLOCK)
    assert code == 0
    assert [(f["rule"], f["line"]) for f in found] == [("PG130", 7), ("PG131", 8)]
    assert found[0]["message"] == "placeholder {{ input }} has spaces: gh-models only substitutes {{input}}"


def test_version_numeric_is_one_warning_not_a_type_error_too(tmp_path: Path) -> None:
    code, found = findings_of(tmp_path, "version: 1.10\n" + BLOCK.replace("{{ input }}", "{{input}}").replace(
        " and {{.input}}", ""))
    assert code == 0
    assert [(f["rule"], f["severity"], f["line"]) for f in found] == [("PG151", "warning", 1)]
    assert "version: '1.1'" in found[0]["message"]  # what YAML made of 1.10, quoted


def test_messages_quote_values_as_yaml_writes_them(tmp_path: Path) -> None:
    code, found = findings_of(tmp_path, "version: true\nname: p\nmodel: openai/gpt-4o-mini\n"
                                        "messages:\n  - role: true\n    content: hi\n")
    assert code == 1
    messages = [f["message"] for f in found]
    assert messages == ["version true is not a version like 1.2.0 (or 1.2, or 1)",
                        "$.messages[0].role: true is not of type 'string'"]
    assert [f["rule"] for f in found] == ["PG150", "PG105"]


def test_wrong_typed_builtin_is_one_finding(tmp_path: Path) -> None:
    code, found = findings_of(tmp_path, "name: p\nmodel: openai/gpt-4o-mini\nmessages:\n  - {role: user, content: hi}\n"
                                        "evaluators:\n  - {name: e, uses: 5}\n")
    assert code == 1
    assert [(f["rule"], f["line"], f["message"]) for f in found] == [
        ("PG105", 6, "$.evaluators[0].uses: 5 is not of type 'string'")]


def test_model_missing_in_untargeted_regression_suite_is_an_error(tmp_path: Path) -> None:
    prompt = "name: p\nmessages:\n  - role: user\n    content: '{{q}}'\ntestData:\n  - q: hi\n"
    code, found = findings_of(tmp_path, prompt, "regression:\n  suites:\n    - prompt: prompts/a.prompt.yml\n")
    assert code == 1
    assert [(f["rule"], f["severity"], f["line"]) for f in found] == [("PG112", "error", 6)]


def test_model_missing_with_a_suite_target_is_only_a_warning(tmp_path: Path) -> None:
    prompt = "name: p\nmessages:\n  - role: user\n    content: '{{q}}'\ntestData:\n  - q: hi\n"
    code, found = findings_of(tmp_path, prompt, "regression:\n  target: {replay: c.jsonl}\n",
                              files={"c.jsonl": ""})
    assert code == 0
    assert [(f["rule"], f["severity"]) for f in found] == [("PG111", "warning")]


def test_suppress_by_schema_ignore_id_or_name(tmp_path: Path) -> None:
    code, found = findings_of(tmp_path, BLOCK, "schema:\n  ignore: [PG130, placeholder-go-template]\n")
    assert code == 0 and found == []


def test_suppress_inline_marker_on_the_line_or_the_block_header(tmp_path: Path) -> None:
    prompt = BLOCK.replace("content: |", "content: |  # gate: ignore[PG130, PG131]").replace(
        "model: openai/gpt-4o-mini", "model: openai/gpt-4o-mini\ntags: [a]  # gate: ignore[key-ignored]")
    code, found = findings_of(tmp_path, prompt)
    assert code == 0 and found == []
    # A marker for another rule suppresses nothing.
    code, found = findings_of(tmp_path, BLOCK.replace("content: |", "content: |  # gate: ignore[PG108]"))
    assert [f["rule"] for f in found] == ["PG130", "PG131"]


def test_suppress_unknown_rule_in_schema_ignore_is_exit_2_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.prompt.yml").write_text(BLOCK, encoding="utf-8")
    (tmp_path / "gate.yaml").write_text("version: 1\nprompts: ['prompts/*.prompt.yml']\nschema:\n  ignore: [placeholder-spacd]\n",
                                        encoding="utf-8")
    res = gate("validate", cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: gate.yaml:4:12: unknown rule 'placeholder-spacd' (did you mean 'placeholder-spaced'?)"), res.stderr


def test_secret_line_numbers_ignore_unicode_line_separators(tmp_path: Path) -> None:
    key = "AKIA" + "QWERTYUIOPASDFGH"
    notes = f"a\u2028b\u2029c\u0085d\nuse {key}\n"
    code, found = findings_of(tmp_path, BLOCK, "schema:\n  extra_files: [notes.txt]\n", files={"notes.txt": notes})
    assert code == 1
    assert [(f["file"], f["line"], f["column"]) for f in found if f["rule"] == "PG400"] == [("notes.txt", 2, 5)]


def test_secret_allow_marker_on_the_line_before_a_block_covers_the_block(tmp_path: Path) -> None:
    key = "ghp_" + noise(36)
    prompt = (f"name: p\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n    # gate: allow-secret\n"
              f"    content: |\n      Replace {key} with [token].\n      and {key}\n  - role: user\n"
              f"    content: |\n      {key}\n")
    code, found = findings_of(tmp_path, prompt)
    assert code == 1
    assert [(f["rule"], f["line"]) for f in found] == [("PG400", 11)]  # only the block the marker does not cover


def test_secret_placeholders_and_documented_examples_pass(tmp_path: Path) -> None:
    prompt = ("name: p\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n    content: |\n"
              "      Tokens look like ghp_" + "x" * 36 + " or sk-" + "X" * 40 + ".\n"
              "      AWS documents AKIAIOSFODNN7EXAMPLE and Bearer <your-token-here> as examples.\n")
    code, found = findings_of(tmp_path, prompt)
    assert code == 0 and found == []


ANSWERS = """import json, sys
case = json.load(sys.stdin)
print(json.dumps({"output": case["vars"]["answer"]}))
"""


def test_regression_falsy_string_criteria_compare_as_gh_models_reads_them(tmp_path: Path) -> None:
    prompt = ("name: p\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n    content: '{{answer}}'\n"
              "testData:\n  - {id: zero, answer: '0'}\n  - {id: lower, answer: 'true'}\n  - {id: upper, answer: 'True'}\n"
              "evaluators:\n  - name: zero\n    string: {equals: 0}\n  - name: truth\n    string: {equals: true}\n")
    (tmp_path / "app.py").write_text(ANSWERS, encoding="utf-8")
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "a.prompt.yml").write_text(prompt, encoding="utf-8")
    (tmp_path / "gate.yaml").write_text(
        f"version: 1\nprompts: ['prompts/*.prompt.yml']\nregression:\n  target: {{command: [{sys.executable!r}, app.py]}}\n"
        "  suites:\n    - prompt: prompts/a.prompt.yml\n", encoding="utf-8")
    res = gate("check", "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code in (0, 1), res.stderr
    [suite] = res.json()["checks"][0]["details"]["suites"].values()
    scores = {c["id"]: c["scores"] for c in suite["cases"]}
    assert scores == {"zero": {"zero": 1.0, "truth": 0.0}, "lower": {"zero": 0.0, "truth": 1.0},
                      "upper": {"zero": 0.0, "truth": 0.0}}


def test_rules_docs_table_lists_every_rule_with_its_name_and_severity() -> None:
    from checks.schema.rules import RULES

    page = (Path(__file__).resolve().parent.parent.parent / "docs" / "rules.md").read_text(encoding="utf-8")
    rows = {line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| PG")}
    assert set(rows) == set(RULES)
    for rule in RULES.values():
        assert f"| `{rule.name}` | {rule.severity.value}" in rows[rule.id]


def test_messages_regression_check_quotes_prompt_values_as_yaml_too(tmp_path: Path) -> None:
    (tmp_path / "c.jsonl").write_text("", encoding="utf-8")
    (tmp_path / "p.prompt.yml").write_text("name: p\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n"
                                           "    content: '{{q}}'\ntestData:\n  - {q: hi}\nevaluators:\n"
                                           "  - {name: e, uses: true}\n", encoding="utf-8")
    (tmp_path / "gate.yaml").write_text("version: 1\nregression:\n  target: {replay: c.jsonl}\n  suites:\n"
                                        "    - prompt: p.prompt.yml\n", encoding="utf-8")
    res = gate("check", "--only", "regression", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1, res.stderr
    [finding] = res.json()["checks"][0]["findings"]
    assert (finding["line"], finding["message"]) == (9, "$.evaluators[0].uses: true is not of type 'string'")


COST_PROMPT = """name: Summarise
model: {model}
modelParameters:
  # maxTokens: 150
messages:
  - role: user
    content: "{{{{ticket}}}}"
---
"""


@pytest.mark.parametrize(("model", "code"), [("small", 0), ("openai/gpt-4o-mini", 0), ("openai//gpt-4o-mini", 1)])
def test_cost_reads_route_prompts_as_gh_models_does(tmp_path: Path, model: str, code: int) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "s.prompt.yml").write_text(COST_PROMPT.format(model=model), encoding="utf-8")
    (tmp_path / "models.yaml").write_text("version: 1\nmodels:\n  small: {provider: openai, model: gpt-4o-mini}\n",
                                          encoding="utf-8")
    (tmp_path / "traffic.yaml").write_text("version: 1\nroutes:\n  s:\n    prompt: prompts/s.prompt.yml\n"
                                           "    requests_per_day: 100\n    output_tokens: 50\nprofiles:\n  expected: {days_per_month: 30}\n",
                                           encoding="utf-8")
    (tmp_path / "gate.yaml").write_text("version: 1\nmodels: models.yaml\ncost:\n  traffic: traffic.yaml\n",
                                        encoding="utf-8")
    res = gate("check", "--only", "cost", "--format", "json", cwd=tmp_path)
    assert res.exit_code == code, res.stdout + res.stderr
    findings = res.json()["checks"][0]["findings"]
    if code:  # the model id gh-models rejects, at its line
        assert [(f["file"], f["line"]) for f in findings] == [("prompts/s.prompt.yml", 2)]
    else:
        assert not [f for f in findings if f["severity"] == "error"]


def test_jsonschema_nested_too_deep_is_one_finding_not_a_crash(tmp_path: Path) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    prompt = (f"name: p\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n    content: hi\n"
              f"jsonSchema: '{deep}'\n")
    code, found = findings_of(tmp_path, prompt)
    assert code == 1
    assert [(f["rule"], f["line"]) for f in found] == [("PG101", 6)]
    assert "nested deeper than" in found[0]["message"]


def test_placeholder_supplied_by_some_rows_only_names_how_many_lack_it(tmp_path: Path) -> None:
    prompt = ("name: p\nmodel: openai/gpt-4o-mini\nmessages:\n  - role: user\n    content: 'Use: {{context}} {{q}}'\n"
              "testData:\n  - {q: a, context: c}\n  - {q: b}\n  - {q: c}\n")
    code, found = findings_of(tmp_path, prompt)
    assert code == 0
    assert [(f["rule"], f["line"], f["message"]) for f in found] == [
        ("PG132", 5, "template variable {{context}} is missing from 2 of 3 testData rows: in those it stays literal")]
