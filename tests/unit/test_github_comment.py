"""The sticky comment against the fake GitHub: found by its marker across pages, updated, never doubled."""

from __future__ import annotations

import pytest

from gate.github.api import GitHubClient, GitHubError, RetryPolicy
from gate.github.comment import CommentAction, CommentMode, marker_for, post
from gate.render.markdown import MARKER
from tests.servers.github_fake import BOT, HUMAN, FakeGitHub, Fault, Recorded, serve

REPO = "Codertocat/Hello-World"


def body(text: str, run: int = 1, marker: str = MARKER) -> str:
    return f"{marker}\n## {text}\n\n<!-- prodgate:footer -->\n<sub>run {run}</sub>\n"


def client(fake: FakeGitHub) -> GitHubClient:
    return GitHubClient(fake.url, fake.token, policy=RetryPolicy(attempts=2, base_s=0.01))


def test_post_update_twice_leaves_one_comment_edited_in_place() -> None:
    with serve() as fake:
        fake.open_pull(2)
        first = post(client(fake), REPO, 2, body("fail"), CommentMode.UPDATE)
        second = post(client(fake), REPO, 2, body("pass", run=2), CommentMode.UPDATE)
    assert first.action is CommentAction.CREATED and second.action is CommentAction.UPDATED
    assert first.url == second.url and first.url and first.url.startswith("https://github.com/")
    assert len(fake.comments[2]) == 1 and "## pass" in fake.comments[2][0]["body"]
    assert [r.method for r in fake.writes()] == ["POST", "PATCH"]


def test_post_update_unchanged_body_sends_no_write() -> None:
    with serve() as fake:
        fake.open_pull(2)
        post(client(fake), REPO, 2, body("pass", run=1), CommentMode.UPDATE)
        # Only the footer (the run link) differs: not worth a notification-less edit.
        again = post(client(fake), REPO, 2, body("pass", run=2), CommentMode.UPDATE)
    assert again.action is CommentAction.UNCHANGED
    assert [r.method for r in fake.writes()] == ["POST"]


def test_post_update_finds_marker_on_the_second_page_of_150_comments() -> None:
    with serve() as fake:
        fake.open_pull(2)
        for i in range(120):
            fake.add_comment(2, f"review remark {i}")
        ours = fake.add_comment(2, body("fail"), user=BOT)
        for i in range(29):
            fake.add_comment(2, f"later remark {i}")
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.UPDATED
    assert len(fake.comments[2]) == 150
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.writes()] == [("PATCH", str(ours["id"]))]


def test_post_update_human_copy_of_marker_is_not_overwritten() -> None:
    with serve() as fake:
        fake.open_pull(2)
        pasted = fake.add_comment(2, body("quoted by a person"), user=HUMAN)
        ours = fake.add_comment(2, body("fail"), user=BOT)
        post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert pasted["body"] == body("quoted by a person")
    assert "## pass" in ours["body"]


def test_post_update_removes_duplicates_from_racing_runs() -> None:
    with serve() as fake:
        fake.open_pull(2)
        keep = fake.add_comment(2, body("one"), user=BOT)
        fake.add_comment(2, body("two"), user=BOT)
        outcome = post(client(fake), REPO, 2, body("three"), CommentMode.UPDATE)
    assert outcome.deleted == 1
    assert [c["id"] for c in fake.ours(2)] == [keep["id"]]


def test_post_new_adds_a_comment_every_run() -> None:
    with serve() as fake:
        fake.open_pull(2)
        post(client(fake), REPO, 2, body("a"), CommentMode.NEW)
        post(client(fake), REPO, 2, body("a"), CommentMode.NEW)
    assert len(fake.ours(2)) == 2


def test_post_delete_and_new_moves_the_comment_to_the_bottom() -> None:
    with serve() as fake:
        fake.open_pull(2)
        old = fake.add_comment(2, body("old"), user=BOT)
        fake.add_comment(2, "a reply")
        outcome = post(client(fake), REPO, 2, body("new"), CommentMode.DELETE_AND_NEW)
    assert outcome.action is CommentAction.RECREATED and outcome.deleted == 1
    assert [c["body"] for c in fake.comments[2]] == ["a reply", body("new")]
    assert all(c["id"] != old["id"] for c in fake.comments[2])


def test_post_off_makes_no_request() -> None:
    with serve() as fake:
        fake.open_pull(2)
        assert post(client(fake), REPO, 2, body("x"), CommentMode.OFF).action is CommentAction.OFF
    assert fake.requests == []


