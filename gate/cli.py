"""The `gate` command line: each verb turns its options into a RunOptions and calls plain code."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from click.utils import make_default_short_help

import gate
from gate.errors import ExitCode, GateError
from gate.registry import CommandEntry, command_entries

F = TypeVar("F", bound=Callable[..., Any])


def _names(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(n.strip() for v in values for n in v.split(",") if n.strip())


def common_options(func: F) -> F:
    """Options every gate-running verb shares."""
    decorators = [
        click.option("--config", "-c", type=click.Path(path_type=Path), default=Path("gate.yaml"),
                     show_default=True, help="The gate configuration file."),
        click.option("--only", multiple=True, help="Run only these checks (repeat or comma-separate)."),
        click.option("--skip", multiple=True, help="Do not run these checks."),
        click.option("--base-ref", help="Compare against this ref (default: GITHUB_BASE_REF, origin/HEAD, main)."),
        click.option("--report-json", type=click.Path(path_type=Path), help="Write the JSON report here."),
        click.option("--markdown", type=click.Path(path_type=Path), help="Write the markdown summary here."),
        click.option("--junit", type=click.Path(path_type=Path), help="Write JUnit XML here."),
        click.option("--sarif", type=click.Path(path_type=Path),
                     help="Write SARIF 2.1.0 here (findings with a file and line, for code scanning)."),
        click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
                     help="What to print on stdout."),
        click.option("--verbose", "-v", is_flag=True, help="List every finding, not only the first 50 per check."),
        click.option("--debug", is_flag=True, help="Show tracebacks."),
    ]
    for decorator in reversed(decorators):
        func = decorator(func)
    return func


full_report_option = click.option(
    "--full-report", is_flag=True,
    help="Regression: keep every case in the JSON report (by default only failing cases, the rest counted).")


def run_options(kwargs: dict[str, Any], **overrides: Any) -> Any:
    from gate.run import RunOptions

    extras = overrides.pop("extras", {})
    values = dict(
        config=kwargs["config"], only=_names(kwargs["only"]), skip=_names(kwargs["skip"]),
        base_ref=kwargs["base_ref"], report_json=kwargs["report_json"], markdown=kwargs["markdown"],
        junit=kwargs["junit"], sarif=kwargs.get("sarif"), format=kwargs["fmt"], debug=kwargs["debug"], verbose=kwargs["verbose"], extras=extras,
    )
    values.update(overrides)
    return RunOptions(**values)


def _error(message: str) -> None:
    """One line on stderr; a credential in gate.yaml or the environment never reaches the CI log, and
    text quoted from a file (a route name, a key) can neither move the cursor nor start a workflow command."""
    from gate.redact import redact_text, secret_env_values
    from gate.render.escape import no_workflow_commands, terminal_text

    text = terminal_text(redact_text(message, secret_env_values())).replace("\n", " ")
    click.echo(f"error: {no_workflow_commands(text)}", err=True)


class _Group(click.Group):
    """Built-in verbs plus those that checks register under the `prodgate.commands` entry points.

    It also maps GateError to its exit code with a one-line message, so that every way of
    invoking the CLI (console script, `python -m gate`, click's test runner) behaves the same."""

    raw_args: list[str] = []
    _entries: dict[str, CommandEntry] | None = None

    def main(self, args: Any = None, *pargs: Any, **kwargs: Any) -> Any:
        self.raw_args = list(sys.argv[1:] if args is None else args)
        return super().main(args, *pargs, **kwargs)

    def invoke(self, ctx: click.Context) -> Any:
        debug = "--debug" in self.raw_args
        try:
            return super().invoke(ctx)
        except GateError as exc:
            if debug:
                traceback.print_exc()
            for line in (exc.message, *exc.lines):
                _error(line)
            ctx.exit(int(exc.exit_code))
        except KeyboardInterrupt:
            # click would turn it into "Aborted!" and exit 1, which reads as "a check failed".
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except (click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except Exception as exc:  # noqa: BLE001 - the last line of defence against a traceback
            if debug:
                traceback.print_exc()
            _error(f"internal error: {type(exc).__name__}: {exc} (run with --debug for the traceback)")
            ctx.exit(int(ExitCode.INCOMPLETE))

    def _plugins(self) -> dict[str, CommandEntry]:
        # Names and targets only: a verb's module is imported when that verb runs (or a third party's is asked
        # for its help), so `gate --help` stays as light as the core.
        if self._entries is None:
            self._entries = command_entries()
        return self._entries

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self._plugins()))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is not None:
            return command
        entry = self._plugins().get(name)
        if entry is None:
            return None
        loaded: click.Command = entry.load()
        return loaded

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, except that a built-in plugin verb's help comes from its table, unimported."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = [(name, text) for name in names if (text := self._short_help(ctx, name, limit)) is not None]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _short_help(self, ctx: click.Context, name: str, limit: int) -> str | None:
        """None for a hidden verb; a third-party verb that cannot load is listed with why."""
        entry = None if name in self.commands else self._plugins().get(name)
        if entry is not None and entry.known_help is not None:
            return make_default_short_help(entry.known_help, limit)
        try:
            command = self.get_command(ctx, name)
        except GateError as exc:
            # The full reason comes when the verb is run; here, enough to tell a broken plugin from a working one.
            return make_default_short_help(f"(could not load: {type(exc.__cause__).__name__})", limit)
        if command is None or command.hidden:
            return None
        return command.get_short_help_str(limit)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(gate.__version__, "--version", prog_name="prodgate")
