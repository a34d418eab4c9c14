"""The docs check on real files in a real git repository: each defect is exactly its finding, at its line."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from prodgate_checks.docs.catalogue import CATALOGUE
from prodgate_checks.docs.check import DocsCheck

from gate.config import load_config
from gate.context import CheckContext
from gate.errors import ConfigError
from gate.gitref import resolve_base
from gate.report import CheckResult, Finding, Severity, Status
from tests.conftest import GitRepo

MODELS = """version: 1
default: primary
models:
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


def mode(title: str, *, fallback: str = "Requests move from `primary` to `backup`.", **fields: str) -> str:
    values = {"Detection": f"An alert on {title.lower()} pages on-call.", "Impact": "Users wait or get no answer.",
              "Mitigation": "Retries with backoff, then a circuit breaker.", "Fallback": fallback,
              "Owner": "@acme/ml-platform"}
    values.update({k.capitalize(): v for k, v in fields.items()})
    body = "\n".join(f"**{k}:** {v}" for k, v in values.items() if v is not None)
    return f"## {title}\n\n{body}\n"


def document(*, skip: tuple[str, ...] = (), extra: str = "", **per_mode: Mapping[str, str]) -> str:
    sections = [mode(m.title, **per_mode.get(m.id.replace("-", "_"), {})) for m in CATALOGUE if m.id not in skip]
    return "# Failure modes\n\nHow this system fails.\n\n" + "\n".join(sections) + extra


def setup(repo: GitRepo, doc: str | bytes | None, gate_docs: str = "docs: {}\n", models: str | None = MODELS) -> None:
    repo.write("gate.yaml", "version: 1\n" + ("models: models.yaml\n" if models else "") + gate_docs)
    if models:
        repo.write("models.yaml", models)
    if isinstance(doc, bytes):
        (repo.path / "docs").mkdir(exist_ok=True)
        (repo.path / "docs" / "failure-modes.md").write_bytes(doc)
    elif doc is not None:
        repo.write("docs/failure-modes.md", doc)


def run(repo: GitRepo, results: Mapping[str, CheckResult] | None = None) -> CheckResult:
    config = load_config(repo.path / "gate.yaml")
    check = DocsCheck()
    check.prepare(config)
    return check.run(CheckContext(config, resolve_base(repo.path), results=dict(results or {})))


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def only(result: CheckResult) -> Finding:
    assert len(result.findings) == 1, [f.message for f in result.findings]
    return result.findings[0]


FM = "docs/failure-modes.md"


def test_docs_complete_document_passes_with_headline(repo: GitRepo) -> None:
    setup(repo, document())
    result = run(repo)
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.summary == "10/10 failure modes complete, 2/2 fallback models named"
    assert result.details["headline"] == {"value": "10/10 modes complete", "change": None}
    assert result.metrics["modes_complete"] == 10 and result.metrics["errors"] == 0
    assert [m["state"] for m in result.details["modes"]] == ["complete"] * 10


def test_docs_every_writing_style_is_accepted(repo: GitRepo) -> None:
    styles = [
        mode(m.title) if i % 4 == 0 else
        f"## {m.title}\n\n- **Detection:** alert fires\n- Impact: slow answers\n- Mitigation:\n  - retry\n"
        f"  - breaker\n- Fallback: `backup` answers\n- Owners: @acme, ops@acme.example\n" if i % 4 == 1 else
        f"## {m.title}\n\n### Detection\n\nAlert.\n\n### Impact\n\nSlow.\n\n### Mitigation\n\n**Retry:** once.\n\n"
        f"### Fallback\n\n`primary` then `backup`.\n\n### Owner\n\n@acme/ml\n" if i % 4 == 2 else
        f"## {m.title}\n\n| Field | Value |\n|---|---|\n| Detection | alert |\n| Impact | slow |\n"
        f"| Mitigation | retry |\n| Fallback | `backup` |\n| Owner | [Ann](mailto:ann@acme.example) |\n"
        for i, m in enumerate(CATALOGUE)
    ]
    setup(repo, "# Failure modes\n\n## Overview\n\nIntro prose.\n\n" + "\n".join(styles))
    result = run(repo)
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.metrics["modes_complete"] == 10


