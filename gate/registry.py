"""Discovers checks through the `prodgate.checks` entry-point group; built-ins register there too."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from gate.context import CheckContext
from gate.report import CheckResult

GROUP = "prodgate.checks"


@runtime_checkable
class Check(Protocol):
    """What a check provides. Optional attributes: `order` (int, default 50; later runs later,
    e.g. docs reads what regression observed) and `config_schema` (the JSON Schema of a
    plugin's own gate.yaml section)."""

    name: str
    section: str
    description: str

    def run(self, ctx: CheckContext) -> CheckResult: ...


@dataclass(frozen=True)
class Broken:
    """A registered check that failed to load: reported as that check's error, never a crash."""

    name: str
    error: str


def discover() -> tuple[list[Check], list[Broken]]:
    checks: list[Check] = []
    broken: list[Broken] = []
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        try:
            obj = ep.load()
            check = obj() if isinstance(obj, type) else obj
        except Exception as exc:  # a plugin's import error must not take the gate down
            broken.append(Broken(ep.name, f"could not load {ep.value}: {type(exc).__name__}: {exc}"))
            continue
        if not isinstance(check, Check):
            broken.append(Broken(ep.name, f"{ep.value} does not provide name, section, description and run()"))
            continue
        if any(c.name == check.name for c in checks):
            continue  # the same check installed twice (e.g. editable + wheel): first wins
        checks.append(check)
    checks.sort(key=lambda c: (getattr(c, "order", 50), c.name))
    return checks, broken


def plugin_sections(checks: list[Check], builtin: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Schemas of sections that gate.schema.json does not know: those of third-party checks."""
    out: dict[str, Mapping[str, Any]] = {}
    for check in checks:
        if check.section not in builtin:
            out[check.section] = getattr(check, "config_schema", None) or {"type": "object"}
    return out
