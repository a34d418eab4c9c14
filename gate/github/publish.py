"""Publishes a report to GitHub: job summary, annotations, outputs, then the sticky PR comment.

The report is never lost and the verdict never changed here: whatever goes wrong with the
comment (no token, a fork's read-only token, 404, 422, 5xx, rate limits once retries are spent)
becomes a warning, and the job summary still carries the whole report.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TextIO

from gate.github.api import GitHubClient, GitHubError, RetryPolicy
from gate.github.comment import CommentAction, CommentMode, CommentOutcome, marker_for, post
from gate.github.event import (
    GitHubEnv,
    PullRequest,
    head_for_links,
    links_for,
    load_event,
    pull_request_for_commit,
    pull_request_for_run,
    pull_request_of,
    workflow_run_of,
)
from gate.github.settings import CommentSettings
from gate.github.workflow import annotation_lines, append_summary, warning, write_outputs
from gate.redact import redact, redact_text, secret_env_values
from gate.render.markdown import render_comment, render_incomplete, render_summary
from gate.render.markdown_base import Links
from gate.render.words import counted
from gate.report import Report


@dataclass(frozen=True)
class Published:
    verdict: str
    comment: CommentOutcome | None
    # Why there is no comment, in words for the log; None when it was posted (or mode is off).
    skipped: str | None = None


@dataclass(frozen=True)
class Source:
    """What to publish: a report, or (when `gate check` wrote none) its exit code and error lines."""

    report: Report | None
    report_path: Path
    exit_code: int | None = None
    errors: tuple[str, ...] = ()
    # From another run's artifact (workflow_run): rendered by the core alone, never by a check's own
    # markdown_details, which trusts the shape of its details.
    untrusted: bool = False
    # Why a report that was read is not shown (it disagrees with the run that made it).
    withheld: str | None = None

    @property
    def renderers(self) -> dict[str, object]:
        from gate.registry import by_name, discover

        return {} if self.untrusted else dict(by_name(discover()[0]))


def publish(source: Source, settings: CommentSettings, env: Mapping[str, str], *,
            out: TextIO | None = None, retry: RetryPolicy | None = None, secrets: list[str] | None = None) -> Published:
    """secrets: the values to redact; by default those of the environment's secret-looking variables."""
    out = out or sys.stdout
    gh = GitHubEnv.from_env(env)
    event = load_event(gh)
    pull = pull_request_of(gh, event)
    client = GitHubClient(gh.api_url, gh.token, policy=retry) if gh.token and gh.repository else None
    run = workflow_run_of(gh, event)
    if source.untrusted:
        # Findings of a report from another run would annotate this run's commit, not the pull request's.
        settings = replace(settings, annotations=False)
    try:
        skipped = None
        if pull is None and gh.event_name == "push" and client and gh.sha and gh.repository:
            try:
                pull = pull_request_for_commit(client, gh.repository, gh.sha)
            except GitHubError as exc:
                skipped = f"could not look up the pull request of {gh.sha[:12]}: {exc}"
        if pull is None and run is not None and client and gh.repository:
            try:
                pull = pull_request_for_run(client, gh.repository, run)
            except GitHubError as exc:
                skipped = f"could not look up the pull request of the workflow run: {exc}"
        secrets = secret_env_values(env) if secrets is None else secrets
        source = scrubbed(source, secrets)
        if run is not None and source.untrusted:
            source = against_run(source, run)
        report = source.report
        links = links_for(gh, pull, head_for_links(gh, event, report.git.head if report else None))
        verdict = report.verdict.value if report else "error"

        _summary_and_annotations(source, settings, gh, links, secrets, out)
        outputs = {"verdict": verdict, "report-path": str(source.report_path.resolve()) if report else "",
                   "monthly-cost": _monthly_cost(report)}

        outcome = None
        if settings.mode is CommentMode.OFF:
            outcome = CommentOutcome(CommentAction.OFF)
        elif skipped is None:
            skipped = _why_not(gh, pull, client)
        if outcome is None and skipped is None and client and pull and gh.repository:
            body = redact_text(_body(source, links, settings), secrets)
            try:
                outcome = post(client, gh.repository, pull.number, body, settings.mode, marker_for(settings.key))
            except GitHubError as exc:
                skipped = _explain(exc, pull)
        if outcome is not None:
            out.write(f"prodgate: comment {outcome.action.value}" + (f": {outcome.url}" if outcome.url else "") + "\n")
        if skipped:
            warning(redact_text(f"no pull request comment: {skipped}. The report is in the job summary.", secrets),
                    in_actions=gh.in_actions, stream=out if gh.in_actions else None)
            if gh.step_summary and settings.summary:
                append_summary(gh.step_summary, [f"> [!WARNING]\n> prodgate posted no pull request comment: "
                                                 f"{redact_text(skipped, secrets)}.\n"])
        outputs["comment-url"] = (outcome.url if outcome else None) or ""
        if gh.output:
            write_outputs(gh.output, outputs)
        return Published(verdict, outcome, skipped)
    finally:
        if client:
            client.close()


