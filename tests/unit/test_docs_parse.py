"""The failure-mode document parser: every accepted writing style yields the same fields, with lines."""

from __future__ import annotations

from prodgate_checks.docs.catalogue import DEFAULT_FIELDS, FieldNames
from prodgate_checks.docs.parse import Document, Section, anchors, parse

NAMES = FieldNames.build(DEFAULT_FIELDS)


def _parse(text: str) -> Document:
    return parse(text, NAMES)


def _fields(section: Section) -> dict[str, tuple[int, str]]:
    return {f.name or f"?{f.label}": (f.line, f.text) for f in section.fields}


def test_parse_bold_paragraph_without_blank_lines_splits_into_fields() -> None:
    doc = _parse("# T\n\n## Provider outage\n\n**Detection:** 5xx above 5%\nfor 5 minutes.\n"
                 "**Impact**: no answer.\n*Mitigation:* retries.\n")
    (section,) = doc.sections
    assert section.title == "Provider outage" and section.line == 3
    assert _fields(section) == {"detection": (5, "5xx above 5% for 5 minutes."), "impact": (7, "no answer."),
                                "mitigation": (8, "retries.")}


def test_parse_list_items_take_their_nested_lists() -> None:
    doc = _parse("## Rate limiting\n\n- **Detection:** 429 count\n- Impact: slow answers\n- Mitigation:\n"
                 "  - backoff\n  - a queue\n- **Runbook:** the wiki\n- Owner: @acme/ml\n")
    fields = _fields(doc.sections[0])
    assert fields == {"detection": (3, "429 count"), "impact": (4, "slow answers"),
                      "mitigation": (5, "backoff a queue"), "?Runbook": (8, "the wiki"), "owner": (9, "@acme/ml")}
    assert {f.style for f in doc.sections[0].fields} == {"list"}


def test_parse_subsections_keep_their_bold_sub_points_and_deeper_headings() -> None:
    doc = _parse("## Latency\n\n### Detection\n\np95 alert.\n\n### Mitigation\n\n**Retry:** once.\n"
                 "**Timeout:** 30 s.\n\n#### Details\n\nStreaming.\n\n### Owner:\n\n@ops\n")
    fields = _fields(doc.sections[0])
    assert fields == {"detection": (3, "p95 alert."), "mitigation": (7, "Retry: once. Timeout: 30 s. Details Streaming."),
                      "owner": (16, "@ops")}


def test_parse_table_rows_and_lone_bold_labels_are_fields() -> None:
    doc = _parse("## Cost overrun\n\n| Field | Value |\n|---|---|\n| Detection | spend alert |\n"
                 "| **Owner:** | [Ann](mailto:ann@acme.example) |\n\n**Impact**\n\nBudget gone.\n")
    section = doc.sections[0]
    assert _fields(section) == {"detection": (5, "spend alert"), "owner": (6, "Ann"), "impact": (8, "Budget gone.")}
    owner = next(f for f in section.fields if f.name == "owner")
    assert owner.style == "table" and owner.hrefs == ("mailto:ann@acme.example",)


def test_parse_prose_with_colon_is_not_a_field() -> None:
    doc = _parse("## Provider outage\n\n**Detection:** alerts.\nNote: this is prose, still detection.\n"
                 "We **really** mean it: it is.\n")
    assert _fields(doc.sections[0]) == {
        "detection": (3, "alerts. Note: this is prose, still detection. We really mean it: it is.")}


def test_parse_explicit_ids_from_field_comment_and_heading_attribute() -> None:
    doc = _parse("## Throttling {#rate-limiting}\n\n## Upstream\n<!-- id: provider-outage -->\n\n"
                 "## Bad JSON\n\n- **ID:** `malformed-output`\n- Detection: parse errors <!-- id: extra -->\n")
    assert [(s.title, s.ids) for s in doc.sections] == [
        ("Throttling", (("rate-limiting", 1),)),
        ("Upstream", (("provider-outage", 4),)),
        ("Bad JSON", (("malformed-output", 8), ("extra", 9))),
    ]
    assert _fields(doc.sections[2])["detection"] == (9, "parse errors")


def test_parse_links_carry_the_line_inside_a_paragraph() -> None:
    doc = _parse("# T\n\nIntro\nsee [runbook](run.md) and\n![chart](img/c.png)\n\n| a | [x](t.md) |\n|---|---|\n")
    assert [(link.href, link.line) for link in doc.links] == [("run.md", 4), ("img/c.png", 5), ("t.md", 7)]


def test_parse_crlf_and_preamble_keep_line_numbers() -> None:
    doc = _parse("# Title\r\n\r\nSome intro.\r\n\r\n## Provider outage\r\n**Owner:** @x\r\n")
    assert doc.sections[0].line == 5
    assert _fields(doc.sections[0]) == {"owner": (6, "@x")}


def test_parse_level_one_heading_ends_the_section() -> None:
    doc = _parse("## Provider outage\n**Owner:** @x\n\n# Appendix\n\n**Detection:** not part of the mode\n")
    assert _fields(doc.sections[0]) == {"owner": (2, "@x")}
    assert [h.title for h in doc.headings] == ["Provider outage", "Appendix"]
    assert doc.headings[1].body == "Detection: not part of the mode"


def test_anchors_follow_github_slugs_and_number_repeats() -> None:
    assert anchors(["Hallucination / ungrounded answer", "Cost: overrun!", "FAQ", "FAQ"]) == [
        "hallucination--ungrounded-answer", "cost-overrun", "faq", "faq-1"]


def test_parse_ignores_html_comments_in_field_text() -> None:
    doc = _parse("## Provider outage\n**Fallback:** <!-- TODO -->\n")
    assert _fields(doc.sections[0]) == {"fallback": (2, "")}


def test_parse_inline_html_is_text_but_comments_are_not() -> None:
    doc = _parse("## Errors from <provider>\n**Owner:** <your-team> <!-- fill in -->\n")
    assert doc.sections[0].title == "Errors from <provider>"
    assert _fields(doc.sections[0]) == {"owner": (2, "<your-team>")}