def test_docs_missing_field_is_one_finding_at_the_heading(repo: GitRepo) -> None:
    text = document(rate_limiting={"owner": None})  # type: ignore[dict-item]
    setup(repo, text)
    f = only(run(repo))
    assert (f.file, f.line, f.message) == (FM, line_of(text, "## Rate limiting"), "'Rate limiting' has no Owner field")


@pytest.mark.parametrize("value", ["TODO", "TBD", "…", "Lorem ipsum dolor sit amet.", "Mitigation"])
def test_docs_placeholder_field_is_one_finding_at_its_line(repo: GitRepo, value: str) -> None:
    text = document(cost_overrun={"mitigation": value})
    setup(repo, text)
    result = run(repo)
    f = only(result)
    assert f.file == FM and f.line == line_of(text, f"**Mitigation:** {value}")
    assert f.message.startswith("'Cost overrun': Mitigation ")
    assert result.status is Status.FAIL
    assert next(m for m in result.details["modes"] if m["id"] == "cost-overrun")["state"] == "incomplete"


def test_docs_uncovered_mode_is_one_finding_at_the_title(repo: GitRepo) -> None:
    setup(repo, document(skip=("prompt-injection",)))
    f = only(run(repo))
    assert (f.file, f.line) == (FM, 1)
    assert f.message.startswith("no section documents the failure mode 'Prompt injection' (prompt-injection)")


def test_docs_waiver_with_reason_passes_and_without_reason_is_a_finding(repo: GitRepo) -> None:
    gate_docs = ("docs:\n  modes:\n    not_applicable:\n"
                 "      retrieval-degradation: The bot has no retrieval step.\n      prompt-injection:\n")
    setup(repo, document(skip=("retrieval-degradation", "prompt-injection")), gate_docs)
    result = run(repo)
    f = only(result)
    assert (f.file, f.line) == ("gate.yaml", 7)
    assert f.message.startswith("docs.modes.not_applicable.prompt-injection: a waiver needs a reason")
    assert result.details["headline"]["value"] == "8/8 modes complete"


def test_docs_waiver_list_form_and_in_document_waiver(repo: GitRepo) -> None:
    extra = "\n## Retrieval degradation\n\n**Not applicable:** TODO\n"
    text = document(skip=("retrieval-degradation", "prompt-injection"), extra=extra)
    setup(repo, text, "docs:\n  modes:\n    not_applicable: [prompt-injection]\n")
    result = run(repo)
    got = sorted((f.file, f.line, f.message.split(":")[0]) for f in result.findings)
    assert got == [(FM, line_of(text, "**Not applicable:** TODO"), "'Retrieval degradation' is marked not applicable "
                    "without a reason"), ("gate.yaml", 5, "docs.modes.not_applicable.prompt-injection")]


def test_docs_dangling_links_are_findings_at_their_lines(repo: GitRepo) -> None:
    extra = ("\nSee [the runbook](runbooks/outage.md), [models](../models.yaml), [this](#cost-overrun),\n"
             "[nowhere](#no-such-heading), [site](https://example.com/x) and [other](other.md#missing).\n")
    repo.write("docs/other.md", "# Other\n\n## Present\n")
    text = document(extra=extra)
    setup(repo, text)
    result = run(repo)
    got = [(f.line, f.message) for f in result.findings]
    n = line_of(text, "See [the runbook]")
    assert got == [(n, "link 'runbooks/outage.md' does not resolve: no such file"),
                   (n + 1, "link '#no-such-heading' names no heading of this document"),
                   (n + 1, "link 'other.md#missing' names no heading of other.md")]


def test_docs_undocumented_fallback_model_points_at_models_yaml(repo: GitRepo) -> None:
    models = MODELS.replace("fallback: [backup]", "fallback: [backup, cheap]") + (
        "  cheap:\n    provider: openai\n    model: gpt-4.1-nano\n    api_key_env: OPENAI_API_KEY\n")
    setup(repo, document(), models=models)
    result = run(repo)
    f = only(result)
    assert (f.file, f.line) == ("models.yaml", line_of(models, "fallback: [backup, cheap]"))
    assert f.message.startswith("model 'cheap' is in the fallback chain primary -> backup -> cheap but no fallback "
                                "field of the failure-mode document names it (e.g. in the Fallback of 'Provider outage'")
    assert result.details["fallbacks"] == [{"model": "primary", "chain": ["primary", "backup", "cheap"],
                                            "undocumented": ["cheap"]}]


