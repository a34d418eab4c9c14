"""Completeness and coverage: every section fills in its fields, every catalogue mode has a section."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from gate.redact import clip
from gate.report import Finding, Severity

from .catalogue import (
    COVERS_FIELD,
    FIELD_ALIASES,
    NON_MODE_HEADINGS,
    WAIVER_FIELD,
    Mode,
    modes_for_heading,
    normalise,
)
from .config import DocsOptions
from .parse import Field, Section
from .text import owners, placeholder


@dataclass(frozen=True)
class ModeSection:
    """A `##` section read as a failure mode: which catalogue modes it documents, and whether it waives them."""

    file: str
    section: Section
    modes: tuple[str, ...]
    waiver: Field | None
    covers: tuple[str, ...]

    @property
    def title(self) -> str:
        return self.section.title


@dataclass(frozen=True)
class ModeRow:
    """One catalogue mode as the document stands: what the PR comment's table shows."""

    id: str
    title: str
    state: str  # complete | incomplete | missing | not applicable
    file: str | None = None
    line: int | None = None
    missing: tuple[str, ...] = ()
    owner: str | None = None
    reason: str | None = None


def mode_sections(file: str, sections: Sequence[Section], opts: DocsOptions) -> tuple[list[ModeSection], list[Finding]]:
    out: list[ModeSection] = []
    findings: list[Finding] = []
    by_id = {m.id: m for m in opts.catalogue}
    for s in sections:
        heading = normalise(s.title)
        if not s.ids and (heading in NON_MODE_HEADINGS or heading in opts.ignore_headings):
            continue
        if s.ids:
            modes = []
            for mode_id, line in s.ids:
                if mode_id in by_id:
                    modes.append(mode_id)
                    continue
                close = difflib.get_close_matches(mode_id, list(by_id), n=1, cutoff=0.75)
                if close:
                    findings.append(Finding(Severity.WARNING, f"'{s.title}': id {mode_id!r} is not in the catalogue "
                                            f"(did you mean {close[0]!r}?)", file, line))
        else:
            modes = [m.id for m in modes_for_heading(s.title, opts.catalogue)]
        waiver = next((f for f in s.fields if f.name == WAIVER_FIELD), None)
        covers = tuple(c for f in s.fields if f.name == COVERS_FIELD for c in _categories(f.text))
        out.append(ModeSection(file, s, tuple(dict.fromkeys(modes)), waiver, covers))
    return out, findings


def _categories(text: str) -> list[str]:
    return [w for w in text.replace(",", " ").replace("`", " ").split() if "." in w.strip(".")]


def completeness(ms: ModeSection, opts: DocsOptions) -> list[Finding]:
    """Required fields present and saying something; owners reachable; a waiver has its reason."""
    s, findings = ms.section, []
    if ms.waiver is not None:
        why = placeholder(ms.waiver.text, [ms.waiver.label, WAIVER_FIELD])
        if why:
            findings.append(Finding(Severity.ERROR, f"'{s.title}' is marked not applicable without a reason: "
                                    f"the waiver {why}; say why it cannot happen here", ms.file, ms.waiver.line))
        return findings
    present = {f.name for f in s.fields if f.name}
    missing = [r for r in opts.fields.required if r not in present]
    if missing and not (present & set(opts.fields.required)):
        findings.append(Finding(Severity.ERROR, f"'{s.title}' has none of the fields {', '.join(opts.fields.required)} "
                                "(write them as `**Detection:** …`, list items or `###` subsections; if this "
                                "section is not a failure mode, list its heading in docs.ignore_headings)",
                                ms.file, s.line))
        return findings
    for name in missing:
        findings.append(Finding(Severity.ERROR, f"'{s.title}' has no {name.capitalize()} field", ms.file, s.line))
    for f in s.fields:
        if f.name not in opts.fields.required:
            continue
        why = placeholder(f.text, [f.label, f.name, *FIELD_ALIASES.get(f.name, ())])
        if why:
            findings.append(Finding(Severity.ERROR, f"'{s.title}': {f.label} {why}", ms.file, f.line))
        elif f.name == "owner":
            found = owners(f.text, f.hrefs)
            if opts.check_owners and not found:
                findings.append(Finding(Severity.ERROR, f"'{s.title}': owner {clip(f.text, 60)!r} is not a @handle, "
                                        "@org/team or email address", ms.file, f.line))
            elif found and all(placeholder_owner(o) for o in found):
                findings.append(Finding(Severity.ERROR, f"'{s.title}': owner {found[0]} is a template placeholder: "
                                        "name the team or person who answers for this failure", ms.file, f.line))
    return findings


