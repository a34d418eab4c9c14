"""A retrieval target's provider, built from its spec: to validate gate.yaml (exit 2 at the spec's line) and to
run; the targets themselves (target.py) are imported only by a run."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping

from gate.config import GateConfig
from gate.providers.base import Provider

from .config import SECTION, RetrievalConfig


def build_target(config: GateConfig, cfg: RetrievalConfig, env: Mapping[str, str] | None = None, *,
                 url: str | None = None) -> Provider:
    """The provider of the target spec; a spec that cannot be built is a ConfigError at its line (exit 2).
    `url`: an http target's url where the service the gate started listens (its `{port}` filled in)."""
    from gate.providers.command import CommandProvider
    from gate.providers.endpoint import HttpProvider
    from gate.providers.spec import TargetError

    spec = cfg.target
    timeout = spec.get("timeout") or cfg.timeout
    at = [SECTION, "target", cfg.kind]
    try:
        if cfg.kind == "http":
            raw = cfg.http_spec
            if url is not None:
                raw["url"] = url
            if cfg.results.path is not None:
                raw["answer"] = _path_text(cfg.results.path)
            return HttpProvider(raw, os.environ if env is None else env, timeout=timeout)
        if cfg.kind == "command":
            return CommandProvider(spec["command"], config.root, os.environ if env is None else env, timeout=timeout)
        from .target import FunctionTarget  # here: imported to run, not to validate

        return FunctionTarget(str(spec["python"]), config.root, timeout=timeout)
    except TargetError as exc:
        raise config.error(at, str(exc)) from None


def _path_text(steps: tuple[str | int, ...]) -> str:
    return "$" + "".join(f"[{s}]" if isinstance(s, int) else f"[{json.dumps(s)}]" for s in steps)
