"""The resilience check on bad input and on services that quit or never answer: exit codes, lines, bounded time."""

from __future__ import annotations

import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
from prodgate_checks.resilience.traffic import Traffic, run

from tests.conftest import EXAMPLE, alive, gate, gate_subprocess

SCENARIO = "      faults: [{type: rate_limit, model: primary, share: 50%, retry_after: 1s}]\n"
FALLBACK = "        fallback: backup\n        max_upstream_calls_per_request: 3\n"
EXPECT = '        success_rate: ">= 95%"\n' + FALLBACK + '        latency: "p(95) < 3s"\n'
TIMEOUT = "  timeout: 10s\n"


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "support-bot"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".gate", "__pycache__"))
    return copy


@pytest.mark.parametrize(("old", "new", "message"), [
    (SCENARIO, SCENARIO.replace("50%", "150%"), "share must be above 0% and at most 100%, not '150%'"),
    (SCENARIO, SCENARIO.replace("50%", "0%"), "share must be above 0% and at most 100%, not '0%'"),
    (SCENARIO, SCENARIO.replace("retry_after: 1s", "retry_after: -1s"),
     "faults[0].retry_after: must be a duration such as 500ms or 2s, not '-1s'"),
    (SCENARIO, SCENARIO.replace("rate_limit", "slow").replace("retry_after: 1s", "ttfb: -1s"),
     "faults[0].ttfb: must be a duration such as 500ms or 2s, not '-1s'"),
    (SCENARIO, SCENARIO.replace("share: 50%", "share: 1.5"),
     "faults[0].share: must be a share above 0 and at most 100%, such as 25% (or a fraction such as 0.25), not 1.5"),
    (TIMEOUT, "  max_duration: -1m\n", "resilience.max_duration: must be a duration such as 500ms or 2s, not '-1m'"),
    (EXPECT, EXPECT.replace('">= 95%"', '">= 95 percent"'),
     "success_rate must compare the share of requests answered with one from 0% to 100%, such as '>= 95%', "
     "not '>= 95 percent'"),
    (EXPECT, EXPECT.replace('">= 95%"', '">= 150%"'), "not '>= 150%'"),
    (EXPECT, EXPECT.replace('latency: "p(95) < 3s"', "time_to_error: -3s"),
     "time_to_error must be a duration such as 5s, or a threshold such as 'p(95) < 2s' (durations not below 0), "
     "not '-3s'"),
    (EXPECT, EXPECT.replace('"p(95) < 3s"', '"p(95) < -1s"'),
     "'p(95) < -1s': latency is a duration, never below 0 (such as 500ms or 2s)"),
    (SCENARIO, SCENARIO.replace("retry_after: 1s", "ttfb: 2s"), "`ttfb` is an option of slow, not of rate_limit"),
    (SCENARIO, SCENARIO.replace("rate_limit", "slow").replace("retry_after: 1s", "ttfb: 0s"),
     "a slow fault needs `ttfb` or `per_chunk` above 0"),
    (SCENARIO, SCENARIO.replace("rate_limit", "flap").replace("retry_after: 1s", "down: 3s, every: 2s"),
     "down (3s) must be above 0 and shorter than every (2s)"),
    (FALLBACK, FALLBACK.replace("backup", "bakup"), "unknown model 'bakup': not a name or model id of models.yaml "
                                                    "(did you mean 'backup'?)"),
], ids=["share-above-100", "share-0", "negative-duration", "negative-ttfb", "share-above-1", "duration-in-words",
        "success-rate-in-words", "success-rate-above-100", "negative-time-to-error", "negative-latency",
        "option-of-another-type", "slow-without-delay",
        "flap-down-longer-than-every", "unknown-fallback-model"])
def test_resilience_bad_value_exit_2_at_its_line(tmp_path: Path, old: str, new: str, message: str) -> None:
    copy = _copy(tmp_path)
    text = (copy / "gate.yaml").read_text()
    assert text.count(old) == 1
    at = text[:text.index(old)].count("\n") + 1 + next(i for i, (a, b) in enumerate(
        zip(old.splitlines(), new.splitlines(), strict=True)) if a != b)
    (copy / "gate.yaml").write_text(text.replace(old, new))
    res = gate("check", "--only", "resilience", cwd=copy)
    assert res.exit_code == 2, res.stdout + res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith(f"error: gate.yaml:{at}:") and message in line, line


