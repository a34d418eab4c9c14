"""`gate comment` as a real process against the fake GitHub, with real event payloads and runner files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from gate.report import CheckResult, Finding, Report, Severity, Status
from tests.conftest import Result, gate_subprocess
from tests.e2e.test_action_runner import parse_outputs
from tests.servers.github_fake import FakeGitHub, Fault, secondary_rate_limit, serve
from tests.unit.test_markdown_render import INJECTION, report, to_html

EVENTS = Path(__file__).resolve().parent.parent / "fixtures" / "github-events"
HEAD = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
REPO = "Codertocat/Hello-World"


def failing() -> Report:
    return report(
        CheckResult("schema", Status.FAIL, "1 error(s)", findings=(
            Finding(Severity.ERROR, "unknown key 'temprature'", "prompts/answer.prompt.yml", 7, 3),)),
        CheckResult("regression", Status.FAIL, "2 cases flipped", findings=(
            Finding(Severity.ERROR, INJECTION, case_id="c1", category="quality.assertion"),)),
        CheckResult("cost", Status.PASS, "$181/mo", metrics={"monthly_usd": 181.234}),
    )


def passing() -> Report:
    return report(CheckResult("schema", Status.PASS, "2 prompt(s) valid"),
                  CheckResult("cost", Status.PASS, "$150/mo", metrics={"monthly_usd": 150.0}))


class Run:
    """One step of a workflow run: event payload, runner files, and `gate comment` as a process."""

    def __init__(self, tmp_path: Path, fake: FakeGitHub | None, event: str = "pull_request.opened",
                 event_name: str = "pull_request") -> None:
        self.dir = tmp_path
        self.payload: dict[str, Any] = json.loads((EVENTS / f"{event}.json").read_text())
        self.event_name = event_name
        self.fake = fake
        self.summary = tmp_path / "summary.md"
        self.output = tmp_path / "output.txt"
        self.report_path = tmp_path / "gate-report.json"

    def __call__(self, rep: Report | None, *args: str, token: bool = True, **env: str) -> Result:
        if rep is not None:
            self.report_path.write_text(rep.to_json())
        event_path = self.dir / "event.json"
        event_path.write_text(json.dumps(self.payload))
        self.output.write_text("")
        full = {"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": self.event_name, "GITHUB_EVENT_PATH": str(event_path),
                "GITHUB_REPOSITORY": REPO, "GITHUB_RUN_ID": "4242", "GITHUB_SHA": HEAD,
                "GITHUB_STEP_SUMMARY": str(self.summary), "GITHUB_OUTPUT": str(self.output),
                "PRODGATE_GITHUB_RETRY_BASE_S": "0.01", **env}
        if self.fake is not None:
            full["GITHUB_API_URL"] = self.fake.url
            if token:
                full["GITHUB_TOKEN"] = self.fake.token
        return gate_subprocess("comment", "--report", self.report_path, "--config", self.dir / "gate.yaml", *args,
                               cwd=self.dir, env=full, timeout=60)

    def outputs(self) -> dict[str, str]:
        return parse_outputs(self.output.read_text())


def test_comment_two_pushes_create_then_update_one_comment(tmp_path: Path) -> None:
    with serve(prefix="/api/v3") as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        first = run(failing())
        out1 = run.outputs()
        run.payload = json.loads((EVENTS / "pull_request.synchronize.json").read_text())
        second = run(passing())
        out2 = run.outputs()
    assert first.exit_code == 0 and second.exit_code == 0, first.stderr + second.stderr
    assert [r.method for r in fake.writes()] == ["POST", "PATCH"]
    assert len(fake.comments[2]) == 1
    posted = fake.comments[2][0]["body"]
    assert posted.startswith("<!-- prodgate:report -->\n## ✅ prodgate: **pass**")
    assert out1["verdict"] == "fail" and out2["verdict"] == "pass"
    assert out1["monthly-cost"] == "181.23" and out2["monthly-cost"] == "150.00"
    assert out1["comment-url"] == out2["comment-url"] == fake.comments[2][0]["html_url"]
    assert out2["report-path"] == str(run.report_path.resolve())
    # Annotations for the finding with a file; the job summary got both reports.
    assert ("::error file=prompts/answer.prompt.yml,line=7,col=3,title=prodgate schema::unknown key 'temprature'"
            in first.stdout)
    summary = run.summary.read_text()
    assert summary.count("## ❌ prodgate: **fail**") == 1 and summary.count("## ✅ prodgate: **pass**") == 1
    assert "prodgate: comment created" in first.stdout and "prodgate: comment updated" in second.stdout



def test_comment_another_apps_copy_of_the_marker_is_left_alone_ours_updated(tmp_path: Path) -> None:
    other_app = {"login": "some-app[bot]", "id": 7, "type": "Bot"}
    with serve() as fake:  # GITHUB_TOKEN: github-actions[bot], told by GraphQL's viewer
        fake.open_pull(2)
        theirs = fake.add_comment(2, "<!-- prodgate:report -->\nquoted by another app", user=other_app)
        run = Run(tmp_path, fake)
        first, second = run(failing()), run(passing())
    assert (first.exit_code, second.exit_code) == (0, 0), first.stderr + second.stderr
    assert "prodgate: comment created" in first.stdout and "prodgate: comment updated" in second.stdout
    assert theirs["body"] == "<!-- prodgate:report -->\nquoted by another app"
    assert [c["user"]["login"] for c in fake.ours(2)] == ["some-app[bot]", "github-actions[bot]"]
    assert "**pass**" in fake.ours(2)[1]["body"]
    assert [r.method for r in fake.writes()] == ["POST", "PATCH"]
    assert all(not r.path.endswith(f"/{theirs['id']}") for r in fake.writes())

def test_comment_same_report_again_sends_no_write(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        run(failing())
        again = run(failing(), GITHUB_RUN_ID="4243")
    assert again.exit_code == 0 and "prodgate: comment unchanged" in again.stdout
    assert [r.method for r in fake.writes()] == ["POST"]


def test_comment_pull_request_with_150_comments_updates_ours(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        run(failing())
        for i in range(149):
            fake.add_comment(2, f"discussion {i}")
        fake.requests.clear()
        res = run(passing())
    assert res.exit_code == 0
    assert len(fake.comments[2]) == 150 and len(fake.ours(2)) == 1
    assert [r.method for r in fake.writes()] == ["PATCH"]
    pages = [r.query.get("page", ["1"])[0] for r in fake.requests if r.method == "GET" and r.path.endswith("/comments")]
    assert pages == ["1", "2"]


def test_comment_fork_read_only_token_degrades_to_summary_exit_0(tmp_path: Path) -> None:
    with serve(read_only=True) as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        run.payload["pull_request"]["head"]["repo"]["full_name"] = "forker/Hello-World"
        res = run(failing())
    assert res.exit_code == 0
    assert "::warning title=prodgate::no pull request comment: GitHub refused" in res.stdout
    assert "a pull request from a fork gets a read-only token" in res.stdout
    summary = run.summary.read_text()
    assert "## ❌ prodgate: **fail**" in summary and "prodgate posted no pull request comment" in summary
    outputs = run.outputs()
    assert outputs["verdict"] == "fail" and outputs["comment-url"] == ""
    assert fake.comments[2] == []


def test_comment_without_token_warns_and_writes_summary(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        res = run(failing(), token=False)
    assert res.exit_code == 0 and "no token" in res.stdout
    assert fake.requests == [] and "prodgate: **fail**" in run.summary.read_text()


@pytest.mark.parametrize(("fault", "says"), [
    (Fault("GET", r"/comments$", 404, {"message": "Not Found"}), "404"),
    (Fault("POST", r"/comments$", 422, {"message": "Validation Failed"}), "HTTP 422"),
    (Fault("POST", r"/comments$", 500, {"message": "Server Error"}, times=10), "HTTP 500"),
    (secondary_rate_limit("GET", r"/comments$", times=10), "rate limit held after retries"),
])
def test_comment_api_failure_is_a_warning_never_a_verdict(tmp_path: Path, fault: Fault, says: str) -> None:
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(fault)
        run = Run(tmp_path, fake)
        res = run(passing())
    assert res.exit_code == 0, res.stderr
    assert "::warning title=prodgate::no pull request comment" in res.stdout and says in res.stdout
    assert run.outputs()["verdict"] == "pass"
    assert "## ✅ prodgate: **pass**" in run.summary.read_text()


def test_comment_rate_limited_once_then_posts(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        fake.faults.append(secondary_rate_limit("POST", r"/comments$", retry_after="1"))
        run = Run(tmp_path, fake)
        res = run(passing())
    assert res.exit_code == 0 and "comment created" in res.stdout
    assert [r.method for r in fake.writes()] == ["POST", "POST"] and len(fake.ours(2)) == 1


def test_comment_push_event_comments_on_the_pull_request_of_the_commit(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(7)
        fake.pulls_for(HEAD, [{"number": 7, "state": "open", "head": {"sha": HEAD}}])
        run = Run(tmp_path, fake, event="push", event_name="push")
        res = run(passing())
    assert res.exit_code == 0 and len(fake.ours(7)) == 1
    assert f"/repos/{REPO}/commits/{HEAD}/pulls" in [r.path for r in fake.requests]


def test_comment_push_without_pull_request_only_writes_summary(tmp_path: Path) -> None:
    with serve() as fake:
        run = Run(tmp_path, fake, event="push", event_name="push")
        res = run(passing())
    assert res.exit_code == 0 and "no open pull request contains" in res.stdout
    assert fake.writes() == [] and "prodgate: **pass**" in run.summary.read_text()


def test_comment_mode_off_in_gate_yaml_posts_nothing(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\ncomment:\n  mode: 'off'\n  annotations: false\n")
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        res = run(failing())
    assert res.exit_code == 0 and fake.requests == []
    assert "::error" not in res.stdout and "prodgate: **fail**" in run.summary.read_text()


def test_comment_mode_option_overrides_gate_yaml(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\ncomment: {mode: update}\n")
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        run(passing(), "--mode", "new")
        run(passing(), "--mode", "new")
    assert len(fake.ours(2)) == 2


def test_comment_invalid_comment_section_warns_and_uses_defaults(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text("version: 1\ncomment:\n  mdoe: new\n")
    with serve() as fake:
        fake.open_pull(2)
        res = Run(tmp_path, fake)(passing())
    assert res.exit_code == 0
    assert "gate.yaml:3:3: $.comment.mdoe: unknown key 'mdoe' (did you mean 'mode'?)" in res.stderr
    assert len(fake.ours(2)) == 1


def test_comment_secret_values_never_reach_github(tmp_path: Path) -> None:
    leaked = "ghs_faketoken0123456789abcdefABCDEF0123"
    rep = report(CheckResult("regression", Status.FAIL, f"model said {leaked} and sk-live-value-1234567890",
                             findings=(Finding(Severity.ERROR, f"echo {leaked}", "a.yml", 1),)))
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        res = run(rep, MY_API_KEY="sk-live-value-1234567890")
    body = fake.comments[2][0]["body"]
    for text in (body, run.summary.read_text(), res.stdout, res.stderr):
        assert leaked not in text and "sk-live-value-1234567890" not in text
    assert "[redacted]" in body


def test_comment_oversized_report_is_shortened_and_accepted(tmp_path: Path) -> None:
    long = "x" * 480
    checks = [CheckResult(f"plugin{i}", Status.FAIL, "many findings", findings=tuple(
        Finding(Severity.ERROR, f"{long} {j}", f"f{i}.yml", j + 1) for j in range(60))) for i in range(12)]
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        res = run(report(*checks))
    assert res.exit_code == 0 and "comment created" in res.stdout
    body = fake.comments[2][0]["body"]
    assert len(body) <= 65_000 and "Shortened to fit GitHub's size limit" in body
    assert "plugin11" in run.summary.read_text()


def test_comment_missing_report_is_exit_2_with_one_line(tmp_path: Path) -> None:
    res = Run(tmp_path, None)(None)
    assert res.exit_code == 2
    assert res.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'gate-report.json'}: file not found (run `gate check --report-json "
        f"{tmp_path / 'gate-report.json'}` first, or pass --check-exit-code)"]


def test_comment_invalid_report_json_is_exit_2_with_line(tmp_path: Path) -> None:
    run = Run(tmp_path, None)
    run.report_path.write_text('{"tool": \n  oops}')
    res = run(None)
    assert res.exit_code == 2 and "gate-report.json:2:3: not valid JSON" in res.stderr


def test_comment_no_report_after_config_error_says_the_gate_did_not_run(tmp_path: Path) -> None:
    log = tmp_path / "check.log"
    log.write_text("error: gate.yaml:7:3: $.schema.strickt: unknown key 'strickt' @octocat\n")
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        res = run(None, "--check-exit-code", "2", "--check-log", str(log))
    assert res.exit_code == 0
    body = fake.comments[2][0]["body"]
    assert "## 🛑 prodgate: **error**" in body and "exited with 2" in body
    assert "unknown key 'strickt' @\u200doctocat" in body
    assert run.outputs()["verdict"] == "error"


def test_comment_print_shows_markdown_and_posts_nothing(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        res = Run(tmp_path, fake)(failing(), "--print")
    assert res.exit_code == 0 and res.stdout.startswith("<!-- prodgate:report -->\n## ❌ prodgate: **fail**")
    assert f"/blob/{HEAD}/prompts/answer.prompt.yml#L7" in res.stdout
    assert fake.requests == []


def test_comment_posted_injection_renders_inert_through_registered_checks(tmp_path: Path) -> None:
    # The registered regression check renders its own section from a result it did not make:
    # whatever it does with it, the posted comment stays balanced and inert.
    with serve() as fake:
        fake.open_pull(2)
        res = Run(tmp_path, fake)(failing())
    assert res.exit_code == 0
    body = fake.comments[2][0]["body"]
    html = to_html(body)
    assert "<img" not in html and "<script" not in html and 'href="javascript' not in html
    assert html.count("<details") == html.count("</details>")
    assert "@octocat" not in body and "@github/security" not in body


def test_comment_print_scrubs_secret_values_too(tmp_path: Path) -> None:
    rep = report(CheckResult("regression", Status.FAIL, "model said sk-live-value-1234567890 and s3cr3t-db-pass",
                             findings=(Finding(Severity.ERROR, "echo s3cr3t-db-pass", "a.yml", 1),)))
    res = Run(tmp_path, None)(rep, "--print", MY_API_KEY="sk-live-value-1234567890", DB_PASSWORD="s3cr3t-db-pass")
    assert res.exit_code == 0 and "## ❌ prodgate: **fail**" in res.stdout
    assert "sk-live-value" not in res.stdout and "s3cr3t-db-pass" not in res.stdout
    assert "[redacted]" in res.stdout


def test_comment_lone_surrogates_in_the_report_are_replaced_not_fatal(tmp_path: Path) -> None:
    # Valid JSON (`"\ud800"`), e.g. a model's answer quoted by a check: it cannot be written as UTF-8.
    rep = report(CheckResult("regression", Status.FAIL, "bad \ud800 output", findings=(
        Finding(Severity.ERROR, "answer \udc80\x1b[2J ends", "a.yml", 1, case_id="c\ud800"),)))
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        run.report_path.write_text(json.dumps(rep.to_dict()))
        res = run(None)
    assert res.exit_code == 0, res.stderr
    assert "comment created" in res.stdout
    # The report is scrubbed first, which turns each lone surrogate into U+FFFD; no ESC survives.
    assert "::error file=a.yml,line=1,title=prodgate regression::answer \ufffd[2J ends" in res.stdout
    assert "bad \ufffd output" in run.summary.read_text() and "bad \ufffd output" in fake.comments[2][0]["body"]


def test_comment_credential_shaped_text_is_scrubbed_before_markdown_escaping(tmp_path: Path) -> None:
    # A key in a model's answer: once escaped for markdown (`sk\-proj\-…`) no pattern would find it.
    key = "sk-proj-" + "A1b2C3d4" * 4
    rep = report(CheckResult("regression", Status.FAIL, f"model said {key}",
                             findings=(Finding(Severity.ERROR, f"answer: {key}", "a.yml", 1),),
                             details={"headline": {"value": key, "change": key}}))
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        res = run(rep)
        printed = run(rep, "--print")
    body = fake.comments[2][0]["body"]
    for text in (body, run.summary.read_text(), res.stdout, printed.stdout):
        assert "A1b2C3d4" not in text, text
    assert "[redacted]" in body and "[redacted]" in printed.stdout


FORK_HEAD = "0123456789abcdef0123456789abcdef01234567"


def hostile() -> Report:
    """A report as a pull request could forge it: valid against the schema, injection in every field."""
    return report(CheckResult(f"regression {INJECTION}", Status.FAIL, INJECTION,
                              metrics={INJECTION: 1, "rate": INJECTION},
                              findings=(Finding(Severity.ERROR, INJECTION, f"a.yml {INJECTION}", 3, 1,
                                                case_id=INJECTION),),
                              details={"headline": {"value": INJECTION, "change": INJECTION},
                                       "flipped": INJECTION, "cases": {"x": INJECTION}}),
                  CheckResult("cost", Status.PASS, "ok", details={"headline": [INJECTION]}))


def test_comment_workflow_run_posts_to_the_listed_pull_request_with_links_into_the_run_head(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake, event="workflow_run.completed", event_name="workflow_run")
        res = run(failing())
    assert res.exit_code == 0, res.stderr
    body = fake.ours(2)[0]["body"]
    assert body.startswith("<!-- prodgate:report -->\n## ❌ prodgate: **fail**")
    # The report names head ffff…; links follow the event's head_sha, never the report's word.
    assert f"/blob/{HEAD}/prompts/answer.prompt.yml#L7" in body and "/blob/ffff" not in body
    assert "::error file=" not in res.stdout  # findings would annotate the base branch's commit


def test_comment_workflow_run_of_a_fork_finds_the_pull_request_by_branch_and_head(tmp_path: Path) -> None:
    with serve() as fake:
        fake.add_pull(5, "f" * 40, "forker/Hello-World", "changes")  # another fork's branch of the same name
        fake.add_pull(9, FORK_HEAD, "forker2/Hello-World", "changes")
        run = Run(tmp_path, fake, event="workflow_run.completed", event_name="workflow_run")
        run.payload["workflow_run"].update(pull_requests=[], head_sha=FORK_HEAD, head_repository={
            "full_name": "forker2/Hello-World", "owner": {"login": "forker2"}})
        res = run(passing())
    assert res.exit_code == 0, res.stderr
    assert len(fake.ours(9)) == 1 and fake.ours(5) == []
    lookups = [r for r in fake.requests if r.path.endswith("/pulls")]
    assert lookups[0].query["head"] == ["forker2:changes"]


def test_comment_workflow_run_whose_branch_moved_on_posts_nowhere(tmp_path: Path) -> None:
    with serve() as fake:
        fake.add_pull(9, "a" * 40, "forker2/Hello-World", "changes")  # pushed to since the run
        run = Run(tmp_path, fake, event="workflow_run.completed", event_name="workflow_run")
        run.payload["workflow_run"].update(pull_requests=[], head_sha=FORK_HEAD, conclusion="success",
                                           head_repository={"full_name": "forker2/Hello-World",
                                                            "owner": {"login": "forker2"}})
        res = run(passing())
    assert res.exit_code == 0 and fake.writes() == []
    assert "no open pull request has the workflow run's commit as its head" in res.stdout
    assert "prodgate: **pass**" in run.summary.read_text()


def test_comment_workflow_run_report_renders_inert_in_every_field(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake, event="workflow_run.completed", event_name="workflow_run")
        res = run(hostile())
    assert res.exit_code == 0, res.stderr
    body = fake.ours(2)[0]["body"]
    for text in (body, run.summary.read_text()):
        html = to_html(text)
        assert "<img" not in html and "<script" not in html and 'href="javascript' not in html
        assert html.count("<details") == html.count("</details>")
        assert "@octocat" not in text and "\x1b" not in text and "\u202e" not in text


@pytest.mark.parametrize(("mutate", "says"), [
    (lambda d: d["checks"][0].update(extra="x"), "$.checks[0].extra: unknown key 'extra'"),
    (lambda d: d["checks"][0].update(status="passed"), "$.checks[0].status:"),
    (lambda d: d["checks"][0]["findings"].append({"severity": "error", "message": 1}),
     "$.checks[0].findings[1].message:"),
    (lambda d: d.update(schema_version=99), "$.schema_version:"),
])
@pytest.mark.forged_report
def test_comment_workflow_run_report_off_the_schema_is_exit_2_and_posts_nothing(
        tmp_path: Path, mutate: Any, says: str) -> None:
    data = failing().to_dict()
    mutate(data)
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake, event="workflow_run.completed", event_name="workflow_run")
        run.report_path.write_text(json.dumps(data))
        res = run(None)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {run.report_path}: {says}"), res.stderr
    assert "must match report.schema.json" in res.stderr and len(res.stderr.splitlines()) == 1
    assert fake.requests == []


def test_comment_values_gate_yaml_names_never_reach_github(tmp_path: Path) -> None:
    # Neither name looks secret: only gate.yaml says these variables hold secrets (redact_env, an *_env field).
    plain_a, plain_b = "value-of-a-plain-named-var-123", "another-value-only-gate-yaml-names-456"
    (tmp_path / "gate.yaml").write_text("version: 1\nredact_env: [DEPLOY_NOTE]\n"
                                        "regression:\n  target: {http: {url: 'http://127.0.0.1:9/x', headers_env: "
                                        "{X-Org: ORG_HEADER}}}\n")
    rep = report(CheckResult("regression", Status.FAIL, f"said {plain_a}",
                             findings=(Finding(Severity.ERROR, f"echo {plain_b}", "a.yml", 1),)))
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake)
        res = run(rep, DEPLOY_NOTE=plain_a, ORG_HEADER=plain_b)
        printed = run(rep, "--print", DEPLOY_NOTE=plain_a, ORG_HEADER=plain_b)
    body = fake.comments[2][0]["body"]
    assert res.exit_code == 0 and printed.exit_code == 0
    for text in (body, run.summary.read_text(), res.stdout, res.stderr, printed.stdout):
        assert plain_a not in text and plain_b not in text
    assert "[redacted]" in body


def test_comment_workflow_run_passing_report_from_a_failed_run_is_not_shown(tmp_path: Path) -> None:
    # Whoever writes the artifact can write a passing report; the run's conclusion ("failure") they cannot.
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake, event="workflow_run.completed", event_name="workflow_run")
        assert run.payload["workflow_run"]["conclusion"] == "failure"
        res = run(passing())
    assert res.exit_code == 0, res.stderr
    body = fake.ours(2)[0]["body"]
    assert "✅" not in body and "**pass**" not in body
    assert "concluded 'failure', but the report it left says 'pass'" in body and "wrote no report" not in body
    assert run.outputs()["verdict"] == "error"


def test_comment_workflow_run_passing_report_from_a_successful_run_is_shown(tmp_path: Path) -> None:
    with serve() as fake:
        fake.open_pull(2)
        run = Run(tmp_path, fake, event="workflow_run.completed", event_name="workflow_run")
        run.payload["workflow_run"]["conclusion"] = "success"
        res = run(passing())
    assert res.exit_code == 0, res.stderr
    assert fake.ours(2)[0]["body"].startswith("<!-- prodgate:report -->\n## ✅ prodgate: **pass**")


@pytest.mark.parametrize(("base_mode", "posted"), [(None, True), ("new", True), ("off", False)])
def test_comment_a_pull_request_cannot_turn_off_its_own_comment(tmp_path: Path, base_mode: str | None,
                                                                 posted: bool) -> None:
    """`comment.mode: off` in the change's gate.yaml holds only when the base branch says off too: a failing
    change must not hide its report from its reviewers by editing gate.yaml."""
    from tests.conftest import GitRepo

    repo = GitRepo(tmp_path)
    repo.git("init", "-q", "-b", "main")
    repo.git("config", "user.email", "t@example.com")
    repo.git("config", "user.name", "t")
    base = "version: 1\n" + (f"comment: {{mode: {base_mode}}}\n" if base_mode else "")
    repo.write("gate.yaml", base)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "change")
    repo.write("gate.yaml", "version: 1\ncomment: {mode: off}\n")
    repo.commit("turn the comment off")
    with serve(prefix="/api/v3") as fake:
        fake.open_pull(2)
        res = Run(tmp_path, fake)(failing())
    assert res.exit_code == 0, res.stderr
    assert bool(fake.ours(2)) is posted
    if posted:
        assert "comment.mode is off in this change but" in res.stderr
        assert ("## ❌ prodgate: **fail**" in fake.ours(2)[0]["body"])
    else:
        assert fake.writes() == [] and "comment.mode is off" not in res.stderr