def against_run(source: Source, run: Mapping[str, Any]) -> Source:
    """A report from another run's artifact, held to how that run ended: whoever could write the artifact
    could write a passing report, but not the run's conclusion. A passing report from a run that did not
    succeed is not shown."""
    conclusion = run.get("conclusion")
    report = source.report
    if report is None or report.verdict.value not in ("pass", "warn", "skip") or conclusion == "success":
        return source
    said = conclusion if isinstance(conclusion, str) and conclusion.isidentifier() else "unknown"
    why = (f"the gate's workflow run concluded {said!r}, but the report it left says {report.verdict.value!r}: "
           "the report does not match the run that made it, so it is not shown")
    return replace(source, report=None, exit_code=source.exit_code or 3, errors=(*source.errors, why),
                   withheld="The report of the gate's run does not match how the run ended, so it is not shown.")


def scrubbed(source: Source, secrets: list[str]) -> Source:
    """The report with every credential out of every field, before any renderer sees it: once escaped
    for markdown (`sk\\-proj\\-…`), a key no longer matches the patterns that find it."""
    report = Report.from_dict(redact(source.report.to_dict(), secrets)) if source.report else None
    return replace(source, report=report, errors=tuple(redact_text(e, secrets) for e in source.errors))


def _body(source: Source, links: Links | None, settings: CommentSettings) -> str:
    marker = marker_for(settings.key)
    if source.report is None:
        import gate

        return render_incomplete(source.exit_code or 2, source.errors, links, marker=marker, version=gate.__version__,
                                 why=source.withheld)
    return render_comment(source.report, links=links, marker=marker, checks=source.renderers)


def _summary_and_annotations(source: Source, settings: CommentSettings, gh: GitHubEnv, links: Links | None,
                             secrets: list[str], out: TextIO) -> None:
    """Written before any request, so the report survives whatever happens to the comment."""
    report = source.report
    if gh.step_summary and settings.summary:
        if report is None:
            text = render_incomplete(source.exit_code or 2, source.errors, links, marker="", why=source.withheld)
        else:
            text = render_summary(report, links=links, checks=source.renderers)
        append_summary(gh.step_summary, [redact_text(text, secrets)])
    if report is not None and settings.annotations and gh.in_actions:
        lines, left_out = annotation_lines(report)
        for line in lines:
            out.write(redact_text(line, secrets) + "\n")
        if left_out:
            out.write(f"prodgate: {counted(left_out, 'more finding')} with a file {'is' if left_out == 1 else 'are'} in the job summary\n")


def _why_not(gh: GitHubEnv, pull: PullRequest | None, client: GitHubClient | None) -> str | None:
    if not gh.repository or not gh.event_name:
        return "not running in a GitHub Actions workflow (GITHUB_REPOSITORY / GITHUB_EVENT_NAME unset)"
    if pull is None:
        if gh.event_name in ("push", "workflow_run") and client is None:
            return f"no token to look up the pull request of this {gh.event_name} (set github-token, or GITHUB_TOKEN)"
        if gh.event_name == "push":
            return f"no open pull request contains {(gh.sha or 'this commit')[:12]}"
        if gh.event_name == "workflow_run" and client is not None:
            return "no open pull request has the workflow run's commit as its head (pushed to since?)"
        return f"a {gh.event_name} event has no pull request"
    if client is None:
        return "no token (set the action's github-token input, or GITHUB_TOKEN)"
    return None


def _explain(exc: GitHubError, pull: PullRequest) -> str:
    if exc.status == 403 and not exc.rate_limited:
        hint = ("a pull request from a fork gets a read-only token" if pull.from_fork
                else "the token lacks `pull-requests: write`")
        return f"GitHub refused ({exc}); {hint}"
    if exc.rate_limited:
        return f"GitHub's rate limit held after retries ({exc})"
    if exc.status == 404:
        return f"GitHub answered 404 ({exc}): the token cannot see pull request #{pull.number}"
    return f"GitHub answered {exc}"


def _monthly_cost(report: Report | None) -> str:
    cost = report.check("cost") if report else None
    value = cost.metrics.get("monthly_usd") if cost else None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.2f}"
    return ""
