"""Field text rules (placeholders, owners, model names), the catalogue, and reading unusual files."""

from __future__ import annotations

from pathlib import Path

import pytest
from prodgate_checks.docs.catalogue import CATALOGUE, DEFAULT_FIELDS, TAXONOMY, FieldNames, covering, modes_for_heading
from prodgate_checks.docs.text import ReadProblem, names_model, owners, placeholder, read_document


@pytest.mark.parametrize(("text", "why"), [
    ("", "is empty"),
    ("   ", "is empty"),
    ("TODO", "says only 'TODO': say what happens instead"),
    ("TBD.", "says only 'TBD.': say what happens instead"),
    ("…", "is only a placeholder ('…')"),
    ("...", "is only a placeholder ('...')"),
    ("N/A", "says only 'N/A': say what happens instead"),
    ("Retries with backoff. TODO: add the breaker", "contains the placeholder TODO"),
    ("Lorem ipsum dolor sit amet.", "is lorem ipsum"),
    ("Detection.", "only repeats its own name"),
    ("[describe how you detect it]", "is a template placeholder ('[describe how you detect it]')"),
    ("<your alert here>", "is a template placeholder ('<your alert here>')"),
])
def test_placeholder_empty_or_template_text_says_why(text: str, why: str) -> None:
    assert placeholder(text, ["Detection", "detection"]) == why


@pytest.mark.parametrize("text", [
    "Error rate above 5% for 5 minutes pages on-call.",
    "No fallback: the request fails with a clear error.",
    "Alerts on the todo-list service's 5xx rate.",
    "Detection is by the gateway's 5xx alert.",
])
def test_placeholder_real_text_passes(text: str) -> None:
    assert placeholder(text, ["Detection", "detection"]) is None


@pytest.mark.parametrize(("text", "hrefs", "found"), [
    ("@acme", (), ["@acme"]),
    ("@acme/support-ai (primary), @jane-doe", (), ["@acme/support-ai", "@jane-doe"]),
    ("security@acme.example", (), ["security@acme.example"]),
    ("Ann", ("mailto:ann@acme.example",), ["ann@acme.example"]),
    ("Platform team", (), []),
    ("the team @ night", (), []),
    ("user@localhost", (), []),
])
def test_owners_accept_handles_teams_and_emails(text: str, hrefs: tuple[str, ...], found: list[str]) -> None:
    assert owners(text, hrefs) == found


@pytest.mark.parametrize(("text", "named"), [
    ("falls back to `backup`.", True),
    ("Backup takes over", True),
    ("the openai/gpt-4.1-mini model", True),
    ("we keep backups", False),
    ("backup-2 takes over", False),
])
def test_names_model_whole_words_only(text: str, named: bool) -> None:
    assert names_model(text, ["backup", "openai/gpt-4.1-mini"]) is named


def test_catalogue_headings_match_by_phrase_and_every_category_is_covered() -> None:
    def ids(heading: str) -> list[str]:
        return [m.id for m in modes_for_heading(heading, CATALOGUE)]

    assert ids("Rate limits (HTTP 429)") == ["rate-limiting"]
    assert ids("Hallucination/ungrounded answers") == ["hallucination"]
    assert ids("Model or version change") == ["model-change"]
    assert ids("PII leakage") == ["sensitive-data-leakage"]
    assert ids("Onboarding") == []
    assert all(covering(category, CATALOGUE) for category in TAXONOMY)


def test_field_names_accept_aliases_plurals_and_custom_fields() -> None:
    names = FieldNames.build([*DEFAULT_FIELDS, "severity"], {"mitigation": ["runbook"]})
    assert names.canonical("Owners") == "owner"
    assert names.canonical("How we detect it") == "detection"
    assert names.canonical("Runbook") == "mitigation"
    assert names.canonical("Severity") == "severity"
    assert names.canonical("N/A") == "not applicable"
    assert names.canonical("Notes") is None


def test_read_document_non_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "f.md"
    path.write_bytes(b"# Title\n\n## Outage\nCaf\xe9 down\n")
    problem = read_document(path)
    assert problem == ReadProblem("is not valid UTF-8 (byte 0xe9 at line 4, column 4): save it as UTF-8", 4, 4)


def test_read_document_empty_large_and_directory_are_problems(tmp_path: Path) -> None:
    (tmp_path / "empty.md").write_text("\n  \n")
    (tmp_path / "big.md").write_bytes(b"x" * (5 * 1024 * 1024))
    assert read_document(tmp_path / "empty.md") == ReadProblem("is empty")
    big = read_document(tmp_path / "big.md")
    assert isinstance(big, ReadProblem) and big.message.startswith("is 5.0 MiB, over the 512 KiB limit")
    assert read_document(tmp_path) == ReadProblem("is a directory, not a markdown file")


def test_read_document_strips_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "bom.md").write_bytes("\ufeff# Title\n".encode())
    assert read_document(tmp_path / "bom.md") == "# Title\n"
