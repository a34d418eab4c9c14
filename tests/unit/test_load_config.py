"""The load section of gate.yaml: bad values are exit 2 with gate.yaml:line:col, before anything starts."""

from __future__ import annotations

from pathlib import Path

import pytest
from prodgate_checks.load.config import ScenarioKind, fraction, parse_load, seconds
from prodgate_checks.load.runner import command

from gate.config import load_config
from gate.registry import discover, plugin_sections
from gate.schemas import load_schema
from tests.conftest import gate

HEAD = "version: 1\nload:\n  target: {url: 'http://127.0.0.1:9'}\n"


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "gate.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    (tmp_path / "messages.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}]}\n', encoding="utf-8")
    return path


def parsed(path: Path):  # type: ignore[no-untyped-def]
    checks, _ = discover()
    return parse_load(load_config(path, plugin_sections(checks, load_schema("gate")["properties"])))


@pytest.mark.parametrize(("body", "where", "needle"), [
    ("  thresholds:\n    latency: ['p(95) < 1.5 s', 'p95 < 2s']\n", ":5:", "did you mean p(95)?"),
    ("  thresholds:\n    error_rate: 'rate < 2'\n", ":5:17", "did you mean 2%?"),
    ("  thresholds:\n    latncy: ['p(95) < 1s']\n", ":5:5", "did you mean 'latency'"),
    ("  scenario: grpc\n", ":4:13", "unknown scenario 'grpc'"),
    ("  scenario: missing.py\n", ":4:13", "missing.py: file not found"),
    ("  scenario: http\n  http: {path: /x}\n  thresholds:\n    ttft: ['p(95) < 1s']\n", ":7:12",
     "ttft is measured only on streamed chat answers"),
    # An answer that is not streamed has no first token: a limit on its TTFT would judge its latency.
    ("  chat: {dataset: messages.jsonl, stream: false}\n  max_p95_increase: {latency: 50%, ttft: 50%}\n", ":5:42",
     "ttft is measured only on streamed chat answers; chat.stream is false"),
    ("  scenario: http\n", ":4:13", "needs an `http:` mapping"),
    ("  workers: 2\n  distributed: {workers: 2}\n", ":5:16", "cannot be combined"),
    ("  duration: 5 minutes\n", ":4:13", "$.load.duration"),
    ("  users: 0\n", ":4:10", "less than the minimum of 1"),
    ("  duration: 0s\n", ":4:13", "duration must be above 0"),
    ("  timeout: 0\n", ":4:12", "timeout must be above 0"),
    ("  usres: 3\n", ":4:3", "did you mean 'users'"),
    ("  chat: {dataset: nope.jsonl}\n", ":4:19", "nope.jsonl: file not found"),
    ("  chat: {prompts: [gate.yaml, '**x/*.yml']}\n", ":4:31", "**x/*.yml: not a usable glob"),
    ("  chat: {prompts: /abs/*.yml}\n", ":4:19", "/abs/*.yml: globs are relative to gate.yaml's folder"),
    ("  chat: {prompts: 'prompts/*.prompt.yml'}\n", ":4:19", "prompts/*.prompt.yml: the glob matches no file"),
])
def test_load_config_bad_value_exit_2_with_location(tmp_path: Path, body: str, where: str, needle: str) -> None:
    path = write(tmp_path, body)
    res = gate("check", "-c", "gate.yaml", "--only", "load", cwd=path.parent)
    assert res.exit_code == 2, res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: gate.yaml" + where) and needle in first, first
    assert "Traceback" not in res.stderr


def test_load_config_start_port_without_url_port_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text("version: 1\nload:\n  target:\n    url: http://127.0.0.1:8000\n    start: app --port {port}\n",
                    encoding="utf-8")
    res = gate("check", "-c", "gate.yaml", "--only", "load", cwd=path.parent)
    assert res.exit_code == 2 and "gate.yaml:5:12" in res.stderr and "url does not" in res.stderr



def test_load_config_start_unbalanced_quote_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "gate.yaml"
    path.write_text("version: 1\nload:\n  target:\n    url: http://127.0.0.1:{port}\n"
                    "    start: \"{python} app.py --port {port} 'oops\"\n", encoding="utf-8")
    res = gate("check", "-c", "gate.yaml", "--only", "load", cwd=path.parent)
    assert res.exit_code == 2, res.stderr
    first = res.stderr.splitlines()[0]
    assert first.startswith("error: gate.yaml:5:12: ") and "No closing quotation" in first, first
    assert "Traceback" not in res.stderr

def test_parse_load_defaults_and_units(tmp_path: Path) -> None:
    cfg = parsed(write(tmp_path, "  duration: 2500ms\n  warmup: 1\n  max_lag: 0.05s\n  arrival_rate: 20\n"
                                 "  max_p95_increase: 25%\n  thresholds: {latency: 'p(99) < 2s'}\n"))
    assert cfg.scenario is ScenarioKind.CHAT and cfg.chat.path == "/v1/chat/completions"
    assert (cfg.duration_s, cfg.warmup_s, cfg.max_lag_ms, cfg.arrival_rate) == (2.5, 1.0, 50.0, 20.0)
    assert cfg.users == 10 and cfg.spawn_rate == 10 and cfg.timeout_s == 60 and cfg.processes == 1
    assert cfg.max_p95_increase == {"latency": 0.25}
    assert cfg.baseline == (tmp_path / ".gate" / "load-baseline.json").resolve()
    assert [t.text for t in cfg.thresholds] == ["p(99) < 2s"] and cfg.threshold_lines[("latency", 0)] == 9


def test_parse_load_distributed_processes_and_target(tmp_path: Path) -> None:
    cfg = parsed(write(tmp_path, "  distributed: {workers: 3, bind_port: 6000}\n"))
    assert cfg.processes == 3 and cfg.distributed is not None
    assert cfg.target.url == "http://127.0.0.1:9" and cfg.target.ready is None and cfg.target.start is None
    assert cfg.target.log_in_comment is False


def test_parse_load_distributed_master_listens_on_loopback_unless_told(tmp_path: Path) -> None:
    cfg = parsed(write(tmp_path, "  distributed: {workers: 2}\n"))
    argv = command(cfg, "http://127.0.0.1:9", [tmp_path / "f.py"], tmp_path, tmp_path / "spec.json")
    assert argv[argv.index("--master-bind-host") + 1] == "127.0.0.1"
    cfg = parsed(write(tmp_path, "  distributed: {workers: 2, bind_host: 0.0.0.0}\n"))
    argv = command(cfg, "http://127.0.0.1:9", [tmp_path / "f.py"], tmp_path, tmp_path / "spec.json")
    assert argv[argv.index("--master-bind-host") + 1] == "0.0.0.0"


def test_seconds_and_fraction_forms() -> None:
    assert seconds(3) == 3.0 and seconds("250ms") == 0.25 and seconds("2m") == 120.0 and seconds(" 4 s ") == 4.0
    assert fraction("25%") == 0.25 and fraction(0.1) == 0.1
    with pytest.raises(ValueError):
        seconds("soon")