def cli() -> None:
    """prodgate: release gates for LLM applications.

    Exit codes: 0 passed, 1 a check failed, 2 usage or configuration error, 3 a check could not complete.
    """


def _shard(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    if value is None:
        return None
    i, _, n = value.partition("/")
    if not (i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
        raise click.BadParameter(f"{value!r}: expected I/N with 1 <= I <= N, e.g. 2/4")
    return int(i), int(n)


@cli.command()
@common_options
@click.option("--record", is_flag=True, help="Regression: record live answers into cassettes (replay targets re-record).")
@click.option("--no-cache", is_flag=True, help="Regression: neither read nor write the response cache.")
@click.option("--shard", callback=_shard, metavar="I/N", help="Regression: run only the I-th of N slices of the cases.")
@click.option("--github-output", is_flag=True,
              help="Also write the verdict and report-path step outputs to $GITHUB_OUTPUT (GitHub Actions).")
@full_report_option
def check(record: bool, no_cache: bool, shard: tuple[int, int] | None, github_output: bool, full_report: bool,
          **kwargs: Any) -> None:
    """Run every configured check (the release gate)."""
    import os

    from gate.run import run_gate

    extras: dict[str, Any] = {"record": record, "no_cache": no_cache, "full_report": full_report}
    if shard:
        extras["shard"] = shard
    outputs = None
    if github_output:
        if not os.environ.get("GITHUB_OUTPUT"):
            raise click.UsageError("--github-output: GITHUB_OUTPUT is not set (GitHub Actions sets it for every step)")
        outputs = Path(os.environ["GITHUB_OUTPUT"])
    sys.exit(run_gate(run_options(kwargs, extras=extras, github_output=outputs)))


@cli.command()
@common_options
def validate(**kwargs: Any) -> None:
    """Validate gate.yaml with every section, prompt files, models.yaml, secrets and the regression datasets.

    Nothing is sent to a model: the schema check, and the regression suites' files read as `gate check` reads them."""
    from gate.run import run_gate

    if kwargs["only"] or kwargs["skip"]:
        raise click.UsageError("gate validate runs the schema check and reads the regression suites: --only and "
                               "--skip do not apply (use gate check --only ...)")
    sys.exit(run_gate(run_options(kwargs, only=("schema", "regression"), skip=(), prepare_all=True,
                                  extras={"validate": True})))


@cli.group()
def baseline() -> None:
    """Record the results the base branch is compared against (.gate/), to commit on main."""


@baseline.command("update")
@common_options
@click.option("--no-cache", is_flag=True, help="Regression: ask every answer again, neither reading nor writing "
              "the response cache (a baseline from cached answers says so).")
def baseline_update(no_cache: bool, **kwargs: Any) -> None:
    """Run the checks that keep a baseline and write it (e.g. .gate/baseline.json)."""
    from gate.run import update_baselines

    sys.exit(update_baselines(run_options(kwargs, extras={"baseline": True, "no_cache": no_cache})))


@cli.command("schema")
@click.argument("name", required=False)
def schema_cmd(name: str | None) -> None:
    """Print a self-contained JSON Schema (for editors), or list them without NAME."""
    import json

    from gate.errors import ConfigError
    from gate.schemas import bundled, schema_names

    if name is None:
        click.echo("\n".join(schema_names()))
        return
    try:
        schema = bundled(name.removesuffix(".schema.json"))
    except KeyError:
        raise ConfigError(f"unknown schema {name!r} (known: {', '.join(schema_names())})") from None
    click.echo(json.dumps(schema, indent=2))


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path), default=Path("."))
@click.option("--force", is_flag=True, help="Overwrite files that already exist.")
@click.option("--owner", help="Owner of the failure modes: @org/team, @user or an email address "
              "(default: the origin remote's GitHub owner, else git's user.email).")
def init(directory: Path, force: bool, owner: str | None) -> None:
    """Scaffold gate.yaml, a prompt, a dataset, a failure-mode doc and a workflow."""
    from gate.scaffold import scaffold

    for line in scaffold(directory, force=force, owner=owner):
        click.echo(line)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="gate")
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
