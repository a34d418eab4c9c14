"""`gate check` as a process on the example's service behind the fault-injecting proxy, and on broken configs."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE, alive, gate_subprocess

KEY = "sk-resilience0123456789abcdefghijklmn"


def _copy(tmp_path: Path, start_extra: str = "") -> Path:
    copy = tmp_path / "support-bot"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".gate", "__pycache__"))
    if start_extra:
        text = (copy / "gate.yaml").read_text()
        old = 'start: "{python} app.py --port {port}"\n'
        at = text.index(old, text.index("\nresilience:"))  # the retrieval section starts the same service
        assert at < text.index("\nretrieval:")
        new = f'start: "{{python}} app.py --port {{port}} {start_extra}"\n'
        (copy / "gate.yaml").write_text(text[:at] + new + text[at + len(old):])
    return copy


def test_resilience_example_passes_and_no_key_in_output(tmp_path: Path) -> None:
    res = gate_subprocess("check", "-c", EXAMPLE / "gate.yaml", "--only", "resilience,docs", "--format", "json",
                          "--markdown", tmp_path / "c.md", env={**os.environ, "OPENAI_API_KEY": KEY}, timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    checks = {c["name"]: c for c in res.json()["checks"]}
    check = checks["resilience"]
    assert check["status"] == "pass" and check["metrics"]["scenarios_passed"] == 2
    outage, limited = check["details"]["scenarios"]
    assert outage["name"] == "primary-outage" and outage["model_share"] == {"backup": 1.0}
    assert outage["correlated"] and outage["calls_per_request"]["max"] <= 3
    assert 0 < limited["model_share"]["backup"] < 1 and limited["faults_injected"] > 0
    # The docs check confirms both documented fallbacks from what the proxy saw.
    behaviour = checks["docs"]["details"]["behaviour"]
    assert {(b["scenario"], b["confirmed"]) for b in behaviour} == {("primary-outage", True), ("rate-limit", True)}
    comment = (tmp_path / "c.md").read_text()
    assert "xychart-beta" in comment and "| primary\\-outage |" in comment
    assert KEY not in res.stdout + res.stderr + comment


def test_resilience_example_without_fallback_fails_and_docs_contradicted(tmp_path: Path) -> None:
    copy = _copy(tmp_path, "--no-fallback")
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience,docs", "--format", "json",
                          timeout=180)
    assert res.exit_code == 1, res.stdout + res.stderr
    checks = {c["name"]: c for c in res.json()["checks"]}
    assert checks["resilience"]["status"] == "fail"
    outage = checks["resilience"]["details"]["scenarios"][0]
    assert not outage["passed"] and outage["model_share"] == {}
    fallback = next(e for e in outage["expectations"] if e["name"] == "fallback")
    assert not fallback["passed"] and "called no other model" in fallback["observed"]
    doc_lines = (copy / "docs" / "failure-modes.md").read_text().splitlines()
    [finding] = [f for f in checks["docs"]["findings"] if "primary-outage" in f["message"]]
    assert finding["severity"] == "error" and finding["file"].endswith("docs/failure-modes.md")
    assert finding["message"] == ("the failure-mode document says `backup` takes over on provider outage; during "
                                  "the primary-outage scenario (resilience check) the service called only `primary`")
    assert doc_lines[finding["line"] - 1].startswith("**Fallback:** `primary` falls back to `backup`")


def test_resilience_unknown_model_and_upstream_exit_2_at_line(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    text = (copy / "gate.yaml").read_text()
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if "{type: outage, model: primary}" in line) + 1
    (copy / "gate.yaml").write_text(text.replace("{type: outage, model: primary}", "{type: outage, model: primray}"))
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience")
    assert res.exit_code == 2
    assert f"gate.yaml:{at}:" in res.stderr and "unknown model 'primray'" in res.stderr and "did you mean 'primary'" in res.stderr
    assert "Traceback" not in res.stderr
    (copy / "gate.yaml").write_text(text.replace("{type: outage, model: primary}",
                                                 "{type: outage, upstream: ANTHROPIC_BASE_URL}"))
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience")
    assert res.exit_code == 2 and f"gate.yaml:{at}:" in res.stderr and "unknown upstream 'ANTHROPIC_BASE_URL'" in res.stderr


def test_resilience_service_never_ready_exit_3_nothing_left(tmp_path: Path) -> None:
    copy = _copy(tmp_path)
    (copy / "sleeper.py").write_text("import os, time\nopen('pids', 'a').write(f'{os.getpid()}\\n')\ntime.sleep(120)\n")
    text = (copy / "gate.yaml").read_text()
    text = text.replace('start: "{python} app.py --port {port}"\n', 'start: "{python} sleeper.py"\n')
    text = text.replace("    ready_timeout: 20s\n  upstreams:", "    ready_timeout: 1.5s\n  upstreams:")
    (copy / "gate.yaml").write_text(text)
    t0 = time.monotonic()
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience", "--format", "json", timeout=90)
    assert res.exit_code == 3, res.stdout + res.stderr
    assert time.monotonic() - t0 < 45
    check = res.json()["checks"][0]
    assert check["status"] == "error" and "never became ready" in check["summary"]
    assert "resilience.target.ready_timeout" in check["summary"]
    pids = [int(p) for p in (copy / "pids").read_text().split()]
    assert pids and not any(alive(p) for p in pids)


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_resilience_example_malformed_primary_answered_from_backup(tmp_path: Path, stream: bool) -> None:
    """The failure-mode document: a malformed answer is retried, then the backup model takes over."""
    copy = _copy(tmp_path)
    text = (copy / "gate.yaml").read_text()
    start = text.index("  chat: {path: /chat}\n", text.index("\nresilience:"))
    end = text.index("\nretrieval:")
    text = text[:start] + f"""  chat: {{path: /chat, stream: {str(stream).lower()}}}
  requests: 12
  concurrency: 4
  timeout: 10s
  scenarios:
    - name: malformed-primary
      faults: [{{type: malformed, model: primary}}]
      expect:
        success_rate: ">= 95%"
        fallback: backup
        max_upstream_calls_per_request: 3
