"""Discovers checks and verbs through the `prodgate.checks` and `prodgate.commands` entry points; built-ins too."""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from gate.installed import entry_points

if TYPE_CHECKING:  # the CLI imports this module to list verbs: it must not pull in the config machinery
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


# prodgate's own checks: a section gate.schema.json knows, so one that will not run need not be imported.
BUILTIN_PACKAGE = "prodgate_checks."


def check_names() -> list[str]:
    """The name of every registered check, none of them imported."""
    return sorted({name for name, _ in entry_points(GROUP)})


def discover(wanted: Callable[[str], bool] | None = None) -> tuple[list[Check], list[Broken]]:
    """The registered checks, loaded. wanted(name) False: a built-in check of that name is not even imported (a
    run with --only); a third-party check always is, as its gate.yaml section is known only from it."""
    checks: list[Check] = []
    broken: list[Broken] = []
    for name, target in sorted(entry_points(GROUP), key=lambda e: e[0]):
        if wanted is not None and not wanted(name) and target.startswith(BUILTIN_PACKAGE):
            continue
        try:
            obj = load_target(target)
            check = obj() if isinstance(obj, type) else obj
        except Exception as exc:  # a plugin's import error must not take the gate down
            broken.append(Broken(name, f"could not load {target}: {type(exc).__name__}: {exc}"))
            continue
        if not isinstance(check, Check):
            broken.append(Broken(name, f"{target} does not provide name, section, description and run()"))
            continue
        if any(c.name == check.name for c in checks):
            continue  # the same check installed twice (e.g. editable + wheel): first wins
        checks.append(check)
    checks.sort(key=lambda c: (getattr(c, "order", 50), c.name))
    return checks, broken


def by_name(checks: Iterable[Check]) -> dict[str, Check]:
    """Checks keyed by name: how the markdown renderers find each check's own `markdown_details`."""
    return {c.name: c for c in checks}


def plugin_sections(checks: list[Check], builtin: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """Schemas of sections that gate.schema.json does not know: those of third-party checks."""
    out: dict[str, Mapping[str, Any]] = {}
    for check in checks:
        if check.section not in builtin:
            out[check.section] = getattr(check, "config_schema", None) or {"type": "object"}
    return out


COMMANDS_GROUP = "prodgate.commands"

# The one-line help of the verbs prodgate itself registers, keyed by entry point: `gate --help` lists them
# without importing them (merge alone pulled in the regression modules). A test keeps it equal to the
# commands' own docstrings; a verb registered under another target is loaded to ask it.
BUILTIN_COMMAND_HELP = {
    "gate.github.cli:command": "Post the report as one pull-request comment, updated in place; write the job summary.",
    "prodgate_checks.docs.cli:command": "Check the failure-mode documentation alone (the docs check).",
    "prodgate_checks.cost.cli:command":
        "Project the monthly cost from traffic.yaml and its change against the base branch (the cost check).",
    "prodgate_checks.regression.cli:command":
        "Combine the JSON reports of `gate check --shard I/N` runs into one, as an unsharded run gives.",
}


@dataclass(frozen=True)
class CommandEntry:
    """A verb registered under `prodgate.commands`: its name and where it lives, not yet imported."""

    name: str
    target: str

    @property
    def known_help(self) -> str | None:
        return BUILTIN_COMMAND_HELP.get(self.target)

    def load(self) -> Any:
        """The click command; a plugin that cannot be imported is a GateError (exit 3), not a traceback."""
        from gate.errors import GateError

        try:
            return load_target(self.target)
        except Exception as exc:  # a plugin's import error must not take the gate down
            raise GateError(f"the `{self.name}` command ({self.target}) could not load: "
                            f"{type(exc).__name__}: {exc}") from exc


def command_entries() -> dict[str, CommandEntry]:
    """Every registered verb by name; the first of a name wins (e.g. editable + wheel installed)."""
    out: dict[str, CommandEntry] = {}
    for name, target in entry_points(COMMANDS_GROUP):
        out.setdefault(name, CommandEntry(name, target))
    return out


# An entry point's target, as importlib.metadata reads it: `module[:attr[.attr]] [extras]`.
_TARGET = re.compile(r"(?P<module>[\w.]+)\s*(?::\s*(?P<attr>[\w.]+)\s*)?(?:\[.*\]\s*)?$")


def load_target(target: str) -> Any:
    """The object an entry point's target names, imported (EntryPoint.load without importlib.metadata)."""
    match = _TARGET.match(target.strip())
    if match is None:
        raise ValueError(f"{target!r} is not module:attribute")
    obj: Any = importlib.import_module(match["module"])
    for attr in filter(None, (match["attr"] or "").split(".")):
        obj = getattr(obj, attr)
    return obj
