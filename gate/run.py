"""`gate check` and its relatives: load config, run checks, write every output, pick the exit code."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from gate import warm
from gate.config import display_path, load_config
from gate.context import CheckContext
from gate.errors import ConfigError, ExitCode, GateError
from gate.gitref import resolve_base
from gate.progress import StreamProgress
from gate.registry import Check, by_name, check_names, discover, plugin_sections
from gate.report import Report, Status
from gate.runner import choose, chosen, prepare, run_checks, select
from gate.schemas import load_schema

T = TypeVar("T")


@dataclass(frozen=True)
class RunOptions:
    config: Path = Path("gate.yaml")
    only: tuple[str, ...] = ()
    skip: tuple[str, ...] = ()
    base_ref: str | None = None
    report_json: Path | None = None
    markdown: Path | None = None
    junit: Path | None = None
    sarif: Path | None = None
    format: str = "text"
    # Validate every check's gate.yaml section (their prepare()), even of checks that will not run.
    prepare_all: bool = False
    debug: bool = False
    verbose: bool = False
    # The runner's step-output file: the verdict goes there from here, never parsed out of the report.
    github_output: Path | None = None
    # Flags of a verb that concern particular checks, passed through to them.
    extras: Mapping[str, Any] = field(default_factory=dict)


def exit_code_for(report: Report) -> ExitCode:
    verdict = report.verdict
    if verdict is Status.ERROR:
        return ExitCode.INCOMPLETE
    if verdict is Status.FAIL:
        return ExitCode.FAILED
    return ExitCode.OK


def build_report(opts: RunOptions, *, only_baselines: bool = False) -> tuple[Report, list[Check], CheckContext]:
    everything = opts.prepare_all or only_baselines
    # A run with --only or --skip imports none of the built-in checks it will not run.
    checks, broken = discover(None if everything else lambda name: chosen(name, opts.only, opts.skip))
    select(checks, broken, opts.only, opts.skip, check_names())
    if only_baselines:
        checks = [c for c in checks if hasattr(c, "baseline")]
        broken = []
    builtin = load_schema("gate")["properties"]
    config = load_config(opts.config, plugin_sections(checks, builtin))
    # git's processes find the base while the sections are checked: they run on another core.
    base_of = _in_background(lambda: resolve_base(config.root, opts.base_ref))
    try:
        # Every section validated (or those of the checks that run), in check order, before anything runs.
        prepared = prepare(checks if opts.prepare_all else choose(checks, opts.only, opts.skip), config)
    except GateError:
        base_of()  # a --base-ref that names nothing is the first error, as it was when looked up first
        raise
    base = base_of()
    if os.environ.get("GITHUB_ACTIONS") == "true":
        # A secret header goes only where the base's gate.yaml sends it: checked before anything is sent.
        from gate.keyguard import new_header_destinations

        refused = new_header_destinations(config, base, CheckContext(config, base).display)
        if refused:
            raise ConfigError(refused[0], lines=tuple(refused[1:]))
    if opts.format != "json":  # the table's renderer (tabulate) is loaded while the checks wait for answers
        warm.later("gate.render.terminal")
    # stdout is the report's alone (`--format json` must parse): whatever a check or library prints goes to stderr.
    with contextlib.redirect_stdout(sys.stderr):
        report = run_checks(config, base, checks, broken, only=opts.only, skip=opts.skip, options=opts.extras,
                            progress=StreamProgress(), debug=opts.debug, prepared=prepared)
    ctx = CheckContext(config, base, dict(opts.extras), debug=opts.debug,
                       results={c.name: c for c in report.checks})
    return report, checks, ctx


def _in_background(work: Callable[[], T]) -> Callable[[], T]:
    """work() started on a thread of its own; the function returned waits for it, then returns or raises what
    work did."""
    done: list[tuple[bool, Any]] = []

    def run() -> None:
        try:
            done.append((True, work()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, who raises it in its own thread
            done.append((False, exc))

    thread = threading.Thread(target=run, name="prodgate-background", daemon=True)
    thread.start()

    def result() -> T:
        thread.join()
        ok, value = done[0]
        if not ok:
            raise value
        out: T = value
        return out
    return result


def write_outputs(report: Report, opts: RunOptions, checks: Sequence[Check]) -> None:
    """Every file output, the JSON report first: it is the source of truth. checks: those that ran, whose
    `markdown_details` render their sections of the --markdown file."""
    failed: list[str] = []
    writers = ((opts.report_json, Report.write_json),
               (opts.markdown, _rendered("gate.render.markdown", "render_markdown", by_name(checks))),
               (opts.junit, _rendered("gate.render.junit", "render_junit")),
               (opts.sarif, _rendered("gate.render.sarif", "render_sarif")))
    for path, write in writers:
        if path is None:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(path.name + ".tmp")
            with tmp.open("w", encoding="utf-8") as out:
                write(report, out)
            os.replace(tmp, path)
        except OSError as exc:
            # The other outputs are still written: one bad path must not lose the report.
            failed.append(f"{path}: cannot write: {exc.strerror or exc}")
    if failed:
        raise ConfigError(failed[0], lines=tuple(failed[1:]))


def _rendered(module: str, name: str, *args: Any) -> Callable[[Report, TextIO], None]:
    """A writer whose renderer is imported when its output is asked for: a run without --junit never loads it."""
    def write(report: Report, out: TextIO) -> None:
        out.write(getattr(importlib.import_module(module), name)(report, *args))
    return write


def inert_json(text: str) -> str:
    """JSON whose every line is safe on a runner's stdout, and parses to the same value.

    `::` and `##[` occur only inside strings (the separators are ": " and ", "), where a \\u escape
    stands for the same character: no text in the report can start a workflow command."""
    return text.replace("::", "\\u003a\\u003a").replace("##[", "\\u0023#[")


def print_report(report: Report, opts: RunOptions) -> None:
    if opts.format == "json":
        sys.stdout.write(inert_json(report.to_json()))
        return
    from gate.render.terminal import render_terminal

    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(render_terminal(report, colour=colour, verbose=opts.verbose))


def emit(report: Report, opts: RunOptions, checks: Sequence[Check], *,
         before_print: Callable[[], None] | None = None) -> None:
    """Write every output file, then print: an unwritable path (exit 2) must not lose what stdout gets."""
    try:
        write_outputs(report, opts, checks)
    finally:
        if before_print is not None:
            before_print()
        print_report(report, opts)


def run_gate(opts: RunOptions) -> int:
    report, checks, _ = build_report(opts)
    emit(report, opts, checks)
    if opts.github_output is not None:
        from gate.github.workflow import write_outputs as write_step_outputs

        path = str(opts.report_json.resolve()) if opts.report_json else ""
        write_step_outputs(opts.github_output, {"verdict": report.verdict.value, "report-path": path})
    return int(exit_code_for(report))


def update_baselines(opts: RunOptions) -> int:
    """Run the checks that keep a baseline; each one that completed writes its own files.

    A check offers this with `baseline(ctx, result) -> list[Path]`; the core never knows what a
    baseline holds. The report says what was written, and stderr which files to commit."""
    report, checks, ctx = build_report(opts, only_baselines=True)
    written: dict[str, list[str]] = {}
    try:
        for check in checks:
            result = report.check(check.name)
            if result is None or result.status in (Status.SKIP, Status.ERROR):
                continue
            paths = check.baseline(ctx, result)  # type: ignore[attr-defined]
            written[check.name] = [display_path(p) for p in paths]
    finally:
        emit(_saying_written(report, written), opts, checks)
    files = [f for paths in written.values() for f in paths]
    for f in files:
        print(f"baseline: wrote {f} — commit it", file=sys.stderr)
    if files:
        print(f"next: git add {' '.join(files)} && git commit (on the base branch: pull requests compare with "
              "the committed copy)", file=sys.stderr)
    return int(ExitCode.INCOMPLETE if report.verdict is Status.ERROR else ExitCode.OK)


def _saying_written(report: Report, written: Mapping[str, list[str]]) -> Report:
    """A summary's first clause is the result; the rest compares it with a baseline, and a run that
    writes the baseline compares with none: it says what it wrote instead."""
    checks = tuple(replace(c, summary=f"{c.summary.split('; ')[0]}; wrote {', '.join(written[c.name])}")
                   if written.get(c.name) else c for c in report.checks)
    return replace(report, checks=checks)
