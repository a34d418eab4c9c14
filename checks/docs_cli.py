"""`gate docs`: the docs check alone, or the catalogue of failure modes it expects."""

from __future__ import annotations

import sys
from typing import Any

import click

from gate.cli import common_options, run_options


@click.command("docs")
@common_options
@click.option("--catalogue", is_flag=True, help="List the failure modes every document must cover, and exit.")
def command(catalogue: bool, **kwargs: Any) -> None:
    """Check the failure-mode documentation alone (the docs check)."""
    if catalogue:
        click.echo(catalogue_text())
        return
    from gate.run import run_gate

    sys.exit(run_gate(run_options(kwargs, only=("docs",), skip=())))


def catalogue_text() -> str:
    from .docs_catalogue import CATALOGUE, DEFAULT_FIELDS

    lines = [f"Each failure mode is a `## ` section with: {', '.join(DEFAULT_FIELDS)}.", ""]
    for mode in CATALOGUE:
        lines.append(f"{mode.id}: {mode.title}")
        lines.append(f"    heading may say: {', '.join(mode.match)}")
        if mode.covers:
            lines.append(f"    covers: {', '.join(mode.covers)}")
    return "\n".join(lines)