def test_docs_model_with_a_chain_must_itself_be_named(repo: GitRepo) -> None:
    models = MODELS + ("  router:\n    provider: openai\n    model: gpt-4.1-nano\n    api_key_env: OPENAI_API_KEY\n"
                       "    fallback: primary\n")
    setup(repo, document(), models=models)
    f = only(run(repo))
    assert (f.file, f.line) == ("models.yaml", line_of(models, "fallback: primary"))
    assert f.message.startswith("model 'router' is in the fallback chain router -> primary -> backup")


def _observed(name: str, counts: Mapping[str, int], finding_categories: tuple[str, ...] = ()) -> CheckResult:
    findings = tuple(Finding(Severity.ERROR, "case failed", case_id=f"c{i}", category=c)
                     for i, c in enumerate(finding_categories))
    return CheckResult(name, Status.FAIL, "failures", metrics={"failure_categories": dict(counts)}, findings=findings)


def test_docs_observed_category_without_a_mode_is_one_finding(repo: GitRepo) -> None:
    setup(repo, document(skip=("rate-limiting",)), "docs:\n  modes:\n    remove: [rate-limiting]\n")
    results = {"load": _observed("load", {"transport.rate_limited": 7, "budget.latency": 2})}
    result = run(repo, results)
    f = only(result)
    assert (f.file, f.line, f.category) == (FM, 1, "transport.rate_limited")
    assert f.message == ("the load check observed 7 transport.rate_limited failures in this run, but no failure mode "
                         "covers it: add a section with `**Covers:** transport.rate_limited`")
    assert result.details["observed"] == [
        {"category": "budget.latency", "count": 2, "checks": ["load"], "covered_by": ["Latency SLO breach"]},
        {"category": "transport.rate_limited", "count": 7, "checks": ["load"], "covered_by": []}]


def test_docs_observed_category_from_findings_covered_by_explicit_covers(repo: GitRepo) -> None:
    extra = mode("Tool call failure") + "**Covers:** `output.tool_error`\n"
    setup(repo, document(extra="\n" + extra))
    results = {"regression": _observed("regression", {}, ("output.tool_error", "output.tool_error")),
               "schema": _observed("schema", {}, ("secret",))}
    result = run(repo, results)
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.details["observed"] == [{"category": "output.tool_error", "count": 2, "checks": ["regression"],
                                           "covered_by": ["Tool call failure"]}]
    assert result.details["other_modes"][0]["title"] == "Tool call failure"


def test_docs_observed_category_contradicts_a_waiver(repo: GitRepo) -> None:
    setup(repo, document(skip=("rate-limiting",)),
          "docs:\n  modes:\n    not_applicable:\n      rate-limiting: We never hit quotas.\n")
    result = run(repo, {"regression": _observed("regression", {"transport.rate_limited": 3})})
    f = only(result)
    assert (f.file, f.line) == ("gate.yaml", 6)
    assert f.message == ("'Rate limiting' is marked not applicable, but the regression check observed 3 "
                         "transport.rate_limited failures in this run")


def test_docs_owner_that_is_not_a_handle_or_email(repo: GitRepo) -> None:
    text = document(hallucination={"owner": "The ML team"})
    setup(repo, text)
    f = only(run(repo))
    assert (f.line, f.message) == (line_of(text, "**Owner:** The ML team"), "'Hallucination / ungrounded answer': "
                                   "owner 'The ML team' is not a @handle, @org/team or email address")


@pytest.mark.parametrize("owner", ["@your-org/your-team", "@org/team", "you@example.com", "@acme/your-team"])
def test_docs_placeholder_owner_is_one_finding_at_its_line(repo: GitRepo, owner: str) -> None:
    text = document(hallucination={"owner": owner})
    setup(repo, text)
    result = run(repo)
    f = only(result)
    assert result.status is Status.FAIL
    assert (f.line, f.message) == (line_of(text, f"**Owner:** {owner}"), "'Hallucination / ungrounded answer': "
                                   f"owner {owner} is a template placeholder: name the team or person who "
                                   "answers for this failure")


