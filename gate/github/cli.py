"""`gate comment`: publish a report to the pull request, the job summary, annotations and outputs."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from gate.errors import ConfigError

if TYPE_CHECKING:
    from gate.github.api import RetryPolicy
    from gate.github.publish import Source

_MODES = ["update", "new", "delete-and-new", "off"]
_MAX_ERROR_LINES = 20


@click.command("comment")
@click.option("--report", "report_path", type=click.Path(path_type=Path), default=Path("gate-report.json"),
              show_default=True, help="The JSON report `gate check --report-json` wrote.")
@click.option("--config", "-c", type=click.Path(path_type=Path), default=Path("gate.yaml"), show_default=True,
              help="gate.yaml, for its `comment:` section.")
@click.option("--mode", type=click.Choice(_MODES), help="Override gate.yaml's comment.mode.")
@click.option("--check-exit-code", type=int,
              help="The exit code of `gate check`: with no report, the comment says the gate did not run.")
@click.option("--check-log", type=click.Path(path_type=Path),
              help="The output of `gate check`: its `error:` lines go into that comment.")
@click.option("--print", "print_body", is_flag=True, help="Print the comment's markdown; post nothing.")
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def command(report_path: Path, config: Path, mode: str | None, check_exit_code: int | None,
            check_log: Path | None, print_body: bool, debug: bool) -> None:
    """Post the report as one pull-request comment, updated in place; write the job summary.

    Reads GITHUB_EVENT_PATH, GITHUB_REPOSITORY, GITHUB_API_URL and GITHUB_TOKEN. Failing to post
    (fork, no token, API errors) is a warning: the exit code is 0 whenever the report was read.
    Under workflow_run the report (another run's artifact) is untrusted: it must match
    report.schema.json, and it goes to the pull request whose head is the run's commit.
    """
    from dataclasses import replace

    from gate.github.comment import CommentMode
    from gate.github.publish import publish
    from gate.github.settings import load_settings, not_silenced

    # Under workflow_run the report comes from another run's artifact, which a pull request could write.
    untrusted = os.environ.get("GITHUB_EVENT_NAME") == "workflow_run"
    source = _source(report_path, check_exit_code, check_log, untrusted=untrusted)
    settings, problem = load_settings(config)
    if problem:
        click.echo(f"warning: {problem}", err=True)
    if mode:
        settings = replace(settings, mode=CommentMode(mode))
    else:
        settings, problem = not_silenced(settings, config)
        if problem:
            click.echo(f"warning: {problem}", err=True)
    secrets = _secrets(config)
    if print_body:
        from gate.github.publish import scrubbed
        from gate.redact import redact_text

        click.echo(redact_text(_preview(scrubbed(source, secrets)), secrets), nl=False)
        return
    published = publish(source, settings, os.environ, retry=_retry_policy(), secrets=secrets)
    if published.comment is None and published.skipped is None:
        click.echo("prodgate: no comment posted", err=True)
    sys.exit(0)


def _secrets(config: Path) -> list[str]:
    """What to redact: the secret-looking variables, plus what gate.yaml names (`*_env`, `redact_env`, and a
    credential pasted where a variable's name belongs). A gate.yaml that does not load still gets the first."""
    from gate.errors import GateError
    from gate.redact import secret_env_values

    found = secret_env_values(os.environ)
    if not config.is_file():
        return found
    from gate.config import load_config
    from gate.runner import config_secrets

    try:
        return sorted(set(found) | set(config_secrets(load_config(config), os.environ)), key=lambda v: (-len(v), v))
    except (GateError, OSError):
        return found


def _retry_policy() -> RetryPolicy:
    from gate.github.api import RetryPolicy

    # The first back-off step (doubling on each retry); tests and impatient CI shorten it.
    raw = os.environ.get("PRODGATE_GITHUB_RETRY_BASE_S", "")
    try:
        return RetryPolicy(base_s=max(float(raw), 0.0)) if raw else RetryPolicy()
    except ValueError:
        raise ConfigError(f"PRODGATE_GITHUB_RETRY_BASE_S={raw!r}: not a number of seconds") from None


def _source(path: Path, exit_code: int | None, log: Path | None, *, untrusted: bool = False) -> Source:
    from gate.github.publish import Source
    from gate.report import Report

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if exit_code is None:
            raise ConfigError(f"{path}: file not found (run `gate check --report-json {path}` first, "
                              "or pass --check-exit-code)") from None
        return Source(None, path, exit_code, _error_lines(log))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}:{exc.lineno}:{exc.colno}: not valid JSON: {exc.msg}") from None
    if untrusted:
        _check_schema(path, data)
    try:
        report = Report.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ConfigError(f"{path}: not a prodgate report ({type(exc).__name__}: {exc})") from None
    return Source(report, path, exit_code, untrusted=untrusted)


def _check_schema(path: Path, data: object) -> None:
    """Every field of the shape report.schema.json gives it, before any renderer or check reads it."""
    from gate.schemas import validate
    from gate.yamlfile import YamlDocument, format_path

    violations = validate(YamlDocument(str(path), data, {}, {}), "report")
    if violations:
        first = violations[0]
        raise ConfigError(f"{path}: {format_path(first.path)}: {first.message} (a report from another workflow "
                          "run must match report.schema.json)")


def _error_lines(log: Path | None) -> tuple[str, ...]:
    if log is None:
        return ()
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ()
    return tuple(line for line in lines if line.startswith("error: "))[:_MAX_ERROR_LINES]


def _preview(source: Source) -> str:
    import gate
    from gate.github.event import GitHubEnv, head_for_links, links_for, load_event, pull_request_of
    from gate.render.markdown import render_comment, render_incomplete

    gh = GitHubEnv.from_env(os.environ)
    event = load_event(gh)
    report = source.report
    links = links_for(gh, pull_request_of(gh, event), head_for_links(gh, event, report.git.head if report else None))
    if report is None:
        return render_incomplete(source.exit_code or 2, source.errors, links, version=gate.__version__)
    return render_comment(report, links=links, checks=source.renderers)