def test_post_keyed_marker_leaves_another_gates_comment_alone() -> None:
    with serve() as fake:
        fake.open_pull(2)
        post(client(fake), REPO, 2, body("api"), CommentMode.UPDATE)
        post(client(fake), REPO, 2, body("web", marker=marker_for("web")), CommentMode.UPDATE, marker_for("web"))
        post(client(fake), REPO, 2, body("web 2", marker=marker_for("web")), CommentMode.UPDATE, marker_for("web"))
    bodies = [c["body"] for c in fake.comments[2]]
    assert len(bodies) == 2 and "## api" in bodies[0] and "## web 2" in bodies[1]


def test_post_read_only_token_raises_403() -> None:
    with serve(read_only=True) as fake:
        fake.open_pull(2)
        with pytest.raises(GitHubError) as info:
            post(client(fake), REPO, 2, body("x"), CommentMode.UPDATE)
    assert info.value.status == 403 and "not accessible" in info.value.message


def test_post_update_comment_deleted_meanwhile_is_posted_again() -> None:
    with serve() as fake:
        fake.open_pull(2)
        ours = fake.add_comment(2, body("fail"), user=BOT)

        def delete_before_edit(request: Recorded) -> None:
            if request.method == "PATCH":
                fake.remove_comment(ours["id"])

        fake.meanwhile = delete_before_edit
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.CREATED and outcome.url
    assert [c["body"] for c in fake.ours(2)] == [body("pass")]
    assert [r.method for r in fake.writes()] == ["PATCH", "POST"]


