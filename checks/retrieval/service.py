"""An http target's service under test, started (`start`) or waited for (`ready`) by the load check's own target
machinery: a free `{port}`, its whole process group always stopped, exit 3 when it never becomes ready."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from gate.context import CheckContext
from gate.providers.base import Category

from ..load.target import RunningTarget, TargetFailed, print_log_tail, running_target
from .build import build_target
from .config import RetrievalConfig
from .inputs import Query
from .target import Retrieved, retrieve

EXIT_GRACE_S = 1.0


def retrieve_all(ctx: CheckContext, cfg: RetrievalConfig, queries: Sequence[Query]) -> tuple[Retrieved, list[str]]:
    """Every query through the target; with a service to start, while it runs. With it, the end of its log, read
    before the service is stopped and its log removed: the check shows it (print_log) when it fails or cannot
    complete."""
    if cfg.service is None:
        return retrieve(build_target(ctx.config, cfg), cfg, queries, ctx.progress), []
    path = str(cfg.http_spec["url"])[len(cfg.service.url):]  # the url after scheme://host:port
    with tempfile.TemporaryDirectory(prefix="prodgate-retrieval-") as tmp:
        try:
            with running_target(cfg.service, ctx.root, Path(tmp) / "service.log") as service:
                got = retrieve(build_target(ctx.config, cfg, url=service.url + path), cfg, queries, ctx.progress)
                got.service_exit = _exit_code(service, got)
                tail = service.log_tail()
        except TargetFailed as exc:
            print_log(ctx, exc.log_tail)
            raise
    return got, tail


def _exit_code(service: RunningTarget, got: Retrieved) -> int | None:
    """The service's exit code if it stopped. A process closes its sockets before it is reaped: when queries
    could not connect, it is given a moment to show that it exited rather than look alive."""
    code = service.exit_code()
    lost = any(category is Category.CONNECTION for category, _ in got.failed.values())
    if code is None and lost and service.process is not None:
        try:
            code = service.process.wait(timeout=EXIT_GRACE_S)
        except subprocess.TimeoutExpired:
            pass
    return code


def print_log(ctx: CheckContext, tail: Sequence[str]) -> None:
    """To the gate's own log, redacted; never to the report or the comment (a service may log what they must not)."""
    print_log_tail(ctx, "retrieval", tail)
