"""`gate docs`: the docs check alone, or the catalogue of failure modes it expects."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from gate.cli import common_options, run_options


@click.command("docs")
@common_options
@click.option("--catalogue", is_flag=True,
              help="List the failure modes the document must cover (as gate.yaml adjusts them), and exit.")
def command(catalogue: bool, **kwargs: Any) -> None:
    """Check the failure-mode documentation alone (the docs check)."""
    if catalogue:
        click.echo(catalogue_text(kwargs["config"]))
        return
    from gate.run import run_gate

    sys.exit(run_gate(run_options(kwargs, only=("docs",), skip=())))


def catalogue_text(config_path: Path | None = None) -> str:
    """The catalogue, with gate.yaml's additions, removals and waivers when there is a gate.yaml."""
    from .catalogue import CATALOGUE, DEFAULT_FIELDS

    modes = CATALOGUE
    fields: tuple[str, ...] = DEFAULT_FIELDS
    waived: dict[str, str] = {}
    if config_path is not None and config_path.exists():
        from gate.config import load_config

        from .config import load_options

        config = load_config(config_path)
        if config.section("docs") is not None:
            opts = load_options(config)
            modes, fields = opts.catalogue, opts.fields.required
            waived = {w.mode: w.reason or "(no reason given)" for w in opts.waivers}
    lines = [f"Each failure mode is a `## ` section with: {', '.join(fields)}.", ""]
    for mode in modes:
        lines.append(f"{mode.id}: {mode.title}" + (f"  [not applicable: {waived[mode.id]}]" if mode.id in waived else ""))
        if mode.match:
            lines.append(f"    heading may say: {', '.join(mode.match)}")
        if mode.covers:
            lines.append(f"    covers: {', '.join(mode.covers)}")
    return "\n".join(lines)
