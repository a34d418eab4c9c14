"""Markdown -> sections and fields with line numbers, through markdown-it-py's token stream."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .catalogue import ID_FIELD, FieldNames

if TYPE_CHECKING:
    from markdown_it.token import Token

_ID_COMMENT = re.compile(r"<!--\s*(?:prodgate\s*:\s*)?id\s*[:=]\s*([\w.,\s-]+?)\s*-->", re.IGNORECASE)
_HEADING_ID = re.compile(r"\s*\{#([\w.-]+)\}\s*$")
_PLAIN_LABEL = re.compile(r"^\s*([A-Za-z][\w /'’-]{0,40}?)\s*:(?:\s+|$)(.*)$", re.DOTALL)
_LABEL_WORDS = 6  # a bold run longer than this is emphasis in prose, not a field label


@dataclass(frozen=True)
class Link:
    href: str
    line: int


@dataclass(frozen=True)
class Field:
    label: str
    name: str | None  # the field it is (e.g. "detection"), None for a label prodgate does not know
    line: int
    text: str
    style: str  # paragraph | list | heading | table
    hrefs: tuple[str, ...] = ()


@dataclass(frozen=True)
class Section:
    title: str
    line: int
    fields: tuple[Field, ...]
    ids: tuple[tuple[str, int], ...]  # explicit `id:`s and the line each is on
    text: str  # everything the section says, for "is this section empty?"


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    line: int
    body: str  # what is written under it, down to the next heading of its level or above


@dataclass(frozen=True)
class Document:
    headings: tuple[Heading, ...]
    sections: tuple[Section, ...]  # the `##` sections
    links: tuple[Link, ...]
    anchors: frozenset[str]


@dataclass
class _Unit:
    """One line of content (or one heading, code block, table row) in document order."""

    line: int
    text: str
    heading: int = 0
    label: str | None = None
    strong: bool = False
    style: str = "paragraph"
    hrefs: list[str] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)


def parse(text: str, names: FieldNames) -> Document:
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark").enable("table")
    units, links = _units(md.parse(text))
    headings = tuple(_headings(units))
    sections = tuple(_sections(units, names))
    return Document(headings, sections, tuple(links), frozenset(anchors(h.title for h in headings)))


def _headings(units: list[_Unit]) -> Iterator[Heading]:
    for i, unit in enumerate(units):
        if not unit.heading:
            continue
        body = []
        j = i + 1
        while j < len(units) and not (units[j].heading and units[j].heading <= unit.heading):
            later = units[j]
            body.append(f"{later.label}: {later.text}" if later.label else later.text)
            j += 1
        yield Heading(unit.heading, unit.text, unit.line, " ".join(b for b in body if b.strip()))


def anchors(titles: Iterator[str] | Sequence[str]) -> list[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered."""
    seen: dict[str, int] = {}
    out = []
    for title in titles:
        base = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.append(base if n == 0 else f"{base}-{n}")
    return out


def _units(tokens: Sequence[Token]) -> tuple[list[_Unit], list[Link]]:
    units: list[_Unit] = []
    links: list[Link] = []
    in_item = 0
    item_first = False
    row: list[tuple[Token, int]] = []
    heading_level = 0
    in_cell = False
    for tok in tokens:
        start = tok.map[0] + 1 if tok.map else 0
        if tok.type == "heading_open":
            heading_level = int(tok.tag[1])
        elif tok.type == "list_item_open":
            in_item += 1
            item_first = True
        elif tok.type == "list_item_close":
            in_item -= 1
        elif tok.type in ("td_open", "th_open", "td_close", "th_close"):
            in_cell = tok.type.endswith("_open")
        elif tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close":
            units.append(_table_row(row))
        elif tok.type in ("fence", "code_block"):
            units.append(_Unit(start, tok.content))
        elif tok.type == "html_block":
            ids = _comment_ids(tok.content)
            if ids:
                units.append(_Unit(start, "", ids=ids))
        elif tok.type == "inline":
            links += _links(tok, start)
            if heading_level:
                units.append(_heading(tok, start, heading_level))
                heading_level = 0
            elif in_cell:
                row.append((tok, start))
            else:
                lines = list(_lines(tok.children or [], start))
                for i, unit in enumerate(lines):
                    if in_item and item_first and i == 0 and unit.label is not None:
                        unit.style = "list"
                    units.append(unit)
                item_first = False
    return units, links


def _heading(tok: Token, line: int, level: int) -> _Unit:
    title = _plain(tok.children or [])
    ids = []
    m = _HEADING_ID.search(title)
    if m:
        ids.append(m.group(1))
        title = title[: m.start()]
    ids += _comment_ids(tok.content)
    return _Unit(line, title.strip(), heading=level, ids=ids)


def _table_row(cells: list[tuple[Token, int]]) -> _Unit:
    if len(cells) < 2:
        return _Unit(cells[0][1] if cells else 0, " ".join(_plain(c.children or []) for c, _ in cells))
    label = _plain(cells[0][0].children or []).strip().rstrip(":").strip()
    value = " ".join(_plain(c.children or []) for c, _ in cells[1:]).strip()
    hrefs = [h for c, _ in cells[1:] for h in _hrefs(c.children or [])]
    return _Unit(cells[0][1], value, label=label or None, style="table", hrefs=hrefs)