@pytest.mark.parametrize("owner", ["@acme/ml-platform", "@octocat", "oncall@acme.example", "@your-org/x or @acme/ml"])
def test_docs_real_owner_passes(repo: GitRepo, owner: str) -> None:
    setup(repo, document(hallucination={"owner": owner}))
    result = run(repo)
    assert (result.status, result.findings) == (Status.PASS, ())


def test_docs_missing_document_points_at_gate_init(repo: GitRepo) -> None:
    setup(repo, None, "docs:\n  failure_modes: docs/fm.md\n")
    result = run(repo)
    f = only(result)
    assert (f.file, f.line) == ("gate.yaml", 4)
    assert f.message.startswith("docs/fm.md: the failure-mode document does not exist (`gate init` writes")
    assert result.status is Status.FAIL and result.details["headline"]["value"] == "0/10 modes complete"


@pytest.mark.parametrize(("content", "line", "message"), [
    ("", 1, "the failure-mode document is empty"),
    ("Just prose, no headings at all.\n", 1, "has no `## ` sections"),
    ("# Title only\n\nProse.\n", 1, "has no `## ` sections"),
    (b"# Failure modes\n\n## Provider outage\n**Owner:** J\xf6rg\n", 4, "the failure-mode document is not valid UTF-8"),
    (b"# Failure modes\n" + b"x" * (5 * 1024 * 1024), 1, "the failure-mode document is 5.0 MiB, over the 512 KiB"),
])
def test_docs_unusual_input_is_one_clear_finding(repo: GitRepo, content: str | bytes, line: int, message: str) -> None:
    setup(repo, content)
    result = run(repo)
    f = only(result)
    assert (f.file, f.line) == (FM, line) and f.message.startswith(message), f.message
    assert result.status is Status.FAIL


def test_docs_several_files_by_glob_share_the_catalogue(repo: GitRepo) -> None:
    sections = [mode(m.title) for m in CATALOGUE]
    repo.write("docs/modes/a.md", "# Part A\n\n" + "\n".join(sections[:5]))
    repo.write("docs/modes/b.md", "# Part B\n\n" + "\n".join(sections[5:]))
    setup(repo, None, "docs:\n  failure_modes: [docs/modes/*.md]\n")
    result = run(repo)
    assert result.status is Status.PASS, [f.message for f in result.findings]
    assert result.details["documents"] == ["docs/modes/a.md", "docs/modes/b.md"]


def test_docs_required_documents_exist_and_have_their_headings(repo: GitRepo) -> None:
    repo.write("docs/data.md", "# Data\n\n## Retention\n\nTBD\n\n## Subprocessors\n\nOpenAI.\n")
    gate_docs = ("docs:\n  required_documents:\n    - path: docs/data.md\n      headings: [Retention, Subprocessors, "
                 "Access]\n    - docs/incident-response.md\n")
    setup(repo, document(), gate_docs)
    got = sorted((f.file, f.line, f.message) for f in run(repo).findings)
    assert got == [("docs/data.md", 1, "has no heading 'Access' (required by gate.yaml docs.required_documents)"),
                   ("docs/data.md", 3, "section 'Retention' says only 'TBD': say what happens instead"),
                   ("gate.yaml", 7, "docs/incident-response.md: required document does not exist")]


def test_docs_unknown_section_without_fields_asks_to_ignore_it(repo: GitRepo) -> None:
    text = document(extra="\n## Deployment notes\n\nWe deploy on Tuesdays.\n")
    setup(repo, text)
    f = only(run(repo))
    assert f.line == line_of(text, "## Deployment notes")
    assert f.message.startswith("'Deployment notes' has none of the fields detection, impact, mitigation, fallback, owner")

    setup(repo, text, "docs:\n  ignore_headings: [Deployment notes]\n")
    assert run(repo).status is Status.PASS


def test_docs_custom_fields_and_added_modes(repo: GitRepo) -> None:
    gate_docs = ("docs:\n  required_fields: [detection, owner, severity]\n  modes:\n    add:\n"
                 "      - {title: Tool call failure, match: [tool]}\n")
    sections = [f"## {m.title}\n\n**Detection:** alert\n**Owner:** @a\n**Severity:** SEV2\n" for m in CATALOGUE]
    text = "# Modes\n\n" + "\n".join(sections) + "\n## Tool errors\n\n**Detection:** alert\n**Owner:** @a\n"
    setup(repo, text, gate_docs, models=None)
    f = only(run(repo))
    assert (f.line, f.message) == (line_of(text, "## Tool errors"), "'Tool errors' has no Severity field")