# Words a template puts where an owner goes; a real org, team or mailbox is never just one of them.
_PLACEHOLDER_PARTS = frozenset({"org", "team", "user", "username", "owner", "handle", "someone", "somebody",
                                "name", "me", "you", "example", "company", "my-org", "my-team"})


def placeholder_owner(owner: str) -> bool:
    """Whether an owner (@org/team, @user, email) is a template's stand-in, e.g. @your-org/your-team."""
    name = owner.lower()
    parts = name.split("@", 1)[0:1] if not name.startswith("@") else name[1:].split("/")
    return any(p.startswith("your") or p in _PLACEHOLDER_PARTS for p in parts if p)


def is_complete(ms: ModeSection, opts: DocsOptions) -> bool:
    return not [f for f in completeness(ms, opts) if f.severity is Severity.ERROR]


def mode_rows(catalogue: Sequence[Mode], sections: Sequence[ModeSection], opts: DocsOptions,
              complete: Callable[[ModeSection], bool] | None = None) -> list[ModeRow]:
    """The state of every catalogue mode: documented (complete or not), waived, or missing.

    complete says whether a section is complete when the caller already knows (it is not cheap)."""
    complete = complete or (lambda ms: is_complete(ms, opts))
    config_waivers = {w.mode: w for w in opts.waivers}
    rows = []
    for mode in catalogue:
        documented = [ms for ms in sections if mode.id in ms.modes]
        waived = next((ms for ms in documented if ms.waiver is not None), None)
        if mode.id in config_waivers and not [ms for ms in documented if ms.waiver is None]:
            rows.append(ModeRow(mode.id, mode.title, "not applicable", reason=config_waivers[mode.id].reason))
        elif waived is not None and all(ms.waiver is not None for ms in documented):
            assert waived.waiver is not None
            rows.append(ModeRow(mode.id, mode.title, "not applicable", waived.file, waived.section.line,
                                reason=waived.waiver.text))
        elif documented:
            first = documented[0]
            bad = [ms for ms in documented if not complete(ms)]
            present = {f.name for ms in documented for f in ms.section.fields}
            owner = next((o for ms in documented for f in ms.section.fields if f.name == "owner"
                          for o in owners(f.text, f.hrefs)), None)
            rows.append(ModeRow(mode.id, mode.title, "incomplete" if bad else "complete", first.file,
                                first.section.line, tuple(r for r in opts.fields.required if r not in present), owner))
        else:
            rows.append(ModeRow(mode.id, mode.title, "missing"))
    return rows


def coverage(rows: Sequence[ModeRow], doc_file: str, doc_line: int,
             base_rows: Sequence[ModeRow] = ()) -> list[Finding]:
    """A finding for each catalogue mode no section documents, saying where the base branch had it."""
    before = {r.id: r for r in base_rows if r.file and r.state != "missing"}
    findings = []
    for row in rows:
        if row.state != "missing":
            continue
        was = before.get(row.id)
        hint = f" (the base branch documents it at {was.file}:{was.line})" if was else ""
        findings.append(Finding(Severity.ERROR, f"no section documents the failure mode '{row.title}' ({row.id}): add "
                                f"a `## {row.title}` section, or mark it not applicable in gate.yaml with a reason{hint}",
                                doc_file, doc_line))
    return findings


def waiver_findings(opts: DocsOptions, gate_file: str) -> list[Finding]:
    """A finding for each waiver in gate.yaml without a reason."""
    findings = []
    for w in opts.waivers:
        why = placeholder(w.reason or "", [w.mode, WAIVER_FIELD])
        if why:
            findings.append(Finding(Severity.ERROR, f"docs.modes.not_applicable.{w.mode}: a waiver needs a reason "
                                    f"(it {why}): say why this failure cannot happen here", gate_file, w.line))
    return findings
