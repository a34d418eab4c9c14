"""A fake of the GitHub REST API on loopback, speaking real HTTP, for the PR comment.

Serves issue comments (paginated with Link headers, like GitHub), the pull requests of a commit,
open pull requests filtered by `head=owner:branch`, the token's user (`/user`: a person's token only; GraphQL's
`viewer`: any token), and answers like GitHub does when a token is read-only (403), a pull request is missing (404), a
body is too long (422) or a rate limit is hit. Faults can be queued per method and path. Every
request is recorded. An optional path prefix mimics GitHub Enterprise Server (`/api/v3`).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

MAX_BODY = 65_536
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}
HUMAN = {"login": "octocat", "id": 1, "type": "User"}
SECONDARY_LIMIT = ("You have exceeded a secondary rate limit. Please wait a few minutes before you try again. "
                   "If you reach out to GitHub Support for help, please include the request ID.")


@dataclass
class Fault:
    """Answer the next `times` requests whose method and path match with this status."""

    method: str
    path: str  # a regular expression searched in the path (without the query)
    status: int
    body: dict[str, Any] = field(default_factory=lambda: {"message": "injected"})
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1


def secondary_rate_limit(method: str, path: str, *, retry_after: str = "0", times: int = 1) -> Fault:
    return Fault(method, path, 403, {"message": SECONDARY_LIMIT, "documentation_url": "https://docs.github.com/rest"},
                 {"Retry-After": retry_after}, times)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class FakeGitHub:
    def __init__(self, *, prefix: str = "", token: str = "ghs_faketoken0123456789abcdefABCDEF0123",
                 repository: str = "Codertocat/Hello-World", read_only: bool = False,
                 user: dict[str, Any] | None = None) -> None:
        self.prefix = prefix.rstrip("/")
        self.token = token
        self.repository = repository
        self.read_only = read_only
        self.user = user or BOT
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.commit_pulls: dict[str, list[dict[str, Any]]] = {}
        self.pulls: list[dict[str, Any]] = []
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        # Called with each request before it is answered (under the lock): what another actor
        # does meanwhile, e.g. deleting the comment a run is about to edit.
        self.meanwhile: Callable[[Recorded], None] | None = None
        self.lock = threading.Lock()
        self._next_id = 1000
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.fake = self
        self._thread: threading.Thread | None = None

    # -- set-up ----------------------------------------------------------------------------------
    def open_pull(self, number: int) -> None:
        self.comments.setdefault(number, [])

    def add_comment(self, number: int, body: str, user: dict[str, Any] | None = None) -> dict[str, Any]:
        with self.lock:
            return self._create(number, body, user or HUMAN)

    def remove_comment(self, cid: int) -> None:
        """As if someone (a person, or a racing run) deleted it; call under the lock or between requests."""
        for comments in self.comments.values():
            comments[:] = [c for c in comments if c["id"] != cid]

    def pulls_for(self, sha: str, pulls: list[dict[str, Any]]) -> None:
        self.commit_pulls[sha] = pulls

    def add_pull(self, number: int, head_sha: str, head_repo: str, branch: str) -> dict[str, Any]:
        """An open pull request as `GET /pulls` lists it; head_repo "owner/name" (a fork's, or this one)."""
        self.open_pull(number)
        owner = head_repo.split("/")[0]
        pull = {"number": number, "state": "open",
                "head": {"sha": head_sha, "ref": branch, "label": f"{owner}:{branch}",
                         "repo": {"full_name": head_repo}},
                "base": {"ref": "main", "label": f"{self.repository.split('/')[0]}:main",
                         "repo": {"full_name": self.repository}}}
        self.pulls.append(pull)
        return pull

    # -- inspection ------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}{self.prefix}"

    @property
    def graphql_path(self) -> str:
        """Where GitHub serves GraphQL: /graphql beside the REST API, /api/graphql on GitHub Enterprise Server."""
        return (self.prefix[:-len("/v3")] if self.prefix.endswith("/api/v3") else self.prefix) + "/graphql"

    def writes(self) -> list[Recorded]:
        """The requests that change comments (a GraphQL query is a POST that changes nothing)."""
        return [r for r in self.requests if r.method in ("POST", "PATCH", "DELETE") and r.path != self.graphql_path]

    def ours(self, number: int, marker: str = "<!-- prodgate:report") -> list[dict[str, Any]]:
        return [c for c in self.comments.get(number, []) if c["body"].startswith(marker)]

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> FakeGitHub:
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- behaviour -------------------------------------------------------------------------------
    def _create(self, number: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        self._next_id += 1
        cid = self._next_id
        stamp = f"2026-01-01T00:{cid % 60:02d}:00Z"
        comment = {
            "id": cid, "node_id": f"IC_{cid}", "body": body, "user": dict(user),
            "url": f"{self.url}/repos/{self.repository}/issues/comments/{cid}",
            "html_url": f"https://github.com/{self.repository}/pull/{number}#issuecomment-{cid}",
            "issue_url": f"{self.url}/repos/{self.repository}/issues/{number}",
            "created_at": stamp, "updated_at": stamp, "author_association": "NONE",
        }
        self.comments.setdefault(number, []).append(comment)
        return comment

    def _find(self, cid: int) -> tuple[int, dict[str, Any]] | None:
        for number, comments in self.comments.items():
            for c in comments:
                if c["id"] == cid:
                    return number, c
        return None

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and re.search(fault.path, path) and fault.times > 0:
                fault.times -= 1
                return fault
        return None

    def handle(self, method: str, target: str, headers: dict[str, str], body: Any
               ) -> tuple[int, Any, dict[str, str]]:
        split = urlsplit(target)
        path, query = split.path, parse_qs(split.query)
        with self.lock:
            self.requests.append(Recorded(method, path, query, headers, body))
            if self.meanwhile is not None:
                self.meanwhile(self.requests[-1])
            fault = self._take_fault(method, path)
            if fault is not None:
                return fault.status, fault.body, fault.headers
            if self.token and headers.get("authorization") != f"Bearer {self.token}":
                return 401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"}, {}
            if path == self.prefix + "/user" and method == "GET":
                # Who the token is: a person's token says; an app's installation token (GITHUB_TOKEN) may not.
                if self.user.get("type") == "Bot":
                    return 403, {"message": "Resource not accessible by integration",
                                 "documentation_url": "https://docs.github.com/rest/users/users"}, {}
                return 200, dict(self.user), {}
            if path == self.graphql_path and method == "POST":
                # GraphQL's viewer is who the token is, for an installation token too (github-actions[bot]).
                query = body.get("query") if isinstance(body, dict) else None
                if not isinstance(query, str) or "viewer" not in query:
                    return 200, {"errors": [{"message": "the fake answers only the viewer query"}]}, {}
                return 200, {"data": {"viewer": {"login": self.user["login"]}}}, {}
            if not path.startswith(self.prefix + "/repos/" + self.repository + "/"):
                return 404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"}, {}
            rest = path[len(self.prefix + "/repos/" + self.repository):]
            return self._route(method, rest, query, body)

    def _route(self, method: str, rest: str, query: dict[str, list[str]], body: Any
               ) -> tuple[int, Any, dict[str, str]]:
        not_found: tuple[int, Any, dict[str, str]] = (404, {"message": "Not Found"}, {})
        forbidden = (403, {"message": "Resource not accessible by integration",
                           "documentation_url": "https://docs.github.com/rest/issues/comments", "status": "403"}, {})
        if m := re.fullmatch(r"/issues/(\d+)/comments", rest):
            number = int(m.group(1))
            if number not in self.comments:
                return not_found
            if method == "GET":
                return self._page(rest, self.comments[number], query)
            if method == "POST":
                if self.read_only:
                    return forbidden
                return self._write_checked(body, lambda text: (201, self._create(number, text, self.user), {}))
        if m := re.fullmatch(r"/issues/comments/(\d+)", rest):
            found = self._find(int(m.group(1)))
            if found is None:
                return not_found
            number, comment = found
            if method == "GET":
                return 200, comment, {}
            if self.read_only:
                return forbidden
            if method == "PATCH":
                def update(text: str) -> tuple[int, Any, dict[str, str]]:
                    comment["body"] = text
                    comment["updated_at"] = "2026-01-02T00:00:00Z"
                    return 200, comment, {}
                return self._write_checked(body, update)
            if method == "DELETE":
                self.comments[number].remove(comment)
                return 204, None, {}
        if rest == "/pulls" and method == "GET":
            head = query.get("head", [""])[0]
            listed = [p for p in self.pulls if p["state"] == query.get("state", ["open"])[0]
                      and (not head or p["head"]["label"] == head)]
            return self._page(rest, listed, query)
        if (m := re.fullmatch(r"/commits/([0-9a-f]{7,40})/pulls", rest)) and method == "GET":
            return 200, self.commit_pulls.get(m.group(1), []), {}
        return not_found

    @staticmethod
    def _write_checked(body: Any, write: Any) -> tuple[int, Any, dict[str, str]]:
        text = body.get("body") if isinstance(body, dict) else None
        if not isinstance(text, str):
            return 422, {"message": "Invalid request.\n\n\"body\" wasn't supplied."}, {}
        if len(text) > MAX_BODY:
            return 422, {"message": "Validation Failed", "errors": [
                {"resource": "IssueComment", "code": "custom", "field": "body",
                 "message": f"body is too long (maximum is {MAX_BODY} characters)"}]}, {}
        result: tuple[int, Any, dict[str, str]] = write(text)
        return result

    def _page(self, rest: str, items: list[dict[str, Any]], query: dict[str, list[str]]
              ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", ["30"])[0]), 100)
        page = max(int(query.get("page", ["1"])[0]), 1)
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page: page * per_page]
        base = f"{self.url}/repos/{self.repository}{rest}"

        def ref(n: int, rel: str) -> str:
            return f'<{base}?{urlencode({"per_page": per_page, "page": n})}>; rel="{rel}"'

        links = []
        if page < last:
            links += [ref(page + 1, "next"), ref(last, "last")]
        if page > 1:
            links += [ref(1, "first"), ref(page - 1, "prev")]
        return 200, chunk, {"Link": ", ".join(links)} if links else {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    fake: FakeGitHub


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            self._send(400, {"message": "Problems parsing JSON"}, {})
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, payload, extra = self.server.fake.handle(self.command, self.path, headers, body)
        self._send(status, payload, extra)

    def _send(self, status: int, payload: Any, headers: dict[str, str]) -> None:
        data = b"" if payload is None else json.dumps(payload).encode()
        self.send_response(status)
        if payload is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        defaults = {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "4999",
                    "X-GitHub-Api-Version-Selected": "2022-11-28"}
        for k, v in {**defaults, **headers}.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PATCH = do_DELETE = _serve


@contextmanager
def serve(**kwargs: Any) -> Iterator[FakeGitHub]:
    fake = FakeGitHub(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