def test_resilience_service_quitting_at_once_exit_3_nothing_left(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    # The service leaves a child behind in its process group and quits; the stub records its own pid.
    (copy / "quitter.py").write_text(
        "import os, subprocess, sys\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)'])\n"
        "open('pids', 'a').write(f'{os.getpid()}\\n{child.pid}\\n')\n"
        "sys.exit(4)\n")
    (copy / "stub.py").write_text(
        "import os, runpy, sys\n"
        "open('pids', 'a').write(f'{os.getpid()}\\n')\n"
        "sys.argv = ['model_stub.py', *sys.argv[1:]]\n"
        "runpy.run_path('model_stub.py', run_name='__main__')\n")
    text = (copy / "gate.yaml").read_text()
    text = text.replace('start: "{python} app.py --port {port}"\n', 'start: "{python} quitter.py"\n')
    text = text.replace('start: "{python} model_stub.py --port {port} ', 'start: "{python} stub.py --port {port} ')
    (copy / "gate.yaml").write_text(text)
    t0 = time.monotonic()
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience", "--format", "json", timeout=90)
    assert res.exit_code == 3, res.stdout + res.stderr
    assert time.monotonic() - t0 < 19  # it did not wait out the ready_timeout (20 s)
    [check] = res.json()["checks"]
    assert check["status"] == "error"
    assert check["summary"] == "could not complete: the target's start command exited with code 4 before it was ready"
    pids = [int(p) for p in (copy / "pids").read_text().split()]
    assert len(pids) == 3 and not any(alive(p) for p in pids)  # the service, its child, the stub


def test_resilience_scenario_budget_ends_requests_a_service_never_answers() -> None:
    """A service that takes connections and never answers: the scenario ends at its budget, well before the
    requests' own timeout, and every request is a timeout that says so."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.getsockname()[1]}"
        traffic = Traffic(url, "/chat", [{"messages": [{"role": "user", "content": "hi"}]}], True, 60, "X-Request-Id",
                          {})
        t0 = time.monotonic()
        answers = run(traffic, "silent", 6, 3, 2.0)
        took = time.monotonic() - t0
    finally:
        stop.set()
        thread.join(5)
        for conn in held:
            conn.close()
        server.close()
    assert 1.9 <= took < 20  # the 2 s budget, not the 60 s timeout
    assert [(a.ok, a.status, a.category) for a in answers] == [(False, None, "transport.timeout")] * 6
    assert {a.message for a in answers} == {"not answered within the scenario's budget"}


def test_resilience_max_duration_cuts_a_slow_scenario_exit_3_figures_kept_nothing_left(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    # The service and the stub record their pids, so that the test can see they were all stopped.
    for name, script in (("svc.py", "app.py"), ("stub.py", "model_stub.py")):
        (copy / name).write_text("import os, runpy, sys\n"
                                 "open('pids', 'a').write(f'{os.getpid()}\\n')\n"
                                 f"sys.argv = ['{script}', *sys.argv[1:]]\n"
                                 f"runpy.run_path('{script}', run_name='__main__')\n")
    text = (copy / "gate.yaml").read_text()
    text = text.replace('start: "{python} app.py --port {port}"\n', 'start: "{python} svc.py --port {port}"\n')
    text = text.replace('start: "{python} model_stub.py --port {port} ', 'start: "{python} stub.py --port {port} ')
    start, end = text.index("  requests: 24\n"), text.index("\nretrieval:")
    # A quick control run, then a scenario of at least 8 x 8 s one after another, then one that never starts.
    text = text[:start] + """  requests: 2
  concurrency: 2
  timeout: 10s
  max_duration: 20s
  scenarios:
    - name: control
      faults: []
      expect: {success_rate: ">= 95%"}
    - name: crawl
      requests: 8
      concurrency: 1
      faults: [{type: slow, model: primary, ttfb: 8s}]
      expect: {success_rate: ">= 95%"}
    - name: never
      faults: [{type: outage, model: primary}]
      expect: {fallback: backup}
""" + text[end:]
    (copy / "gate.yaml").write_text(text)
    at = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("  max_duration:"))
    t0 = time.monotonic()
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience", "--format", "json",
                          "--markdown", tmp_path / "c.md", timeout=120)
    took = time.monotonic() - t0
    assert res.exit_code == 3, res.stdout + res.stderr
    assert took < 55  # 20 s and the stops; the crawl alone would take over a minute
    [check] = res.json()["checks"]
    assert check["status"] == "error"
    assert check["summary"] == "could not complete: 2 of 3 scenarios not run within max_duration (20s) (1 ran, 1 survived)"
    [finding] = [f for f in check["findings"] if "max_duration" in f["message"]]
    assert finding["line"] == at and finding["message"] == ("2 of 3 scenarios not run within max_duration (20s): "
                                                            "crawl (cut short), never")
    control, crawl = check["details"]["scenarios"]
    assert control["name"] == "control" and control["passed"] and control["succeeded"] == 2
    assert [e["passed"] for e in control["expectations"]] == [True]
    assert crawl["cut"] and not crawl["passed"] and crawl["expectations"] == [] and crawl["requests"] == 8
    assert check["details"]["not_run"] == ["crawl", "never"]
    assert [o["scenario"] for o in check["details"]["observations"]] == ["control"]
    pids = [int(p) for p in (copy / "pids").read_text().split()]
    assert len(pids) == 3 and not any(alive(p) for p in pids)  # the stub, both services
    comment = (tmp_path / "c.md").read_text()
    assert "| crawl | slow of primary | 8 |" in comment and "| cut short |" in comment
    assert "scenarios not run within max\\_duration" in comment and "crawl \\(cut short\\), never" in comment


def test_resilience_max_duration_bounds_a_start_up_that_never_ends_exit_3(tmp_path: Path) -> None:
    """A service that never becomes ready, with 1 s of max_duration left and a 60 s ready_timeout: the start-up
    wait ends with max_duration, and the scenario is reported as not run within it."""
    copy = _copy(tmp_path)
    (copy / "sleeper.py").write_text("import time\ntime.sleep(300)\n")
    text = (copy / "gate.yaml").read_text()
    start, end = text.index("resilience:\n"), text.index("\nretrieval:")
    # The upstream is a fixed address (nothing to start), so the whole second goes to the service's start-up.
    text = text[:start] + """resilience:
  target:
    url: http://127.0.0.1:{port}
    start: "{python} sleeper.py"
    ready: /healthz
    ready_timeout: 60s
  upstreams:
    - env: OPENAI_BASE_URL
      to: http://127.0.0.1:9/v1
  chat: {path: /chat}
  max_duration: 1s
  scenarios:
    - name: outage
      faults: [{type: outage, model: primary}]
      expect: {success_rate: ">= 95%"}
""" + text[end:]
    (copy / "gate.yaml").write_text(text)
    at = next(i for i, line in enumerate(text.splitlines(), 1) if line.startswith("  max_duration:"))
    res = gate("check", "--only", "resilience", "--format", "json", cwd=copy)
    assert res.exit_code == 3, res.stdout + res.stderr
    [check] = res.json()["checks"]
    assert check["status"] == "error"
    assert check["summary"] == "could not complete: 1 of 1 scenarios not run within max_duration (1s) (0 ran, 0 survived)"
    [finding] = check["findings"]
    assert finding["line"] == at
    assert finding["message"].startswith("1 of 1 scenarios not run within max_duration (1s): outage; the target was "
                                         "still starting when the time left ran out, before resilience.target."
                                         "ready_timeout (60s): GET http://127.0.0.1:")
    start_up = check["details"]["start_up"]
    assert start_up["ready_timeout_s"] == 60
    # Waited for what max_duration left (at most 1 s), nowhere near the 60 s ready_timeout.
    assert 0 <= start_up["waited_s"] < 30 and check["duration_s"] < 30
    assert check["details"]["not_run"] == ["outage"] and check["details"]["scenarios"] == []


def test_resilience_ttft_expected_of_plain_answers_exit_2_at_its_line(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    text = (copy / "gate.yaml").read_text()
    start = text.index("\nresilience:")
    assert text.count("  chat: {path: /chat}\n", start) == 1
    text = text[:start] + text[start:].replace("  chat: {path: /chat}\n", "  chat: {path: /chat, stream: false}\n")
    (copy / "gate.yaml").write_text(text)
    at = next(i for i, line in enumerate(text.splitlines(), 1) if line.strip().startswith("ttft:") and i > text[
        :start].count("\n"))
    res = gate("check", "--only", "resilience", cwd=copy)
    assert res.exit_code == 2, res.stdout + res.stderr
    [line] = res.stderr.strip().splitlines()
    assert line.startswith(f"error: gate.yaml:{at}:") and "ttft needs streamed requests" in line, line