def test_docs_headline_change_compares_with_the_base_branch(repo: GitRepo) -> None:
    setup(repo, document(skip=("cost-overrun",)))
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    setup(repo, document())
    result = run(repo)
    assert result.details["headline"] == {"value": "10/10 modes complete", "change": "was 9/10"}


def test_docs_unknown_id_close_to_a_catalogue_id_warns(repo: GitRepo) -> None:
    text = document(skip=("rate-limiting",), extra="\n## Throttling\n<!-- id: rate-limting -->\n\n**Owner:** @a\n")
    setup(repo, text)
    got = sorted((f.severity.value, f.message.split(" (")[0]) for f in run(repo).findings)
    assert ("warning", "'Throttling': id 'rate-limting' is not in the catalogue") in got
    assert ("error", "no section documents the failure mode 'Rate limiting'") in got


@pytest.mark.parametrize(("gate_docs", "message"), [
    ("docs:\n  modes:\n    remove: [rate-limit]\n",
     "gate.yaml:5:14: $.docs.modes.remove[0]: no failure mode 'rate-limit' in the catalogue (did you mean "
     "'rate-limiting'?)"),
    ("docs:\n  modes:\n    not_applicable: {halucination: none here}\n",
     "gate.yaml:5:22: $.docs.modes.not_applicable.halucination: no failure mode 'halucination' in the catalogue "
     "(did you mean 'hallucination'?)"),
    ("docs:\n  modes:\n    add: [Cost overrun]\n",
     "gate.yaml:5:11: $.docs.modes.add[0]: mode 'cost-overrun' is already in the catalogue (give it another id, "
     "or drop it here and use the catalogue's)"),
])
def test_docs_prepare_rejects_unknown_mode_ids_with_their_line(repo: GitRepo, gate_docs: str, message: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.path)
    setup(repo, document(), gate_docs)
    with pytest.raises(ConfigError) as err:
        run(repo)
    assert err.value.message == message


def test_docs_markdown_details_escape_document_text(repo: GitRepo) -> None:
    text = document(provider_outage={"owner": "@acme/ml <script>alert(1)</script>"})
    setup(repo, text)
    check = DocsCheck()
    result = run(repo)
    md = check.markdown_details(result)
    assert "| Provider outage | ✅ complete | `docs/failure-modes.md:5` | @\u200dacme/ml |" in md
    assert "<script>" not in md
    assert "- `primary` → `backup`: documented" in md


def test_docs_results_path_for_every_finding_is_repo_relative(repo: GitRepo, tmp_path: Path) -> None:
    sub = repo.path / "service"
    sub.mkdir()
    (sub / "gate.yaml").write_text("version: 1\ndocs: {}\n")
    (sub / "docs").mkdir()
    (sub / "docs" / "failure-modes.md").write_text(document(skip=("cost-overrun",)))
    config = load_config(sub / "gate.yaml")
    result = DocsCheck().run(CheckContext(config, resolve_base(sub)))
    assert [f.file for f in result.findings] == ["service/docs/failure-modes.md"]


def test_docs_markdown_details_show_own_modes_and_observed_failures_escaped(repo: GitRepo) -> None:
    extra = "\n" + mode("Tool <img src=x onerror=alert(1)> failure | x") + "**Covers:** output.tool_error\n"
    setup(repo, document(extra=extra))
    result = run(repo, {"load": _observed("load", {"transport.rate_limited": 4, "output.tool_error": 1})})
    assert result.status is Status.PASS, [f.message for f in result.findings]
    md = DocsCheck().markdown_details(result)
    assert "<img" not in md and " | x" not in md
    assert ("| Tool &lt;img src=x onerror=alert\\(1\\)&gt; failure \\| x (this system's own) | ✅ complete | "
            "`docs/failure-modes.md:") in md
    assert "| `transport.rate_limited` | 4 | load | Rate limiting |" in md
    assert "| `output.tool_error` | 1 | load | Tool &lt;img" in md