def _lines(children: Sequence[Token], first_line: int) -> Iterator[_Unit]:
    """Splits a paragraph at its line breaks: `**Detection:** …` lines written without blank lines
    between them are one markdown paragraph, but each is its own field."""
    line = first_line
    current: list[Token] = []
    for child in children:
        if child.type in ("softbreak", "hardbreak"):
            yield _line_unit(current, line)
            current = []
            line += 1
        else:
            current.append(child)
    yield _line_unit(current, line)


def _line_unit(children: list[Token], line: int) -> _Unit:
    ids = [i for c in children if c.type == "html_inline" for i in _comment_ids(c.content)]
    kids = [c for c in children if not (c.type == "text" and not c.content)]
    unit = _Unit(line, _plain(kids), hrefs=_hrefs(kids), ids=ids)
    # `**Label:** text`, `**Label**: text`, `*Label:* text`, or a bold label alone on its line.
    if len(kids) >= 3 and kids[0].type in ("strong_open", "em_open") and kids[1].type == "text" \
            and kids[2].type in ("strong_close", "em_close"):
        label = kids[1].content.strip()
        rest = _plain(kids[3:])
        has_colon = label.endswith(":") or rest.lstrip().startswith(":")
        if (has_colon or not rest.strip()) and 0 < len(label.rstrip(":").split()) <= _LABEL_WORDS:
            unit.label = label.rstrip(":").strip()
            unit.text = rest.lstrip().removeprefix(":").strip()
            unit.strong = True
        return unit
    m = _PLAIN_LABEL.match(unit.text)
    if m:
        unit.label, unit.text = m.group(1).strip(), m.group(2).strip()
    return unit


def _plain(children: Sequence[Token]) -> str:
    parts = []
    for c in children:
        if c.type in ("text", "code_inline"):
            parts.append(c.content)
        elif c.type == "html_inline" and not c.content.startswith("<!--"):
            parts.append(c.content)  # `<provider>` is what the writer typed; comments are not
        elif c.type == "image":
            parts.append(_plain(c.children or []))
        elif c.type in ("softbreak", "hardbreak"):
            parts.append(" ")
    return "".join(parts)


def _hrefs(children: Sequence[Token]) -> list[str]:
    out = []
    for c in children:
        if c.type == "link_open":
            out.append(str(c.attrs.get("href", "")))
    return out


def _links(tok: Token, first_line: int) -> list[Link]:
    out = []
    line = first_line
    for c in tok.children or []:
        if c.type in ("softbreak", "hardbreak"):
            line += 1
        elif c.type == "link_open":
            out.append(Link(str(c.attrs.get("href", "")), line))
        elif c.type == "image":
            out.append(Link(str(c.attrs.get("src", "")), line))
    return out


def _comment_ids(html: str) -> list[str]:
    return [i for m in _ID_COMMENT.finditer(html) for i in re.split(r"[,\s]+", m.group(1)) if i]


def _sections(units: list[_Unit], names: FieldNames) -> Iterator[Section]:
    title: str | None = None
    line = 0
    fields: list[Field] = []
    ids: list[tuple[str, int]] = []
    texts: list[str] = []
    # The field being read: its label unit, canonical name, the heading level that opened it (0 if none).
    open_: tuple[_Unit, str | None, int] | None = None
    body: list[str] = []
    hrefs: list[str] = []

    def close_field() -> None:
        nonlocal open_, body, hrefs
        if open_ is not None:
            unit, name, _ = open_
            fields.append(Field(unit.label or unit.text, name, unit.line, " ".join(b for b in body if b).strip(),
                                unit.style, tuple(hrefs)))
        open_, body, hrefs = None, [], []

    def close_section() -> Section | None:
        close_field()
        if title is None:
            return None
        return Section(title, line, tuple(fields), tuple(ids), " ".join(t for t in texts if t).strip())

    for unit in units:
        if unit.heading and unit.heading <= 2:
            done = close_section()
            if done:
                yield done
            title, fields, ids, texts = None, [], [], []
            if unit.heading == 2:
                title, line = unit.text, unit.line
                ids = [(i, unit.line) for i in unit.ids]
            continue
        if title is None:
            continue
        ids += [(i, unit.line) for i in unit.ids]
        if unit.heading:
            if open_ is None or open_[2] == 0 or unit.heading <= open_[2] or names.canonical(unit.text):
                close_field()
                label = unit.text.rstrip(":").strip()
                open_ = (_Unit(unit.line, "", label=label, style="heading"), names.canonical(label), unit.heading)
                continue
        elif unit.label is not None:
            name = names.canonical(unit.label)
            # An unknown bold label (`**Runbook:**`) ends the field before it, except inside a
            # `### Mitigation` subsection, where bold labels are the writer's own sub-points.
            if name is not None or (unit.strong and (open_ is None or open_[2] == 0)):
                close_field()
                open_ = (unit, name, 0)
                body, hrefs = [unit.text], list(unit.hrefs)
                if name == ID_FIELD:
                    ids += [(i, unit.line) for i in re.split(r"[,\s`]+", unit.text) if i]
                texts.append(unit.text)
                continue
            unit = _Unit(unit.line, f"{unit.label}: {unit.text}", hrefs=unit.hrefs)
        texts.append(unit.text)
        if open_ is not None:
            body.append(unit.text)
            hrefs += unit.hrefs
    done = close_section()
    if done:
        yield done
