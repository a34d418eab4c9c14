"""The REST client against the fake GitHub: pagination, retries with backoff, errors without the token."""

from __future__ import annotations

import pytest

from gate.github.api import GitHubClient, GitHubError, RetryPolicy
from tests.servers.github_fake import FakeGitHub, Fault, secondary_rate_limit, serve

REPO = "Codertocat/Hello-World"
FAST = RetryPolicy(attempts=4, base_s=0.01, max_wait_s=5)


def client(fake: FakeGitHub, policy: RetryPolicy = FAST) -> GitHubClient:
    return GitHubClient(fake.url, fake.token, policy=policy)


def test_client_paginate_150_comments_follows_link_headers() -> None:
    with serve() as fake:
        fake.open_pull(2)
        for i in range(150):
            fake.add_comment(2, f"comment {i}")
        items = list(client(fake).paginate(f"/repos/{REPO}/issues/2/comments"))
    assert [c["body"] for c in items] == [f"comment {i}" for i in range(150)]
    gets = [r for r in fake.requests if r.method == "GET"]
    assert len(gets) == 2
    assert gets[0].query == {"per_page": ["100"]} and gets[1].query == {"per_page": ["100"], "page": ["2"]}


def test_client_enterprise_prefix_is_kept_for_every_request() -> None:
    with serve(prefix="/api/v3") as fake:
        fake.open_pull(2)
        for i in range(120):
            fake.add_comment(2, f"c{i}")
        assert len(list(client(fake).paginate(f"/repos/{REPO}/issues/2/comments"))) == 120
    assert all(r.path.startswith("/api/v3/repos/") for r in fake.requests)


def test_client_server_error_is_retried_then_succeeds() -> None:
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(Fault("POST", r"/comments$", 502, times=2))
        c = client(fake)
        resp = c.request("POST", f"/repos/{REPO}/issues/2/comments", json={"body": "hi"})
    assert resp.status == 201 and resp.data["body"] == "hi"
    assert c.requests_made == 3 and len(fake.comments[2]) == 1


def test_client_secondary_rate_limit_waits_retry_after_then_succeeds() -> None:
    waits: list[float] = []
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(secondary_rate_limit("GET", r"/comments$", retry_after="3"))
        c = GitHubClient(fake.url, fake.token, policy=FAST, sleep=waits.append)
        assert list(c.paginate(f"/repos/{REPO}/issues/2/comments")) == []
    assert waits == [3.0]


def test_client_persistent_rate_limit_gives_up_with_rate_limited_error() -> None:
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(secondary_rate_limit("POST", r"/comments$", retry_after="0", times=10))
        with pytest.raises(GitHubError) as info:
            client(fake).request("POST", f"/repos/{REPO}/issues/2/comments", json={"body": "x"})
    assert info.value.rate_limited and info.value.status == 403
    assert len(fake.requests) == FAST.attempts


def test_client_rate_limit_reset_far_away_is_not_waited_for() -> None:
    waits: list[float] = []
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(Fault("GET", r"/comments$", 429, {"message": "API rate limit exceeded"},
                                 {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "9999999999"}))
        with pytest.raises(GitHubError) as info:
            list(GitHubClient(fake.url, fake.token, policy=FAST, sleep=waits.append).paginate(
                f"/repos/{REPO}/issues/2/comments"))
    assert waits == [] and info.value.status == 429


@pytest.mark.parametrize("status", [404, 422])
def test_client_client_error_is_not_retried(status: int) -> None:
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(Fault("POST", r"/comments$", status, {"message": "Validation Failed"}, times=5))
        with pytest.raises(GitHubError) as info:
            client(fake).request("POST", f"/repos/{REPO}/issues/2/comments", json={"body": "x"})
    assert info.value.status == status and len(fake.requests) == 1
    assert fake.token not in str(info.value)


def test_client_connection_refused_is_an_error_without_the_token() -> None:
    with serve() as fake:
        url = fake.url
    c = GitHubClient(url, "ghs_secret_value_123456", policy=RetryPolicy(attempts=2, base_s=0.01))
    with pytest.raises(GitHubError) as info:
        c.request("GET", f"/repos/{REPO}/issues/2/comments")
    assert info.value.status is None and "ghs_secret" not in str(info.value)
    assert c.requests_made == 2


def test_client_link_to_another_host_is_not_followed() -> None:
    with serve() as fake:
        c = client(fake)
        with pytest.raises(GitHubError, match="another host"):
            c.request("GET", "https://evil.example/steal")
    assert fake.requests == []


def test_client_sends_token_version_and_user_agent() -> None:
    with serve() as fake:
        fake.open_pull(2)
        list(client(fake).paginate(f"/repos/{REPO}/issues/2/comments"))
    headers = fake.requests[0].headers
    assert headers["authorization"] == f"Bearer {fake.token}"
    assert headers["x-github-api-version"] == "2022-11-28"
    assert headers["user-agent"].startswith("prodgate/")
