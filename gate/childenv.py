"""The environment of a process the gate starts: the team's service, its command target, locust."""

from __future__ import annotations

import os
from collections.abc import Mapping

# The runner's file commands: whoever can append to these files sets step outputs (the verdict the Action
# reads), the job's environment or PATH. The gate writes its own outputs; code under test gets none of them.
RUNNER_FILES = ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STATE", "GITHUB_STEP_SUMMARY")


def child_env(extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """base (default: this process's environment) without the runner's file commands, plus extra."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if k not in RUNNER_FILES}
    env.update(extra or {})
    return env
