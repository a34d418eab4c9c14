"""`gate merge`: combine the reports of `gate check --shard I/N` runs into the report of one unsharded run."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from gate.cli import common_options, full_report_option, run_options
from gate.errors import ConfigError
from gate.files import MAX_DATA_BYTES, FileError, loads_json, read_text
from gate.report import CheckResult, Report, finding_sort_key

from .results import SuiteResult


def _load(path: Path) -> Report:
    try:
        return Report.from_dict(loads_json(read_text(path, str(path), max_bytes=MAX_DATA_BYTES)))
    except FileError as exc:
        raise ConfigError(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a prodgate JSON report ({type(exc).__name__}: {exc})") from None


def _shard(path: Path, result: CheckResult) -> tuple[int, int]:
    raw = (result.details.get("run") or {}).get("shard")
    if not isinstance(raw, str) or "/" not in raw:
        raise ConfigError(f"{path}: its regression result is not from a `gate check --shard I/N` run")
    i, n = raw.split("/", 1)
    if not (i.isdigit() and n.isdigit()):
        raise ConfigError(f"{path}: its regression result names no shard I/N ({raw!r})")
    return int(i), int(n)


def _same_run(paths: Sequence[Path], reports: Sequence[Report], parts: Sequence[CheckResult], config: str) -> None:
    """Shards merge only when they ran the same commit, prodgate and gate.yaml as each other and as this merge."""
    first = reports[0]
    for path, report, part in zip(paths, reports, parts, strict=True):
        if report.git.head != first.git.head:
            raise ConfigError(f"{path}: ran at commit {(report.git.head or 'unknown')[:12]}, {paths[0]} at "
                              f"{(first.git.head or 'unknown')[:12]}: shards of different commits cannot be merged")
        if report.tool_version != first.tool_version:
            raise ConfigError(f"{path}: made by prodgate {report.tool_version}, {paths[0]} by "
                              f"{first.tool_version}: shards of different versions cannot be merged")
        if (part.details.get("run") or {}).get("config") != config:
            raise ConfigError(f"{path}: ran with another regression configuration than this gate.yaml: "
                              "merge shards with the gate.yaml they ran with")


def merge_suites(parts: Sequence[CheckResult], config: str) -> tuple[list[SuiteResult], dict[str, Any]]:
    suites: dict[str, SuiteResult] = {}
    run: dict[str, Any] = {"requests": 0, "judge_requests": 0, "cache_hits": 0, "config": config}
    recorded: set[str] = set()
    for part in parts:
        for name, raw in (part.details.get("suites") or {}).items():
            s = SuiteResult.from_dict(name, raw)
            if name in suites:
                s = replace(suites[name], cases=suites[name].cases + s.cases)
            suites[name] = s
        for key in ("requests", "judge_requests", "cache_hits"):
            run[key] += int((part.details.get("run") or {}).get(key) or 0)
        recorded.update((part.details.get("run") or {}).get("recorded") or [])
        for key in ("left_out", "unmeasured", "regex_timeouts"):  # per shard (regression.provenance)
            run[key] = run.get(key, []) + list((part.details.get("run") or {}).get(key) or [])
        for key in ("tracked_cache", "cache", "rerecorded", "skipped"):  # the same in every shard: one copy
            run[key] = (part.details.get("run") or {}).get(key) or run.get(key)
    if recorded:
        run["recorded"] = sorted(recorded)
    run = {k: v for k, v in run.items() if v is not None and v != []}
    return list(suites.values()), run


def merge_reports(paths: Sequence[Path], opts: Any) -> int:
    from gate.config import load_config
    from gate.context import CheckContext
    from gate.gitref import resolve_base
    from gate.registry import discover, plugin_sections
    from gate.run import emit, exit_code_for
    from gate.schemas import load_schema

    from .baseline import load_baseline
    from .check import provenance
    from .config import config_digest, parse_config
    from .report import build_result

    reports = [_load(p) for p in paths]
    parts: list[CheckResult] = []
    shards: dict[int, Path] = {}
    count = None
    for path, report in zip(paths, reports, strict=True):
        result = report.check("regression")
        if result is None:
            raise ConfigError(f"{path}: has no regression result to merge")
        i, n = _shard(path, result)
        if count is not None and n != count:
            raise ConfigError(f"{path}: shard {i}/{n} does not belong with shards of {count}")
        if i in shards:
            raise ConfigError(f"{path}: shard {i}/{n} is given twice (also {shards[i]})")
        count, shards[i] = n, path
        parts.append(result)
    missing = sorted(set(range(1, (count or 0) + 1)) - set(shards))
    if missing:
        raise ConfigError(f"{'shard' if len(missing) == 1 else 'shards'} {', '.join(map(str, missing))} of {count} missing: a merge needs "
                          "every shard")
    checks, _ = discover()
    config = load_config(opts.config, plugin_sections(checks, load_schema("gate")["properties"]))
    base = resolve_base(config.root, opts.base_ref)
    cfg = parse_config(config)
    digest = config_digest(config)
    _same_run(paths, reports, parts, digest)
    ctx = CheckContext(config, base)
    baseline, note, defect = load_baseline(ctx, cfg)
    extra = [defect] if defect else []
    suites, run = merge_suites(parts, digest)
    merged = provenance(build_result(suites, baseline, note, cfg.gates, seed=cfg.seed, run=run, extra_findings=extra,
                                     full=bool(opts.extras.get("full_report")),
                                     locate=ctx.config_line))
    errors = [p for p in parts if p.status.value == "error"]
    if errors:
        merged = replace(merged, status=errors[0].status, summary=f"a shard could not complete: {errors[0].summary}")
    duration = sum(p.duration_s for p in parts)
    merged = replace(merged, duration_s=duration, findings=tuple(sorted(merged.findings, key=finding_sort_key)))
    first = reports[0]
    checks_out = tuple(merged if c.name == "regression" else c for c in first.checks)
    report = replace(first, checks=checks_out, started_at=min(r.started_at for r in reports),
                     duration_s=max(r.duration_s for r in reports))
    emit(report, opts, checks)
    return int(exit_code_for(report))


@click.command("merge")
@click.argument("reports", nargs=-1, required=True, type=click.Path(path_type=Path))
@common_options
@full_report_option
def command(reports: tuple[Path, ...], full_report: bool, **kwargs: Any) -> None:
    """Combine the JSON reports of `gate check --shard I/N` runs into one, as an unsharded run gives."""
    sys.exit(merge_reports(list(reports), run_options(kwargs, extras={"full_report": full_report})))
