"""The optional parts of prodgate (pip extras): a gate.yaml section that needs a missing one is exit 2 at its line.

Imports the standard library alone: the Action reads Extra before prodgate's dependencies are installed."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable, Sequence
from enum import Enum
from typing import TYPE_CHECKING

from gate.errors import ConfigError

if TYPE_CHECKING:
    from gate.config import GateConfig


class Extra(str, Enum):
    """An extra of the prodgate distribution, by the name pip knows it, and the module it provides."""

    LOAD = "load"
    DEEPEVAL = "deepeval"
    RETRIEVAL = "retrieval"

    @property
    def module(self) -> str:
        return {Extra.LOAD: "locust", Extra.DEEPEVAL: "deepeval", Extra.RETRIEVAL: "ir_measures"}[self]


def installed(extra: Extra) -> bool:
    # Found, not imported: locust monkey-patches the process that imports it, and deepeval takes seconds.
    return importlib.util.find_spec(extra.module) is not None


def require_extra(config: GateConfig, extra: Extra, uses: Iterable[Sequence[str | int]]) -> None:
    """Raise a ConfigError at the first of `uses` (paths in gate.yaml of what needs `extra`) when it is missing."""
    from gate.yamlfile import format_path

    first = next(iter(uses), None)
    if first is None or installed(extra):
        return
    pos = config.doc.locate(first, key=True)
    raise ConfigError(f"{config.display}:{pos.line}:{pos.column}: {format_path(first)} needs "
                      f"{extra.module}, which is not installed: run pip install 'prodgate[{extra.value}]'")
