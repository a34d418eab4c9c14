"""Runs locust as a subprocess (it monkey-patches any process that imports it) and collects its raw samples."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gate.childenv import child_env
from gate.errors import CheckIncomplete

from .config import LoadConfig, ScenarioKind
from .stats import SampleFile, read_samples
from .target import stop, tail

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
USER_CLASSES = {ScenarioKind.CHAT: "OpenAIChatUser", ScenarioKind.HTTP: "HttpScenarioUser"}
# Start-up of locust itself (import ~0.6 s, more with --processes on a busy machine) and its stop polling.
STARTUP_MARGIN_S = 30.0
_CPU_WARNING = re.compile(r"CPU usage above|exceeded cpu threshold", re.IGNORECASE)


@dataclass(frozen=True)
class LocustRun:
    samples: SampleFile
    returncode: int
    cpu_warning: bool
    log_tail: tuple[str, ...]
    command: tuple[str, ...]


def write_locustfiles(workdir: Path, cfg: LoadConfig) -> list[Path]:
    """A copy of the built-in locustfile (recording only, next to the team's own file when it has one)."""
    text = LOCUSTFILE.read_text(encoding="utf-8")
    if cfg.scenario is ScenarioKind.LOCUSTFILE:
        assert cfg.locustfile is not None
        text = text.replace("\nBUILTIN_USERS = True\n", "\nBUILTIN_USERS = False\n", 1)
        recorder = workdir / "prodgate_recorder.py"
        recorder.write_text(text, encoding="utf-8")
        return [cfg.locustfile, recorder]
    own = workdir / "prodgate_locustfile.py"
    own.write_text(text, encoding="utf-8")
    return [own]


def command(cfg: LoadConfig, url: str, files: list[Path], workdir: Path, spec_file: Path) -> list[str]:
    argv = [
        sys.executable, "-m", "locust", "-f", ",".join(str(f) for f in files), "--headless", "--host", url,
        "--users", str(cfg.users), "--spawn-rate", f"{cfg.spawn_rate:g}",
        # In-flight requests finish after the run: dropping them would favour the fast ones.
        "--stop-timeout", f"{cfg.timeout_s + 1:g}",
        "--exit-code-on-error", "0", "--only-summary", "--loglevel", "WARNING",
        "--prodgate-spec-file", str(spec_file), "--prodgate-out", str(workdir),
    ]
    if cfg.distributed is not None:
        d = cfg.distributed
        argv += ["--master", "--expect-workers", str(d.workers), "--expect-workers-max-wait", f"{d.wait_s:g}",
                 "--master-bind-host", d.bind_host, "--master-bind-port", str(d.bind_port)]
    elif cfg.workers > 1:
        argv += ["--processes", str(cfg.workers)]
    if cfg.scenario in USER_CLASSES:
        argv.append(USER_CLASSES[cfg.scenario])
    return argv


def run_locust(cfg: LoadConfig, url: str, spec: Mapping[str, Any], workdir: Path,
               env: Mapping[str, str] | None = None, on_tick: Callable[[], None] | None = None) -> LocustRun:
    spec_file = workdir / "spec.json"
    spec_file.write_text(json.dumps(spec), encoding="utf-8")
    argv = command(cfg, url, write_locustfiles(workdir, cfg), workdir, spec_file)
    log = workdir / "locust.log"
    budget = cfg.warmup_s + cfg.duration_s + cfg.timeout_s + STARTUP_MARGIN_S
    if cfg.distributed is not None:
        budget += cfg.distributed.wait_s
    full_env = child_env({**(env or {}), "PYTHONUNBUFFERED": "1"})
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, cwd=workdir, env=full_env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + budget
    try:
        while True:
            try:
                returncode = proc.wait(timeout=1.0)
                break
            except subprocess.TimeoutExpired:
                if time.monotonic() >= deadline:
                    raise CheckIncomplete(f"locust did not finish within {budget:.0f}s; stopped it") from None
                if on_tick is not None:
                    on_tick()
    finally:
        # Also on Ctrl-C: --processes and its workers live in locust's process group.
        stop(proc, grace_s=3.0)
    lines = tail(log, 400)
    run = LocustRun(read_samples(workdir / "samples.jsonl"), returncode, any(_CPU_WARNING.search(x) for x in lines),
                    tuple(lines[-15:]), tuple(argv))
    _check_complete(run, cfg)
    return run


def _check_complete(run: LocustRun, cfg: LoadConfig) -> None:
    last = " | ".join(x.strip() for x in run.log_tail[-4:] if x.strip())
    if run.returncode != 0:
        if cfg.distributed is not None and any("Address already in use" in x for x in run.log_tail):
            d = cfg.distributed
            raise CheckIncomplete(f"the master could not listen on {d.bind_host}:{d.bind_port}: the port is in use "
                                  "(load.distributed.bind_port)")
        raise CheckIncomplete(f"locust exited with code {run.returncode}: {last}")
    if cfg.distributed is not None and not run.samples.processes:
        raise CheckIncomplete(f"no locust worker connected within {cfg.distributed.wait_s:g}s "
                              f"(load.distributed.wait): {last}")
    if not run.samples.ended:
        raise CheckIncomplete(f"locust ended without writing its samples: {last}")