def test_post_duplicates_already_removed_by_a_racing_run_still_update() -> None:
    with serve() as fake:
        fake.open_pull(2)
        keep = fake.add_comment(2, body("one"), user=BOT)
        dup = fake.add_comment(2, body("two"), user=BOT)
        old = fake.add_comment(2, body("three"), user=BOT)

        def racing_run_deletes_first(request: Recorded) -> None:
            if request.method == "DELETE":
                fake.remove_comment(dup["id"])

        fake.meanwhile = racing_run_deletes_first
        outcome = post(client(fake), REPO, 2, body("four"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.UPDATED
    assert [c["id"] for c in fake.ours(2)] == [keep["id"]] and "## four" in keep["body"]
    assert all(c["id"] != old["id"] for c in fake.comments[2])


def test_post_delete_and_new_old_copy_already_gone_still_posts() -> None:
    with serve() as fake:
        fake.open_pull(2)
        old = fake.add_comment(2, body("old"), user=BOT)
        fake.meanwhile = lambda r: fake.remove_comment(old["id"]) if r.method == "DELETE" else None
        outcome = post(client(fake), REPO, 2, body("new"), CommentMode.DELETE_AND_NEW)
    assert outcome.action is CommentAction.RECREATED
    assert [c["body"] for c in fake.comments[2]] == [body("new")]


def test_post_update_person_pasting_the_marker_is_not_overwritten_by_the_bot() -> None:
    with serve() as fake:  # the token is github-actions[bot]'s
        fake.open_pull(2)
        pasted = fake.add_comment(2, body("pasted by a person"), user=HUMAN)
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.CREATED
    assert pasted["body"] == body("pasted by a person")
    assert [c["user"]["type"] for c in fake.ours(2)] == ["User", "Bot"]


def test_post_update_personal_access_token_keeps_its_own_comment_sticky() -> None:
    other = {"login": "someone-else", "id": 2, "type": "User"}
    with serve(user=HUMAN) as fake:  # a personal access token: comments are the person's
        fake.open_pull(2)
        fake.add_comment(2, body("pasted by someone else"), user=other)
        post(client(fake), REPO, 2, body("fail"), CommentMode.UPDATE)
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.UPDATED
    assert [(c["user"]["login"], "## pass" in c["body"]) for c in fake.ours(2)] == [
        ("someone-else", False), ("octocat", True)]


def test_post_delete_and_new_deletes_only_the_token_authors_copies() -> None:
    other_bot = {"login": "some-app[bot]", "id": 7, "type": "Bot"}
    with serve() as fake:  # the token is github-actions[bot]'s
        fake.open_pull(2)
        pasted = fake.add_comment(2, body("pasted by a person"), user=HUMAN)
        theirs = fake.add_comment(2, body("posted by another app"), user=other_bot)
        old = fake.add_comment(2, body("old"), user=BOT)
        outcome = post(client(fake), REPO, 2, body("new"), CommentMode.DELETE_AND_NEW)
    assert outcome.action is CommentAction.RECREATED and outcome.deleted == 1
    assert [c["id"] for c in fake.comments[2]][:2] == [pasted["id"], theirs["id"]]
    assert old["id"] not in [c["id"] for c in fake.comments[2]]
    assert [c["body"] for c in fake.comments[2]][-1] == body("new")
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.writes()][1:] == [("DELETE", str(old["id"]))]


def test_post_delete_and_new_with_a_persons_token_leaves_other_peoples_copies() -> None:
    other = {"login": "someone-else", "id": 2, "type": "User"}
    with serve(user=HUMAN) as fake:  # a personal access token: comments are octocat's
        fake.open_pull(2)
        theirs = fake.add_comment(2, body("pasted by someone else"), user=other)
        mine = fake.add_comment(2, body("old"), user=HUMAN)
        outcome = post(client(fake), REPO, 2, body("new"), CommentMode.DELETE_AND_NEW)
    assert outcome.deleted == 1
    ids = [c["id"] for c in fake.comments[2]]
    assert theirs["id"] in ids and mine["id"] not in ids and len(ids) == 2


OTHER_BOT = {"login": "some-app[bot]", "id": 7, "type": "Bot"}


def test_post_update_another_bots_marker_comment_left_alone_and_ours_posted() -> None:
    with serve() as fake:  # the token is github-actions[bot]'s: /user refuses it, GraphQL's viewer names it
        fake.open_pull(2)
        theirs = fake.add_comment(2, body("quoted by another app"), user=OTHER_BOT)
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.CREATED
    assert theirs["body"] == body("quoted by another app")
    assert [(c["user"]["login"], c["body"]) for c in fake.ours(2)] == [
        ("some-app[bot]", body("quoted by another app")), ("github-actions[bot]", body("pass"))]
    assert [(r.method, r.path) for r in fake.writes()] == [("POST", f"/repos/{REPO}/issues/2/comments")]
    assert [(r.method, r.path) for r in fake.requests if r.path in ("/user", "/graphql")] == [
        ("GET", "/user"), ("POST", "/graphql")]


def test_post_update_edits_our_comment_not_an_older_bots_copy() -> None:
    with serve() as fake:
        fake.open_pull(2)
        theirs = fake.add_comment(2, body("quoted by another app"), user=OTHER_BOT)
        ours = fake.add_comment(2, body("fail"), user=BOT)
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.UPDATED and outcome.deleted == 0
    assert theirs["body"] == body("quoted by another app") and ours["body"] == body("pass")
    assert [(r.method, r.path.rsplit("/", 1)[-1]) for r in fake.writes()] == [("PATCH", str(ours["id"]))]


def test_post_update_personal_access_token_leaves_the_bots_copy_and_updates_its_own() -> None:
    with serve(user=HUMAN) as fake:  # a personal access token: GET /user names the person
        fake.open_pull(2)
        bots = fake.add_comment(2, body("an earlier run with GITHUB_TOKEN"), user=BOT)
        first = post(client(fake), REPO, 2, body("fail"), CommentMode.UPDATE)
        second = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert (first.action, second.action) == (CommentAction.CREATED, CommentAction.UPDATED)
    assert bots["body"] == body("an earlier run with GITHUB_TOKEN")
    assert [(c["user"]["login"], c["body"]) for c in fake.ours(2)] == [
        ("github-actions[bot]", body("an earlier run with GITHUB_TOKEN")), ("octocat", body("pass"))]
    assert not [r for r in fake.requests if r.path == "/graphql"]  # /user answered


def test_post_update_identity_unknown_edits_nothing_and_replaces_only_its_own_copy() -> None:
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(Fault("POST", "/graphql$", 502, times=2))  # the viewer query fails, retries spent
        theirs = fake.add_comment(2, body("quoted by another app"), user=OTHER_BOT)
        old = fake.add_comment(2, body("fail"), user=BOT)
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    # Who the token is stayed unknown: the new comment named its author, whose older copy alone went.
    assert outcome.action is CommentAction.RECREATED and outcome.deleted == 1
    assert theirs["body"] == body("quoted by another app")
    assert [(c["user"]["login"], c["body"]) for c in fake.ours(2)] == [
        ("some-app[bot]", body("quoted by another app")), ("github-actions[bot]", body("pass"))]
    assert [r.method for r in fake.writes()] == ["POST", "DELETE"] and fake.writes()[1].path.endswith(str(old["id"]))
    assert "PATCH" not in [r.method for r in fake.requests]


def test_post_update_enterprise_server_asks_graphql_beside_its_rest_api() -> None:
    with serve(prefix="/api/v3") as fake:
        fake.open_pull(2)
        fake.add_comment(2, body("quoted by another app"), user=OTHER_BOT)
        ours = fake.add_comment(2, body("fail"), user=BOT)
        outcome = post(client(fake), REPO, 2, body("pass"), CommentMode.UPDATE)
    assert outcome.action is CommentAction.UPDATED and ours["body"] == body("pass")
    assert [(r.method, r.path) for r in fake.requests if "graphql" in r.path] == [("POST", "/api/graphql")]
