"""What a check is given to run: config, base ref, options, progress, and earlier results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.config import GateConfig, display_path
from gate.gitref import BaseRef
from gate.progress import Progress, silent
from gate.report import CheckResult


@dataclass(frozen=True)
class CheckContext:
    config: GateConfig
    base: BaseRef
    # Flags of the verb being run that concern particular checks (e.g. record, no_cache, shard).
    options: Mapping[str, Any] = field(default_factory=dict)
    progress: Progress = field(default_factory=silent)
    # Results of the checks that ran before this one in the same run (docs reads them).
    results: Mapping[str, CheckResult] = field(default_factory=dict)
    debug: bool = False

    @property
    def root(self) -> Path:
        return self.config.root

    def display(self, path: Path) -> str:
        """How findings name a file: relative to the repository root (as GitHub annotations need)."""
        rel = self.base.relpath(path)
        return rel if rel is not None else display_path(path)

    def config_line(self, at: Sequence[str | int]) -> tuple[str, int]:
        """gate.yaml as findings name it, and the line of the setting at path `at` (else of its nearest parent)."""
        return self.display(self.config.path), self.config.doc.locate(at).line
