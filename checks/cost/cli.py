"""`gate cost`: the cost check alone, with its breakdown by profile, route and model."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gate.cli import common_options, run_options


@click.command("cost")
@common_options
@click.option("--profile", help="Show and gate this traffic profile (default: gate.yaml's cost.profile, else the first).")
def command(profile: str | None, **kwargs: Any) -> None:
    """Project the monthly cost from traffic.yaml and its change against the base branch (the cost check)."""
    from gate.errors import ConfigError
    from gate.report import Status
    from gate.run import build_report, emit, exit_code_for

    opts = run_options(kwargs, only=("cost",), skip=(), extras={"cost_profile": profile} if profile else {})
    if profile:
        check_profile(opts.config, profile)
    report, checks, _ = build_report(opts)
    result = report.check("cost")
    if result is None or result.status is Status.SKIP:
        raise ConfigError(f"{opts.config}: no `cost:` section (add `cost: {{traffic: traffic.yaml}}`)")
    def breakdown() -> None:
        if opts.format == "text" and result is not None and result.status is not Status.ERROR:
            from .render import text_breakdown

            click.echo(text_breakdown(result.details, only=profile))

    emit(report, opts, checks, before_print=breakdown)
    sys.exit(int(exit_code_for(report)))


def check_profile(config_path: Path, profile: str) -> None:
    """A --profile that traffic.yaml lacks is a usage error (exit 2). Anything else wrong with the
    files is left for the check, which reports it at its line."""
    from gate.config import repository_of
    from gate.errors import ConfigError
    from gate.yamlfile import YamlError, load_yaml

    try:
        gate_data = load_yaml(config_path, str(config_path)).data
        section = gate_data.get("cost") if isinstance(gate_data, dict) else None
        name = section.get("traffic", "traffic.yaml") if isinstance(section, dict) else None
        if not isinstance(name, str):
            return
        path = (config_path.parent / name).resolve()
        if not path.is_relative_to(repository_of(config_path.resolve().parent)):
            return  # the check refuses it at its gate.yaml line; its profiles are none of our business
        traffic = load_yaml(path, name).data
    except (YamlError, OSError, ValueError):
        return
    profiles = traffic.get("profiles") if isinstance(traffic, dict) else None
    if isinstance(profiles, dict) and profile not in profiles:
        raise ConfigError(f"--profile: no profile {profile!r} in {name} (profiles: {', '.join(map(str, profiles))})")
