"""`gate docs` and the docs check in `gate check`, end to end: the example, gate init, a plugin's failures."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import EXAMPLE, REPO, GitRepo, gate, gate_subprocess


def docs_check(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == "docs")


def example_copy(repo: GitRepo) -> Path:
    shutil.copytree(EXAMPLE, repo.path, dirs_exist_ok=True)
    repo.commit("example")
    return repo.path


def test_docs_cli_example_passes() -> None:
    res = gate("docs", "-c", EXAMPLE / "gate.yaml", "--format", "json", cwd=REPO)
    assert res.exit_code == 0, res.stdout + res.stderr
    report = res.json()
    assert [c["name"] for c in report["checks"]] == ["docs"]
    check = docs_check(report)
    assert check["status"] == "pass" and check["findings"] == []
    assert check["summary"] == "10/10 failure modes complete, 3/3 fallback models named"
    assert check["details"]["headline"]["value"] == "10/10 modes complete"
    assert {f["model"]: f["chain"] for f in check["details"]["fallbacks"]} == {
        "primary": ["primary", "backup"], "router": ["router", "primary", "backup"]}


def test_docs_cli_example_without_rate_limiting_fails_at_the_title(repo: GitRepo) -> None:
    root = example_copy(repo)
    doc = root / "docs" / "failure-modes.md"
    text = doc.read_text()
    doc.write_text(re.sub(r"## Rate limiting\n.*?(?=## Latency)", "", text, flags=re.S))
    res = gate_subprocess("docs", "--format", "json", cwd=root)
    assert res.exit_code == 1, res.stderr
    check = docs_check(res.json())
    assert check["status"] == "fail"
    assert [(f["file"], f["line"], f["message"].split(":")[0]) for f in check["findings"]] == [
        ("docs/failure-modes.md", 1, "no section documents the failure mode 'Rate limiting' (rate-limiting)")]
    was = next(i for i, t in enumerate(text.splitlines(), 1) if t == "## Rate limiting")
    assert check["findings"][0]["message"].endswith(f"(the base branch documents it at docs/failure-modes.md:{was})")
    assert check["details"]["headline"] == {"value": "9/10 modes complete", "change": "was 10/10"}


def test_docs_cli_example_undocumented_fallback_model_fails_at_models_yaml(repo: GitRepo) -> None:
    root = example_copy(repo)
    models = root / "models.yaml"
    models.write_text(models.read_text().replace("fallback: [backup]", "fallback: [backup, nano]") + (
        "  nano:\n    provider: github-models\n    model: openai/gpt-4.1-nano\n    api_key_env: GITHUB_TOKEN\n"))
    line = next(i for i, t in enumerate(models.read_text().splitlines(), 1) if "[backup, nano]" in t)
    res = gate("docs", cwd=root)
    assert res.exit_code == 1, res.stderr
    assert f"models.yaml:{line}: error: model 'nano' is in the fallback chain primary -> backup -> nano" in res.stdout
    assert "docs     FAIL" in res.stdout


def test_docs_cli_init_template_passes_gate_check(tmp_path: Path) -> None:
    assert gate("init", tmp_path / "app").exit_code == 0
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=tmp_path / "app", check=True)
    res = gate("check", "--format", "json", cwd=tmp_path / "app")
    assert res.exit_code == 0, res.stdout
    check = docs_check(res.json())
    assert check["status"] == "pass", check["findings"]
    assert check["summary"] == "9/9 failure modes complete (1 not applicable), 2/2 fallback models named"
    waived = [m for m in check["details"]["modes"] if m["state"] == "not applicable"]
    assert [m["id"] for m in waived] == ["retrieval-degradation"]


def test_docs_cli_catalogue_lists_every_mode() -> None:
    res = gate("docs", "--catalogue")
    assert res.exit_code == 0
    ids = re.findall(r"^([a-z-]+): ", res.stdout, re.M)
    assert ids == ["provider-outage", "rate-limiting", "latency-slo-breach", "malformed-output", "hallucination",
                   "prompt-injection", "sensitive-data-leakage", "cost-overrun", "retrieval-degradation",
                   "model-change"]
    assert "covers: transport.rate_limited" in res.stdout


def test_docs_cli_bad_section_is_exit_2_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\ndocs:\n  failure_mode: docs/fm.md\n")
    res = gate("docs", cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stderr.strip() == ("error: gate.yaml:3:3: $.docs.failure_mode: unknown key 'failure_mode' "
                                  "(did you mean 'failure_modes'?)")
    (tmp_path / "gate.yaml").write_text("version: 1\ndocs:\n  modes: {not_applicable: [rag]}\n")
    res = gate("docs", cwd=tmp_path)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: gate.yaml:3:28: $.docs.modes.not_applicable[0]: no failure mode 'rag' in "
                                 "the catalogue (known: cost-overrun, ")


def test_docs_cli_missing_document_is_a_finding_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\ndocs: {}\n")
    res = gate("docs", "--format", "json", cwd=tmp_path)
    assert res.exit_code == 1
    (finding,) = docs_check(res.json())["findings"]
    assert (finding["file"], finding["line"]) == ("gate.yaml", 2)
    assert finding["message"].startswith("docs/failure-modes.md: the failure-mode document does not exist")


def test_docs_cli_help_loads_no_markdown_parser() -> None:
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "gate", "docs", "--help"], capture_output=True,
                          text=True, check=True)
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines() if "|" in line}
    assert "markdown_it" not in imported and "prodgate_checks.docs.parse" not in imported
    assert "--catalogue" in proc.stdout and "--only" in proc.stdout


PROBE = '''
from gate.report import CheckResult, Finding, Severity, Status

class Probe:
    """Reports the failure categories its gate.yaml section lists, as regression and load do."""
    name = "probe"
    section = "probe"
    description = "publishes failure categories"
    order = 35
    config_schema = {"type": "object", "properties": {"categories": {"type": "object"}}}

    def run(self, ctx):
        counts = ctx.config.section("probe")["categories"]
        findings = tuple(Finding(Severity.WARNING, "case failed", case_id=f"case-{i}", category=c)
                         for i, c in enumerate(counts))
        return CheckResult(self.name, Status.WARN, "probed", metrics={"failure_categories": counts},
                           findings=findings)
'''


def install_probe(site: Path) -> dict[str, str]:
    site.mkdir()
    (site / "probe_check.py").write_text(PROBE)
    dist = site / "probe_check-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: probe-check\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[prodgate.checks]\nprobe = probe_check:Probe\n")
    return {"PYTHONPATH": str(site)}


def test_docs_cli_failures_observed_by_an_earlier_check_must_be_covered(repo: GitRepo, tmp_path: Path) -> None:
    root = example_copy(repo)
    env = install_probe(tmp_path / "site")
    gate_yaml = root / "gate.yaml"
    base = gate_yaml.read_text()
    gate_yaml.write_text(base + "\nprobe:\n  categories: {transport.rate_limited: 4, output.tool_error: 2}\n")
    res = gate_subprocess("check", "--only", "probe,docs", "--format", "json", cwd=root, env=env)
    assert res.exit_code == 1, res.stderr
    check = docs_check(res.json())
    assert [(f["file"], f["line"], f["category"]) for f in check["findings"]] == [
        ("docs/failure-modes.md", 1, "output.tool_error")]
    assert check["findings"][0]["message"] == (
        "the probe check observed 2 output.tool_error failures in this run, but no failure mode covers it: "
        "add a section with `**Covers:** output.tool_error`")
    assert {o["category"]: o["covered_by"] for o in check["details"]["observed"]} == {
        "output.tool_error": [], "transport.rate_limited": ["Rate limiting"]}

    doc = root / "docs" / "failure-modes.md"
    doc.write_text(doc.read_text() + "\n## Tool call failure\n\n**Covers:** output.tool_error\n**Detection:** "
                   "tool errors are counted.\n**Impact:** no answer.\n**Mitigation:** one retry.\n**Fallback:** "
                   "`primary` answers without the tool.\n**Owner:** @acme/support-ai\n")
    res = gate_subprocess("check", "--only", "probe,docs", "--format", "json", cwd=root, env=env)
    assert res.exit_code == 0, res.stdout
    assert docs_check(res.json())["summary"] == ("10/10 failure modes complete, 3/3 fallback models named, "
                                                 "2/2 observed failure categories covered")


def test_docs_cli_catalogue_follows_gate_yaml(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text(
        "version: 1\ndocs:\n  required_fields: [detection, owner]\n  modes:\n    remove: [cost-overrun]\n"
        "    add: [{title: Tool call failure, covers: [output.tool_error]}]\n"
        "    not_applicable: {retrieval-degradation: No retrieval step.}\n")
    res = gate("docs", "--catalogue", cwd=tmp_path)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith("Each failure mode is a `## ` section with: detection, owner.")
    assert "cost-overrun" not in res.stdout
    assert "retrieval-degradation: Retrieval degradation  [not applicable: No retrieval step.]" in res.stdout
    assert "tool-call-failure: Tool call failure\n    covers: output.tool_error" in res.stdout
