"""Keys go only where the base branch sends them.

models.yaml is the pull request's: moving a model's `base_url` to a host of the author's choosing would send the
job's provider key (`api_key_env`, `headers_env`) there with the first request. In GitHub Actions, a key whose
variable holds a value goes only to a host the base branch's own models.yaml already sends that variable to; a
change that sends it anywhere new fails the regression check at the model's line, and nothing is sent. A new host
for a key is merged on its own first, where a reviewer sees it. Outside Actions (a developer's machine, their own
keys) nothing is refused."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from gate.baseconfig import base_config
from gate.config import GateConfig
from gate.gitref import BaseRef
from gate.models import ModelConfig, load_models, models_from_text
from gate.report import Finding, Severity


def new_destinations(config: GateConfig, base: BaseRef, display: Callable[[Path], str],
                     env: Mapping[str, str] | None = None) -> list[Finding]:
    """An error per model of the change's models.yaml that would send a key to a host the base's never sends it to."""
    env = os.environ if env is None else env
    base_own = _guarded_base(config, base, env)
    if base_own is None or config.models_path is None:
        return []
    base_models = base_own.models_path
    rel = base.relpath(base_models) if base_models is not None else None
    blob = base.read(rel) if rel else None
    if blob is None:
        return []  # no models.yaml on the base: nothing it sends a key to, and nothing to compare with
    try:
        before = models_from_text(blob.decode("utf-8-sig"), f"{rel} on the base")
    except UnicodeDecodeError:
        return []
    allowed = {(var, _host(m)) for m in before.models.values() for var in _sent(m)}
    shown = display(config.models_path)
    now = load_models(config.models_path, shown)
    findings = []
    for name, model in now.models.items():
        for var in _sent(model):
            if env.get(var) and (var, _host(model)) not in allowed:
                line = now.doc.locate(("models", name, "base_url")).line if now.doc is not None else 1
                findings.append(Finding(
                    Severity.ERROR, f"model {name!r} would send {var} to {_host(model) or 'its provider'}, where the "
                    "base branch's models.yaml never sends it: nothing was sent (merge a new host for a key on its "
                    "own first, where a reviewer sees it)", shown, line, category="secret"))
    return findings


def _guarded_base(config: GateConfig, base: BaseRef, env: Mapping[str, str]) -> GateConfig | None:
    """The base's own gate.yaml when keys are guarded (in Actions, with a base to compare with); else None: a base
    without a gate.yaml of its own sends nothing anywhere to compare with."""
    if env.get("GITHUB_ACTIONS") != "true" or not base.available:
        return None
    based = base_config(config, base)
    return based.config if based.own else None


def _sent(model: ModelConfig) -> Iterator[str]:
    if model.api_key_env:
        yield model.api_key_env
    yield from (v for v in model.headers_env.values() if isinstance(v, str) and v)


def _host(model: ModelConfig) -> str | None:
    from gate.providers.keys import url_host

    return url_host(model.url)


# A host the gate's own machine answers on: a service the gate starts (`{port}`) or one beside it, which the job's
# code reaches with the job's environment anyway.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def new_header_destinations(config: GateConfig, base: BaseRef, display: Callable[[Path], str],
                            env: Mapping[str, str] | None = None) -> list[str]:
    """The targets of the change's gate.yaml that would send a `headers_env` variable holding a value to a host the
    base's gate.yaml never sends it to, each as `file:line: why` (the run stops before anything is sent)."""
    env = os.environ if env is None else env
    base_own = _guarded_base(config, base, env)
    if base_own is None:
        return []
    allowed = {(var, host) for _, var, host in _header_targets(base_own.data, ())}
    out = []
    for at, var, host in _header_targets(config.data, ()):
        if env.get(var) and host not in LOOPBACK and (var, host) not in allowed:
            line = config.doc.locate(at).line
            out.append(f"{display(config.path)}:{line}: {'.'.join(map(str, at))} would send {var} to {host or 'a host'}"
                       ", where the base branch's gate.yaml never sends it: nothing was run (merge a new host for a "
                       "secret header on its own first, where a reviewer sees it)")
    return out


def _header_targets(data: Any, at: tuple[str | int, ...]) -> Iterator[tuple[tuple[str | int, ...], str, str | None]]:
    """(where, variable, host) of every mapping of gate.yaml that names a `url` and `headers_env`."""
    from gate.providers.keys import url_host

    if isinstance(data, Mapping):
        headers = data.get("headers_env")
        if isinstance(headers, Mapping) and "url" in data:
            host = url_host(str(data["url"]).replace("{port}", "1"))
            for var in headers.values():
                if isinstance(var, str) and var:
                    yield (*at, "headers_env"), var, host.rsplit(":", 1)[0] if host and host.count(":") == 1 else host
        for key, value in data.items():
            yield from _header_targets(value, (*at, str(key)))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from _header_targets(value, (*at, i))
