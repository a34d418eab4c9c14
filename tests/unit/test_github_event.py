"""The run's context from real webhook payloads: which pull request, its head commit, fork or not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gate.github.api import GitHubClient
from gate.github.event import (
    GitHubEnv,
    PullRequest,
    head_for_links,
    links_for,
    load_event,
    pull_request_for_commit,
    pull_request_of,
)
from tests.servers.github_fake import serve

EVENTS = Path(__file__).resolve().parent.parent / "fixtures" / "github-events"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"


def event(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / f"{name}.json").read_text())
    return data


def env_for(tmp_path: Path, name: str, payload: dict[str, Any], **extra: str) -> GitHubEnv:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return GitHubEnv.from_env({"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": name, "GITHUB_EVENT_PATH": str(path),
                               "GITHUB_REPOSITORY": "Codertocat/Hello-World", "GITHUB_RUN_ID": "77", **extra})


def test_pull_request_of_opened_event_is_pr_2_at_head() -> None:
    gh = GitHubEnv(event_name="pull_request")
    assert pull_request_of(gh, event("pull_request.opened")) == PullRequest(2, HEAD, False)
    assert pull_request_of(gh, event("pull_request.synchronize")) == PullRequest(2, HEAD, False)


def test_pull_request_of_fork_head_repository_is_from_fork() -> None:
    payload = event("pull_request.opened")
    payload["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"
    pull = pull_request_of(GitHubEnv(event_name="pull_request_target"), payload)
    assert pull is not None and pull.from_fork


def test_pull_request_of_push_needs_a_lookup() -> None:
    assert pull_request_of(GitHubEnv(event_name="push"), event("push")) is None


def test_pull_request_for_commit_prefers_open_pr_whose_head_is_the_commit() -> None:
    sha = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    with serve() as fake:
        fake.pulls_for(sha, [
            {"number": 5, "state": "closed", "head": {"sha": sha}},
            {"number": 7, "state": "open", "head": {"sha": "0" * 40}},
            {"number": 9, "state": "open", "head": {"sha": sha, "repo": {"full_name": "Codertocat/Hello-World"}},
             "base": {"repo": {"full_name": "Codertocat/Hello-World"}}},
        ])
        pull = pull_request_for_commit(GitHubClient(fake.url, fake.token), "Codertocat/Hello-World", sha)
    assert pull == PullRequest(9, sha, False)


def test_env_enterprise_server_urls_and_rerun_attempt(tmp_path: Path) -> None:
    gh = env_for(tmp_path, "pull_request", event("pull_request.opened"), GITHUB_SERVER_URL="https://ghe.example",
                 GITHUB_API_URL="https://ghe.example/api/v3", GITHUB_RUN_ATTEMPT="2", GITHUB_TOKEN="ghs_x")
    assert gh.api_url == "https://ghe.example/api/v3"
    assert gh.run_url == "https://ghe.example/Codertocat/Hello-World/actions/runs/77/attempts/2"
    assert "ghs_x" not in repr(gh)
    links = links_for(gh, pull_request_of(gh, load_event(gh)), "f" * 40)
    assert links is not None and links.blob("a b.yml", 3) == f"https://ghe.example/Codertocat/Hello-World/blob/{HEAD}/a%20b.yml#L3"


def test_load_event_unreadable_payload_is_no_event(tmp_path: Path) -> None:
    path = tmp_path / "event.json"
    path.write_text("{not json")
    gh = GitHubEnv.from_env({"GITHUB_EVENT_PATH": str(path)})
    assert load_event(gh) == {} and load_event(GitHubEnv()) == {}


def test_pull_request_of_workflow_run_is_the_listed_pull_request_at_the_run_head() -> None:
    gh = GitHubEnv(event_name="workflow_run")
    assert pull_request_of(gh, event("workflow_run.completed")) == PullRequest(2, HEAD, False)


def test_pull_request_of_workflow_run_whose_pull_request_moved_on_is_none() -> None:
    payload = event("workflow_run.completed")
    payload["workflow_run"]["pull_requests"][0]["head"]["sha"] = "a" * 40
    assert pull_request_of(GitHubEnv(event_name="workflow_run"), payload) is None
    # The same payload under another event name is not read as a workflow run.
    assert pull_request_of(GitHubEnv(event_name="push"), event("workflow_run.completed")) is None


def test_head_for_links_under_workflow_run_is_the_events_never_the_reports() -> None:
    payload = event("workflow_run.completed")
    assert head_for_links(GitHubEnv(event_name="workflow_run"), payload, "f" * 40) == HEAD
    assert head_for_links(GitHubEnv(event_name="pull_request"), payload, "f" * 40) == "f" * 40
    payload["workflow_run"]["head_sha"] = "../../other/repo"
    assert head_for_links(GitHubEnv(event_name="workflow_run"), payload, "f" * 40) is None
