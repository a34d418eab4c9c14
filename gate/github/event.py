"""What a workflow run tells a step: its environment, the event payload, and the pull request."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.github.api import GitHubClient
from gate.render.markdown_base import Links

PULL_EVENTS = ("pull_request", "pull_request_target", "pull_request_review", "pull_request_review_comment")


@dataclass(frozen=True)
class GitHubEnv:
    """The variables the runner sets for every step (GitHub Enterprise Server included)."""

    in_actions: bool = False
    event_name: str | None = None
    event_path: Path | None = None
    repository: str | None = None
    api_url: str = "https://api.github.com"
    server_url: str = "https://github.com"
    run_id: str | None = None
    run_attempt: str | None = None
    sha: str | None = None
    step_summary: Path | None = None
    output: Path | None = None
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GitHubEnv:
        def path(name: str) -> Path | None:
            return Path(env[name]) if env.get(name) else None

        return cls(
            in_actions=env.get("GITHUB_ACTIONS") == "true",
            event_name=env.get("GITHUB_EVENT_NAME") or None,
            event_path=path("GITHUB_EVENT_PATH"),
            repository=env.get("GITHUB_REPOSITORY") or None,
            api_url=env.get("GITHUB_API_URL") or "https://api.github.com",
            server_url=env.get("GITHUB_SERVER_URL") or "https://github.com",
            run_id=env.get("GITHUB_RUN_ID") or None,
            run_attempt=env.get("GITHUB_RUN_ATTEMPT") or None,
            sha=env.get("GITHUB_SHA") or None,
            step_summary=path("GITHUB_STEP_SUMMARY"),
            output=path("GITHUB_OUTPUT"),
            token=env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or None,
        )

    @property
    def run_url(self) -> str | None:
        if not (self.repository and self.run_id):
            return None
        url = f"{self.server_url.rstrip('/')}/{self.repository}/actions/runs/{self.run_id}"
        return url + (f"/attempts/{self.run_attempt}" if self.run_attempt and self.run_attempt != "1" else "")


@dataclass(frozen=True)
class PullRequest:
    number: int
    head_sha: str | None
    # A pull request from a fork gets a read-only token on `pull_request`.
    from_fork: bool = False


def load_event(env: GitHubEnv) -> Mapping[str, Any]:
    """The webhook payload; an unreadable one is treated as no event (the summary still works)."""
    if env.event_path is None:
        return {}
    try:
        data = json.loads(env.event_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _pull_from_payload(pr: Mapping[str, Any]) -> PullRequest | None:
    number = pr.get("number")
    if not isinstance(number, int):
        return None
    head = pr.get("head") or {}
    base = pr.get("base") or {}
    head_repo = (head.get("repo") or {}).get("full_name")
    base_repo = (base.get("repo") or {}).get("full_name")
    fork = bool(head_repo and base_repo and head_repo != base_repo)
    sha = head.get("sha")
    return PullRequest(number, sha if isinstance(sha, str) else None, fork)


def pull_request_of(env: GitHubEnv, event: Mapping[str, Any]) -> PullRequest | None:
    """The pull request this run is for, from the payload alone (no request made)."""
    if isinstance(event.get("pull_request"), dict):
        return _pull_from_payload(event["pull_request"])
    issue = event.get("issue")
    if env.event_name == "issue_comment" and isinstance(issue, dict) and issue.get("pull_request"):
        number = issue.get("number")
        return PullRequest(number, None) if isinstance(number, int) else None
    run = workflow_run_of(env, event)
    if run is not None:
        # Listed for a pull request of this repository (never for a fork's): only one whose head is the run's commit.
        for pr in run.get("pull_requests") or []:
            found = _pull_from_payload(pr) if isinstance(pr, dict) else None
            if found and found.head_sha == run.get("head_sha"):
                return found
    return None


def workflow_run_of(env: GitHubEnv, event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The finished run a `workflow_run` event is about: where a report from an artifact came from."""
    run = event.get("workflow_run")
    return run if env.event_name == "workflow_run" and isinstance(run, dict) else None


def head_for_links(env: GitHubEnv, event: Mapping[str, Any], report_head: str | None) -> str | None:
    """The commit file links point into: a report from another run names a head of its own choosing,
    so under workflow_run only the event's word counts."""
    run = workflow_run_of(env, event)
    return run_head_sha(run) if run is not None else report_head


def run_head_sha(run: Mapping[str, Any]) -> str | None:
    sha = run.get("head_sha")
    return sha if isinstance(sha, str) and len(sha) == 40 and all(c in "0123456789abcdef" for c in sha) else None


def pull_request_for_run(client: GitHubClient, repository: str, run: Mapping[str, Any]) -> PullRequest | None:
    """For a fork's pull request, which a workflow_run event does not list: the open pull request
    from the run's head branch whose head is still the run's commit (so a report is never posted to
    a pull request it was not made for)."""
    sha = run_head_sha(run)
    owner = ((run.get("head_repository") or {}).get("owner") or {}).get("login")
    branch = run.get("head_branch")
    if not (sha and isinstance(owner, str) and isinstance(branch, str)):
        return None
    for p in client.paginate(f"/repos/{repository}/pulls", {"state": "open", "head": f"{owner}:{branch}"}):
        if isinstance(p, dict) and (p.get("head") or {}).get("sha") == sha:
            return _pull_from_payload(p)
    return None


def pull_request_for_commit(client: GitHubClient, repository: str, sha: str) -> PullRequest | None:
    """For a push: the open pull request whose head is this commit, else any open one containing it."""
    pulls = [p for p in client.paginate(f"/repos/{repository}/commits/{sha}/pulls")
             if isinstance(p, dict) and p.get("state", "open") == "open"]
    pulls.sort(key=lambda p: ((p.get("head") or {}).get("sha") != sha, p.get("number", 0)))
    return _pull_from_payload(pulls[0]) if pulls else None


def links_for(env: GitHubEnv, pull: PullRequest | None, head: str | None) -> Links | None:
    """Where file links point: the pull request's head commit (not the merge commit, which expires)."""
    if not env.repository:
        return None
    sha = (pull.head_sha if pull else None) or head or env.sha
    return Links(env.server_url, env.repository, sha, env.run_url)
