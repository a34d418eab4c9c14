"""The sticky pull-request comment: found again by its hidden marker, updated in place."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

from gate.github.api import GitHubClient, GitHubError
from gate.render.markdown import MARKER, stable_part


class CommentMode(str, Enum):
    UPDATE = "update"
    NEW = "new"
    DELETE_AND_NEW = "delete-and-new"
    OFF = "off"


class CommentAction(str, Enum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    RECREATED = "recreated"
    OFF = "off"


@dataclass(frozen=True)
class CommentOutcome:
    action: CommentAction
    url: str | None = None
    # Older copies removed: by delete-and-new, or duplicates left by two runs racing.
    deleted: int = 0


def marker_for(key: str | None) -> str:
    """The hidden first line that identifies our comment; a key lets two gates share a pull request."""
    return MARKER if not key else f"<!-- prodgate:report key={key} -->"


def _is_ours(comment: Any, marker: str) -> bool:
    if not isinstance(comment, dict) or not isinstance(comment.get("body"), str):
        return False
    return bool(comment["body"].split("\n", 1)[0].strip() == marker)


def find_ours(client: GitHubClient, repository: str, number: int, marker: str) -> list[dict[str, Any]] | None:
    """Every comment carrying the marker that the token's own identity wrote, oldest first, across all
    pages; None when there are marker comments but who the token is cannot be learnt.

    Only the poster's own copies are ours: another bot or app (or a person) that quotes the marker
    keeps its comment, and a copy of someone else's never hides ours."""
    found = [c for c in client.paginate(f"/repos/{repository}/issues/{number}/comments") if _is_ours(c, marker)]
    if not found:
        return []
    me = token_login(client)
    if me is None:
        return None
    return [c for c in found if _login(c) == me]


def token_login(client: GitHubClient) -> str | None:
    """Who the token posts as. A personal access token answers GET /user; an installation token (GITHUB_TOKEN,
    a GitHub App's) is refused there but answers GraphQL's `viewer` (github-actions[bot], my-app[bot])."""
    try:
        login = _login({"user": client.request("GET", "/user").data})
    except GitHubError:
        login = None
    if login is not None:
        return login
    try:
        data = client.request("POST", client.graphql_url, json={"query": "query { viewer { login } }"}).data
    except GitHubError:
        return None
    viewer = (data.get("data") or {}).get("viewer") if isinstance(data, dict) else None
    return _login({"user": viewer})


def post(client: GitHubClient, repository: str, number: int, body: str, mode: CommentMode,
         marker: str = MARKER) -> CommentOutcome:
    if mode is CommentMode.OFF:
        return CommentOutcome(CommentAction.OFF)
    comments = f"/repos/{repository}/issues/{number}/comments"
    if mode is CommentMode.NEW:
        created = client.request("POST", comments, json={"body": body}).data
        return CommentOutcome(CommentAction.CREATED, _url(created))

    if mode is CommentMode.DELETE_AND_NEW:
        return _delete_and_new(client, repository, number, body, marker)

    ours = find_ours(client, repository, number, marker)
    if ours is None:
        # Who the token is could not be learnt: edit nothing; the new comment names its author, and only
        # that author's older copies are removed.
        return _delete_and_new(client, repository, number, body, marker)
    if not ours:
        created = client.request("POST", comments, json={"body": body}).data
        return CommentOutcome(CommentAction.CREATED, _url(created))
    keep, extra = ours[0], ours[1:]
    for c in extra:
        _delete(client, repository, c)
    if stable_part(keep["body"]) == stable_part(body):
        return CommentOutcome(CommentAction.UNCHANGED, _url(keep), deleted=len(extra))
    try:
        updated = client.request("PATCH", f"/repos/{repository}/issues/comments/{keep['id']}",
                                 json={"body": body}).data
    except GitHubError as exc:
        if exc.status != 404:
            raise
        # Deleted since it was listed (by a person, or a racing delete-and-new run): post it afresh.
        created = client.request("POST", comments, json={"body": body}).data
        return CommentOutcome(CommentAction.CREATED, _url(created), deleted=len(extra))
    return CommentOutcome(CommentAction.UPDATED, _url(updated) or _url(keep), deleted=len(extra))


def _delete_and_new(client: GitHubClient, repository: str, number: int, body: str, marker: str) -> CommentOutcome:
    """Post first, then delete the older copies of the author the new comment names: that is who the
    token is (github-actions[bot], an app's bot, or a person), known without asking /user. A copy of
    the marker that anyone else posted, bot or person, is never deleted."""
    created = client.request("POST", f"/repos/{repository}/issues/{number}/comments", json={"body": body}).data
    me = _login(created)
    old = [c for c in client.paginate(f"/repos/{repository}/issues/{number}/comments")
           if me and _is_ours(c, marker) and _login(c) == me and c.get("id") != created.get("id")]
    for c in old:
        _delete(client, repository, c)
    return CommentOutcome(CommentAction.RECREATED if old else CommentAction.CREATED, _url(created), deleted=len(old))


def _login(comment: Any) -> str | None:
    user = comment.get("user") if isinstance(comment, dict) else None
    login = user.get("login") if isinstance(user, dict) else None
    return login if isinstance(login, str) and login else None


def _delete(client: GitHubClient, repository: str, comment: dict[str, Any]) -> None:
    try:
        client.request("DELETE", f"/repos/{repository}/issues/comments/{comment['id']}")
    except GitHubError as exc:
        # Already gone: a run racing this one removed the same duplicate first.
        if exc.status != 404:
            raise


def _url(comment: Any) -> str | None:
    url = comment.get("html_url") if isinstance(comment, dict) else None
    return url if isinstance(url, str) else None
