"""Runs the selected checks in order; a check's crash becomes its `error`, never a lost report."""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

import gate
from gate.config import GateConfig
from gate.context import CheckContext
from gate.errors import ConfigError, GateError
from gate.gitref import BaseRef
from gate.progress import Progress, silent
from gate.redact import MIN_SECRET_LEN, looks_like_env_name, redact, redact_text, secret_env_names, secret_env_values
from gate.registry import Broken, Check
from gate.render.escape import no_workflow_commands
from gate.report import CheckResult, Finding, GitInfo, Report, Severity, Status, finding_sort_key, strict_result


def select(checks: Sequence[Check], broken: Sequence[Broken], only: Sequence[str], skip: Sequence[str],
           names: Iterable[str] = ()) -> None:
    """Raise a usage error for a name in --only/--skip that no check has (names: those of checks not loaded)."""
    known = {c.name for c in checks} | {b.name for b in broken} | set(names)
    for name in [*only, *skip]:
        if name not in known:
            raise ConfigError(f"unknown check {name!r} (known: {', '.join(sorted(known))})")


def chosen(name: str, only: Sequence[str], skip: Sequence[str]) -> bool:
    """Whether the check of that name runs: one of --only (any, without it), and none of --skip."""
    return (not only or name in only) and name not in skip


def choose(checks: Sequence[Check], only: Sequence[str], skip: Sequence[str]) -> list[Check]:
    """The checks that run."""
    return [c for c in checks if chosen(c.name, only, skip)]


def prepare(checks: Sequence[Check], config: GateConfig) -> dict[str, tuple[str, str]]:
    """Let every check validate its own section before anything runs (a ConfigError is exit 2).

    Returns the checks whose prepare() crashed, with why and the traceback: each is that check's error, not
    the run's."""
    crashed: dict[str, tuple[str, str]] = {}
    for check in checks:
        hook = getattr(check, "prepare", None)
        if hook is not None and config.section(check.section) is not None:
            try:
                hook(config)
            except GateError:
                raise
            except Exception as exc:  # noqa: BLE001 - one check's defect must not lose the others' results
                crashed[check.name] = (f"check crashed: {type(exc).__name__}: {exc}", traceback.format_exc())
    return crashed


def run_checks(
    config: GateConfig,
    base: BaseRef,
    checks: Sequence[Check],
    broken: Sequence[Broken] = (),
    *,
    only: Sequence[str] = (),
    skip: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
    debug: bool = False,
    on_result: Callable[[CheckResult], None] | None = None,
    prepared: Mapping[str, tuple[str, str]] | None = None,
) -> Report:
    """prepared: what prepare() returned for these checks when the caller ran it already (not run twice)."""
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    t0 = time.monotonic()
    running = choose(checks, only, skip)
    crashed = prepare(running, config) if prepared is None else prepared
    secrets = config_secrets(config)
    results: dict[str, CheckResult] = {}
    ordered: list[CheckResult] = []
    for b in broken:
        if chosen(b.name, only, skip):
            ordered.append(CheckResult(b.name, Status.ERROR, b.error))
    for check in running:
        ctx = CheckContext(config, base, dict(options or {}), progress or silent(), dict(results), debug)
        if check.name in crashed:
            message, trace = crashed[check.name]
            result = CheckResult(check.name, Status.ERROR, message, details={"traceback": trace} if debug else {})
        else:
            result = _run_one(check, ctx, debug)
        result = _scrub(result, secrets)
        shown = result.details.get("traceback")
        if debug and result.status is Status.ERROR and isinstance(shown, str):
            # --debug shows where a check crashed, on stderr; the report keeps its one line and the same text.
            print(no_workflow_commands(f"{check.name}: {result.summary}\n{shown.rstrip()}"), file=sys.stderr)
        results[check.name] = result
        ordered.append(result)
        if on_result:
            on_result(result)
    git = GitInfo(head=base.head, base=base.sha, base_ref=base.ref)
    return Report("prodgate", gate.__version__, started_at, time.monotonic() - t0, git, tuple(ordered))