""" + text[end:]
    (copy / "gate.yaml").write_text(text)
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience,docs", "--format", "json",
                          timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    checks = {c["name"]: c for c in res.json()["checks"]}
    [scenario] = checks["resilience"]["details"]["scenarios"]
    assert scenario["passed"] and scenario["success_rate"] == 1.0 and scenario["correlated"]
    assert scenario["model_share"] == {"backup": 1.0} and scenario["faults_injected"] > 0
    assert {e["name"]: e["passed"] for e in scenario["expectations"]} == {
        "success_rate": True, "fallback": True, "max_upstream_calls_per_request": True}
    assert scenario["observation"]["modes"] == ["malformed-output"]
    assert scenario["observation"]["went_to"].get("backup", 0) == scenario["observation"]["requests_after_failure"] > 0


def test_resilience_example_primary_failing_half_its_calls_falls_back_passes(tmp_path: Path) -> None:
    """The example retries a failed call once, then takes the backup (its failure-mode document says so): with the
    primary failing half its calls, some retries answer, and those requests never needed the backup. A truncate cut
    beyond every answer's end took nothing away."""
    copy = _copy(tmp_path)
    text = (copy / "gate.yaml").read_text()
    start = text.index("  scenarios:\n", text.index("\nresilience:"))
    text = text[:start] + """  scenarios:
    - name: flaky-primary
      faults: [{type: outage, model: primary, share: 50%}]
      expect: {success_rate: ">= 95%", fallback: backup, max_upstream_calls_per_request: 3}
    - name: cut-past-the-end
      faults: [{type: truncate, model: primary, after_bytes: 1000000}]
      expect: {success_rate: ">= 95%"}
""" + text[text.index("\nretrieval:"):]
    (copy / "gate.yaml").write_text(text)
    res = gate_subprocess("check", "-c", copy / "gate.yaml", "--only", "resilience", "--format", "json", timeout=180)
    assert res.exit_code == 0, res.stdout + res.stderr
    flaky, cut = res.json()["checks"][0]["details"]["scenarios"]
    fallback = next(e for e in flaky["expectations"] if e["name"] == "fallback")
    obs = flaky["observation"]
    assert flaky["passed"] and fallback["passed"] and flaky["correlated"]
    assert obs["answered_by_retry_after_failure"] > 0 and obs["went_to"]["backup"] == obs["requests_after_failure"] > 0
    assert "answered by a retry of the model that failed" in fallback["observed"]
    assert cut["passed"] and cut["model_share"] == {"primary": 1.0} and cut["observation"]["faulted"] == []
