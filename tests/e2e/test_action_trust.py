"""Whose code the action runs, and which runs may write the shared cache."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import GitRepo
from tests.e2e.test_action_run import Workflow
from tests.e2e.test_action_runner import load_action, parse_outputs
from tests.servers.github_fake import serve

PRIVILEGED = ("pull_request_target", "issue_comment", "workflow_run", "workflow_dispatch", "check_run", "push")


def trust_step(repo: Path, tmp_path: Path, event: str, sha: str, *, allow: str = "false", ref: str = "",
               head_repository: str = "", working_directory: str = ".") -> tuple[subprocess.CompletedProcess[str],
                                                                                  dict[str, str]]:
    """The `trust` step's script as the runner runs it, with the variables the runner sets."""
    script = next(s for s in load_action()["runs"]["steps"] if s.get("id") == "trust")["run"]
    output = tmp_path / "trust-output"
    output.write_text("")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GITHUB_OUTPUT": str(output), "GITHUB_EVENT_NAME": event,
           "GITHUB_SHA": sha, "GITHUB_REF": ref, "GITHUB_REPOSITORY": "Codertocat/Hello-World",
           "ALLOW_UNTRUSTED": allow, "WORKING_DIRECTORY": working_directory, "DEFAULT_BRANCH": "main",
           "HEAD_REPOSITORY": head_repository}
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env, cwd=repo,
                          capture_output=True, text=True, check=False)
    return proc, parse_outputs(output.read_text())


@pytest.fixture
def pr_checkout(repo: GitRepo) -> tuple[GitRepo, str]:
    """A checkout of a pull request's head, and the base branch's commit."""
    repo.write("README.md", "base\n")
    base = repo.commit("base")
    repo.git("checkout", "-q", "-b", "changes")
    repo.write("README.md", "changed by the pull request\n")
    repo.commit("pr")
    return repo, base


@pytest.mark.parametrize("event", PRIVILEGED)
def test_action_trust_privileged_event_with_pr_code_is_refused(pr_checkout: tuple[GitRepo, str], tmp_path: Path,
                                                               event: str) -> None:
    repo, base = pr_checkout
    proc, outputs = trust_step(repo.path, tmp_path, event, base)
    assert proc.returncode == 2
    assert proc.stdout.startswith(f"::error title=prodgate::refusing to run: a {event} run has secrets")
    assert "allow-untrusted-code: true" in proc.stdout
    assert outputs == {}


@pytest.mark.parametrize("event", PRIVILEGED)
def test_action_trust_privileged_event_on_the_base_commit_runs_without_saving_the_cache(
        pr_checkout: tuple[GitRepo, str], tmp_path: Path, event: str) -> None:
    repo, base = pr_checkout
    repo.git("checkout", "-q", base)
    proc, outputs = trust_step(repo.path, tmp_path, event, base)
    assert proc.returncode == 0, proc.stdout
    assert "::" not in proc.stdout
    assert outputs == {"save-cache": "false"}


def test_action_trust_allow_untrusted_code_runs_with_a_warning_and_never_saves(
        pr_checkout: tuple[GitRepo, str], tmp_path: Path) -> None:
    repo, base = pr_checkout
    proc, outputs = trust_step(repo.path, tmp_path, "pull_request_target", base, allow="true")
    assert proc.returncode == 0
    assert proc.stdout.startswith("::warning title=prodgate::running code other than the event's commit")
    assert outputs == {"save-cache": "false"}


def test_action_trust_privileged_event_outside_a_git_checkout_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    proc, _ = trust_step(folder, tmp_path, "workflow_run", "a" * 40)
    assert proc.returncode == 2 and "checkout (unknown)" in proc.stdout


@pytest.mark.parametrize(("event", "ref", "head_repository", "save"), [
    ("push", "refs/heads/main", "", "true"),
    ("push", "refs/heads/feature", "", "false"),
    ("push", "refs/tags/v1", "", "false"),
    ("pull_request", "refs/pull/2/merge", "Codertocat/Hello-World", "true"),
    ("pull_request", "refs/pull/2/merge", "forker/Hello-World", "false"),
    ("pull_request", "refs/pull/2/merge", "", "false"),
    ("schedule", "refs/heads/main", "", "false"),
])
def test_action_trust_cache_is_saved_only_by_trusted_events(pr_checkout: tuple[GitRepo, str], tmp_path: Path,
                                                            event: str, ref: str, head_repository: str,
                                                            save: str) -> None:
    repo, _ = pr_checkout
    head = repo.git("rev-parse", "HEAD")
    proc, outputs = trust_step(repo.path, tmp_path, event, head, ref=ref, head_repository=head_repository)
    assert proc.returncode == 0 and proc.stdout == ""
    assert outputs == {"save-cache": save}


def test_action_pull_request_target_on_pr_code_runs_nothing_and_fails(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("gate.yaml", "version: 1\n")
    base = repo.commit("base")
    repo.git("checkout", "-q", "-b", "changes")
    repo.commit("pr")
    with serve() as fake:
        fake.open_pull(2)
        run = Workflow(repo, tmp_path, fake).run(event_name="pull_request_target", sha=base)
    assert run.failed and run.step("trust").exit_code == 2
    assert not run.step("install").ran and not run.step("check").ran and not run.step("comment").ran
    assert not run.step("Save the response cache").ran
    assert "the gate did not run" in run.step("Apply fail-on").stdout
    assert run.outputs["verdict"] == "error" and fake.requests == []


def test_action_fork_pull_request_restores_but_never_saves_the_cache(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("gate.yaml", "version: 1\n")
    repo.commit("base")
    with serve() as fake:
        fake.open_pull(2)
        flow = Workflow(repo, tmp_path, fake)
        fork = flow.run(fork=True, comment="off")
        own = flow.run(comment="off")
    assert fork.step("restore").ran and not fork.step("Save the response cache").ran
    assert own.step("Save the response cache").ran
    # Only entries of the same config and prompts: the key itself, or it with another run's id.
    key = fork.step("cache-key").outputs["key"]
    assert fork.step("restore").with_["restore-keys"].split() == [f"{key}-"]
    assert not fork.failed and fork.outputs["verdict"] == "skip"
