"""The `docs:` section of gate.yaml -> DocsOptions; what its schema cannot say is a ConfigError here."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gate.config import GateConfig
from gate.errors import ConfigError
from gate.yamlfile import format_path

from .catalogue import CATALOGUE, DEFAULT_FIELDS, FieldNames, Mode, normalise, slug
from .text import DEFAULT_MAX_BYTES

DEFAULT_DOCUMENT = "docs/failure-modes.md"
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Waiver:
    mode: str
    reason: str | None
    line: int  # in gate.yaml


@dataclass(frozen=True)
class RequiredDocument:
    path: str
    headings: tuple[str, ...]
    line: int  # in gate.yaml


@dataclass(frozen=True)
class DocsOptions:
    documents: tuple[tuple[str, int], ...]  # path or glob, and its line in gate.yaml
    fields: FieldNames
    catalogue: tuple[Mode, ...]
    waivers: tuple[Waiver, ...]
    required_documents: tuple[RequiredDocument, ...]
    ignore_headings: frozenset[str]
    check_links: bool = True
    check_owners: bool = True
    check_fallbacks: bool = True
    check_observed: bool = True
    max_bytes: int = DEFAULT_MAX_BYTES


def load_options(config: GateConfig) -> DocsOptions:
    section: Mapping[str, Any] = config.section("docs") or {}

    def line(*path: str | int) -> int:
        return config.doc.locate(("docs", *path)).line

    raw_docs = section.get("failure_modes", DEFAULT_DOCUMENT)
    documents: tuple[tuple[str, int], ...]
    if isinstance(raw_docs, str):
        documents = ((raw_docs, line("failure_modes")),)
    else:
        documents = tuple((d, line("failure_modes", i)) for i, d in enumerate(raw_docs))
    for i, (d, _) in enumerate(documents):
        at: list[str | int] = ["docs", "failure_modes"] + ([] if isinstance(raw_docs, str) else [i])
        if d.startswith("/"):
            raise config.error(at, f"$.docs.failure_modes: {d}: paths are relative to gate.yaml's folder, not absolute")
        if GLOB_CHARS & set(d):
            config.glob(d, *at)  # an unusable glob is exit 2 here, not a crash of the check
        else:
            config.resolve(d, *at, must_exist=False)  # inside the repository; a missing one is the check's finding

    fields = FieldNames.build(section.get("required_fields", DEFAULT_FIELDS), section.get("field_aliases"))
    catalogue = _catalogue(config, section.get("modes") or {})
    known = {m.id for m in catalogue}
    waivers = _waivers(config, (section.get("modes") or {}).get("not_applicable"), known)
    required = []
    for i, item in enumerate(section.get("required_documents") or []):
        where: list[str | int] = ["docs", "required_documents", i]
        where += [] if isinstance(item, str) else ["path"]
        config.resolve(item if isinstance(item, str) else item["path"], *where, must_exist=False)
        if isinstance(item, str):
            required.append(RequiredDocument(item, (), line("required_documents", i)))
        else:
            required.append(RequiredDocument(item["path"], tuple(item.get("headings") or ()),
                                             line("required_documents", i)))
    return DocsOptions(
        documents=documents, fields=fields, catalogue=catalogue, waivers=waivers,
        required_documents=tuple(required),
        ignore_headings=frozenset(normalise(h) for h in section.get("ignore_headings") or ()),
        check_links=bool(section.get("check_links", True)), check_owners=bool(section.get("check_owners", True)),
        check_fallbacks=bool(section.get("check_fallbacks", True)),
        check_observed=bool(section.get("check_observed", True)),
        max_bytes=int(section.get("max_bytes", DEFAULT_MAX_BYTES)),
    )


def _catalogue(config: GateConfig, modes: Mapping[str, Any]) -> tuple[Mode, ...]:
    builtin = {m.id: m for m in CATALOGUE}
    removed: set[str] = set()
    for i, mode_id in enumerate(modes.get("remove") or []):
        _known(config, mode_id, builtin, ["docs", "modes", "remove", i])
        removed.add(mode_id)
    added: list[Mode] = []
    for i, item in enumerate(modes.get("add") or []):
        raw = {"title": item} if isinstance(item, str) else item
        mode_id = raw.get("id") or slug(raw["title"])
        if mode_id in builtin or any(m.id == mode_id for m in added):
            at: list[str | int] = ["docs", "modes", "add", i]
            raise config.error(at, f"{format_path(at)}: mode {mode_id!r} is already in the catalogue "
                                   "(give it another id, or drop it here and use the catalogue's)")
        added.append(Mode(mode_id, raw["title"], tuple(raw.get("match") or ()), tuple(raw.get("covers") or ()),
                          builtin=False))
    return tuple(m for m in CATALOGUE if m.id not in removed) + tuple(added)


def _waivers(config: GateConfig, raw: Any, known: set[str]) -> tuple[Waiver, ...]:
    if not raw:
        return ()
    out = []
    items = raw.items() if isinstance(raw, Mapping) else ((m, None) for m in raw)
    for i, (mode_id, reason) in enumerate(items):
        at: list[str | int] = ["docs", "modes", "not_applicable", mode_id if isinstance(raw, Mapping) else i]
        _known(config, mode_id, {k: None for k in known}, at, key=isinstance(raw, Mapping))
        out.append(Waiver(mode_id, reason, config.doc.locate(at, key=isinstance(raw, Mapping)).line))
    return tuple(out)


def _known(config: GateConfig, mode_id: str, ids: Mapping[str, Any], at: list[str | int], key: bool = False) -> None:
    if mode_id in ids:
        return
    close = difflib.get_close_matches(mode_id, list(ids), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(sorted(ids))})"
    pos = config.doc.locate(at, key=key)
    raise ConfigError(f"{config.display}:{pos.line}:{pos.column}: {format_path(at)}: "
                      f"no failure mode {mode_id!r} in the catalogue{hint}")
