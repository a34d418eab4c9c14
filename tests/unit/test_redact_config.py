"""What gate.yaml and models.yaml tell redaction: redact_env, every *_env name, and credentials pasted in their place."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gate.config import load_config
from gate.gitref import BaseRef
from gate.report import CheckResult, Finding, Severity, Status
from gate.runner import config_secrets, run_checks
from tests.conftest import gate

PASTED = "Zq81uT5vLm30Pe77Xa4kQ2"  # a key pasted where a variable's name belongs (a valid identifier)


class Echo:
    """Echoes what its section's *_env field says, as a check reporting a missing variable does."""

    name = "echo"
    section = "echo"
    description = "names its api_key_env in a finding"

    def run(self, ctx: Any) -> CheckResult:
        field = ctx.config.section("echo")["api_key_env"]
        return CheckResult(self.name, Status.FAIL, f"environment variable {field} is not set",
                           findings=(Finding(Severity.ERROR, f"set {field}", "gate.yaml", 3),),
                           details={field: {"note": f"value of {field}"}})


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_config_secrets_redact_env_and_env_names_and_pasted_values(tmp_path: Path, monkeypatch: Any) -> None:
    models = tmp_path / "models.yaml"
    models.write_text("models:\n  m: {provider: openai, model: gpt-4o, api_key_env: LLM_UPSTREAM_A}\n")
    config = load_config(write(tmp_path, "version: 1\nmodels: models.yaml\nredact_env: [PLAIN_NAME_B]\n"
                                         "load:\n  target: {url: 'http://127.0.0.1:9', headers_env: {X-Org: ORG_C}}\n"))
    env = {"LLM_UPSTREAM_A": "value-aaaaaaaa", "PLAIN_NAME_B": "value-bbbbbbbb", "ORG_C": "value-cccccccc",
           "UNNAMED_D": "value-dddddddd", "SHORTISH": "value"}
    assert config_secrets(config, env) == ["value-aaaaaaaa", "value-bbbbbbbb", "value-cccccccc"]


def test_run_checks_pasted_key_in_env_field_not_echoed(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, f"version: 1\necho:\n  api_key_env: {PASTED}\n"),
                         {"echo": {"type": "object"}})
    base = BaseRef(None, None, None, None, "no git")
    report = run_checks(config, base, [Echo()])  # type: ignore[list-item]
    text = report.to_json()
    assert PASTED not in text
    check = report.checks[0]
    assert check.summary == "environment variable [redacted] is not set"
    assert check.details == {"[redacted]": {"note": "value of [redacted]"}}


def test_run_checks_env_name_in_env_field_stays_readable(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "version: 1\necho:\n  api_key_env: OPENAI_API_KEY\n"),
                         {"echo": {"type": "object"}})
    report = run_checks(config, BaseRef(None, None, None, None, "no git"), [Echo()])  # type: ignore[list-item]
    assert report.checks[0].summary == "environment variable OPENAI_API_KEY is not set"


def test_config_error_value_in_env_field_not_echoed(tmp_path: Path) -> None:
    key = "Zq81-uT5v-Lm30-Pe77-Xa4k-" + "p" * 60  # long: the shortened echo kept its head and tail
    write(tmp_path, f"version: 1\nload:\n  target: {{url: 'http://127.0.0.1:9', api_key_env: {key}}}\n"
                    f"redact_env: [OK_NAME, {key}]\n")
    res = gate("check", "-c", "gate.yaml", cwd=tmp_path)
    assert res.exit_code == 2
    lines = res.stderr.splitlines()
    assert [line.split(": $")[0] for line in lines] == ["error: gate.yaml:3:52", "error: gate.yaml:4:23"]
    assert all("must name an environment variable" in line for line in lines)
    assert not any(key[i:i + 6] in res.stderr for i in range(len(key) - 5))


def test_config_error_long_key_in_other_field_redacted_before_shortened(tmp_path: Path) -> None:
    key = "sk-proj-" + "Q7w8E9r0" * 20  # 168 characters, as real project keys are
    write(tmp_path, f"version: 1\nschema:\n  strict: {key}\n")
    res = gate("check", "-c", "gate.yaml", cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: gate.yaml:3:11: $.schema.strict: '[redacted]' is not of type 'boolean'"