def _run_one(check: Check, ctx: CheckContext, debug: bool) -> CheckResult:
    if ctx.config.section(check.section) is None and getattr(check, "requires_section", True):
        return CheckResult(check.name, Status.SKIP, f"skipped: no `{check.section}:` section in {ctx.config.display}")
    t0 = time.monotonic()
    try:
        result = _checked(check.run(ctx))
    except ConfigError:
        raise  # gate.yaml, or a file it names that does not exist, found wrong only when the check needs it: exit 2
    except GateError as exc:
        result = CheckResult(check.name, Status.ERROR, f"could not complete: {exc.message}")
    except Exception as exc:  # noqa: BLE001 - one check's defect must not lose the others' results
        details = {"traceback": traceback.format_exc()} if debug else {}
        result = CheckResult(check.name, Status.ERROR, f"check crashed: {type(exc).__name__}: {exc}", details=details)
    findings = tuple(sorted(result.findings, key=finding_sort_key))
    return replace(result, name=check.name, duration_s=time.monotonic() - t0, findings=findings)


def _checked(result: Any) -> CheckResult:
    """A check's result in the shape every output needs; anything else is that check's crash, not the run's."""
    if not isinstance(result, CheckResult):
        raise TypeError(f"run() returned {type(result).__name__}, not a CheckResult")
    findings = []
    for f in result.findings:
        if not isinstance(f, Finding):
            raise TypeError(f"a finding is a {type(f).__name__}, not a Finding")
        findings.append(replace(f, severity=Severity(f.severity), message=str(f.message)))
    return strict_result(replace(result, status=Status(result.status), summary=str(result.summary),
                                 findings=tuple(findings)))


def config_secrets(config: GateConfig, env: Mapping[str, str] | None = None) -> list[str]:
    """Every value to redact for this configuration: those of config_secret_names(), and a credential
    pasted into an `*_env` field where a variable's name belongs (so no message naming it echoes it)."""
    pasted = {f for f in _config_env_fields(config) if not looks_like_env_name(f) and len(f) >= MIN_SECRET_LEN}
    return sorted(pasted | set(secret_env_values(env, config_secret_names(config, env))), key=lambda v: (-len(v), v))


def config_secret_names(config: GateConfig, env: Mapping[str, str] | None = None) -> list[str]:
    """The variables whose values are secret: every `*_env` name in gate.yaml's sections and models.yaml,
    `redact_env`, and those with secret-looking names."""
    return secret_env_names(env, [f for f in _config_env_fields(config) if looks_like_env_name(f)])


def _config_env_fields(config: GateConfig) -> list[str]:
    fields = _env_fields(config.data)
    if config.models_path is not None:
        from gate.models import load_models

        for m in load_models(config.models_path, config.display).models.values():
            fields += [m.api_key_env] if m.api_key_env else []
            fields += list(m.headers_env.values())
    return fields


def _env_fields(data: Any) -> list[str]:
    """The text of every `*_env` key (a name, a mapping of names, or a list of them as in redact_env)."""
    out: list[str] = []
    if isinstance(data, dict):
        for key, value in data.items():
            if str(key).endswith("_env"):
                values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
                out += [v for v in values if isinstance(v, str)]
            else:
                out += _env_fields(value)
    elif isinstance(data, list):
        for value in data:
            out += _env_fields(value)
    return out


def _scrub(result: CheckResult, secrets: list[str]) -> CheckResult:
    """No credential reaches the report, whatever a check or a model output put in it."""
    def text(value: str | None) -> str | None:
        return None if value is None else redact_text(value, secrets)

    findings = tuple(replace(f, message=redact_text(f.message, secrets), file=text(f.file), case_id=text(f.case_id),
                             category=text(f.category)) for f in result.findings)
    return replace(result, summary=redact_text(result.summary, secrets), findings=findings,
                   metrics=redact(dict(result.metrics), secrets), details=redact(dict(result.details), secrets))
