"""What the scenarios send: templates filled from rows, chat traffic from prompts, suites and datasets."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from prodgate_checks.load.check import LoadCheck, build_spec
from prodgate_checks.load.config import parse_load
from prodgate_checks.load.scenario import MAX_REQUESTS, Traffic, chat_traffic, fill, fill_path

from gate.config import load_config
from gate.context import CheckContext
from gate.errors import CheckIncomplete
from gate.gitref import resolve_base
from gate.registry import discover, plugin_sections
from gate.runner import config_secret_names
from gate.schemas import load_schema
from tests.conftest import EXAMPLE, REPO

PROMPT = """name: ask
model: small
modelParameters: {maxTokens: 99}
messages:
  - role: system
    content: Be brief.
  - role: user
    content: "{{question}}"
testData:
  - {question: "First?", expected: "one"}
  - {question: "Second?", expected: "two"}
"""


def context(root: Path, load: str, extra: str = "") -> CheckContext:
    (root / "gate.yaml").write_text(f"version: 1\n{extra}load:\n  target: {{url: 'http://127.0.0.1:9'}}\n{load}",
                                    encoding="utf-8")
    checks, _ = discover()
    config = load_config(root / "gate.yaml", plugin_sections(checks, load_schema("gate")["properties"]))
    return CheckContext(config, resolve_base(root))


def test_fill_whole_placeholder_keeps_type_and_embedded_is_text() -> None:
    template = {"n": "{{n}}", "text": "n={{n}} q={{q}}", "list": ["{{q}}", 3], "missing": "{{other}}"}
    assert fill(template, {"n": 7, "q": "hi"}) == {"n": 7, "text": "n=7 q=hi", "list": ["hi", 3],
                                                   "missing": "{{other}}"}


def test_fill_path_quotes_values() -> None:
    assert fill_path("/v1/items/{{id}}?q={{q}}", {"id": "a/b", "q": "x y&z"}) == "/v1/items/a%2Fb?q=x%20y%26z"


def test_chat_traffic_from_prompt_test_data_with_model_id(tmp_path: Path) -> None:
    (tmp_path / "prompts").mkdir()
    (tmp_path / "prompts" / "ask.prompt.yml").write_text(PROMPT, encoding="utf-8")
    (tmp_path / "models.yaml").write_text("version: 1\nmodels:\n  small: {provider: openai, model: gpt-4o-mini}\n",
                                          encoding="utf-8")
    ctx = context(tmp_path, "", 'prompts: ["prompts/*.prompt.yml"]\nmodels: models.yaml\n')
    traffic = chat_traffic(ctx, parse_load(ctx.config))
    assert traffic.source == "2 requests from the testData of the prompt files"
    first = traffic.requests[0]
    assert first == {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "First?"}],
                     "model": "gpt-4o-mini", "max_tokens": 99}


def test_chat_traffic_from_load_chat_prompts_globs(tmp_path: Path) -> None:
    (tmp_path / "load").mkdir()
    (tmp_path / "load" / "ask.prompt.yml").write_text(PROMPT, encoding="utf-8")
    (tmp_path / "load" / "notes.txt").write_text("not a prompt", encoding="utf-8")
    ctx = context(tmp_path, "  chat: {prompts: ['load/*.prompt.yml', 'load/ask.*']}\n")
    traffic = chat_traffic(ctx, parse_load(ctx.config))
    assert traffic.source == "2 requests from the testData of load.chat.prompts" and not traffic.findings
    assert [r["messages"][1]["content"] for r in traffic.requests] == ["First?", "Second?"]


def test_chat_traffic_overrides_and_dataset_rows(tmp_path: Path) -> None:
    rows = [{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(MAX_REQUESTS + 100)]
    (tmp_path / "m.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    ctx = context(tmp_path, "  chat: {dataset: m.jsonl, model: svc, max_tokens: 5}\n")
    traffic = chat_traffic(ctx, parse_load(ctx.config))
    assert len(traffic.requests) == MAX_REQUESTS  # evenly spread over the 600 rows
    assert traffic.requests[0]["messages"][0]["content"] == "q0" and traffic.requests[-1]["model"] == "svc"
    assert {r["max_tokens"] for r in traffic.requests} == {5}
    assert traffic.source.startswith("600 requests from the testData of the prompt files and 600 rows of")


def test_chat_traffic_nothing_to_send_incomplete(tmp_path: Path) -> None:
    ctx = context(tmp_path, "")
    with pytest.raises(CheckIncomplete, match="nothing to send"):
        chat_traffic(ctx, parse_load(ctx.config))


def test_chat_traffic_example_uses_regression_suites() -> None:
    checks, _ = discover()
    config = load_config(EXAMPLE / "gate.yaml", plugin_sections(checks, load_schema("gate")["properties"]))
    ctx = CheckContext(config, resolve_base(EXAMPLE))
    traffic = chat_traffic(ctx, parse_load(config))
    assert traffic.source.endswith("from the cases of 4 regression suites") and not traffic.findings
    roles = {tuple(m["role"] for m in r["messages"]) for r in traffic.requests}
    assert roles == {("system", "user")}
    assert not any("{{" in m["content"] for r in traffic.requests for m in r["messages"])


def test_build_spec_names_secrets_never_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LOAD_TOKEN", "sk-proj-secretvalue123456789012345")
    ctx = context(tmp_path, "  arrival_rate: 5\n  workers: 2\n  duration: 3s\n  warmup: 1s\n")
    (tmp_path / "gate.yaml").write_text((tmp_path / "gate.yaml").read_text().replace(
        "{url: 'http://127.0.0.1:9'}", "{url: 'http://127.0.0.1:9', api_key_env: LOAD_TOKEN}"))
    ctx = CheckContext(load_config(tmp_path / "gate.yaml", plugin_sections(discover()[0], load_schema("gate")[
        "properties"])), ctx.base)
    spec = build_spec(parse_load(ctx.config), Traffic(({"messages": []},), "x"), config_secret_names(ctx.config))
    assert (spec["run_s"], spec["arrival_rate"], spec["processes"]) == (4.0, 5.0, 2)
    assert spec["api_key_env"] == "LOAD_TOKEN" and "secretvalue" not in json.dumps(spec)
    # The generator redacts with the gate's pattern and the variables' names; it reads their values itself.
    assert "LOAD_TOKEN" in spec["redact"]["names"] and re.compile(spec["redact"]["pattern"]).search("sk-" + "a" * 24)


def test_load_modules_import_no_heavy_library() -> None:
    # The gate process must never import locust (it monkey-patches everything) or gevent.
    code = ("import sys, prodgate_checks.load.check, prodgate_checks.load.runner, prodgate_checks.load.render; "
            "print(sorted(m for m in ('locust', 'gevent', 'numpy', 'scipy', 'deepeval') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"
    assert LoadCheck().order == 40 and LoadCheck().section == "load"


def test_chat_traffic_dataset_split_at_newline_only_and_hostile_rows_are_findings(tmp_path: Path) -> None:
    text = "ask\u2028me\u2029now\x85"
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"messages": [{"role": "user", "content": text}]}, ensure_ascii=False) + "\r\n"
        + '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}\n"
        + '{"messages": [{"role": "user", "content": "x"}], "weight": NaN}\n', encoding="utf-8")
    ctx = context(tmp_path, "  chat: {dataset: m.jsonl}\n")
    traffic = chat_traffic(ctx, parse_load(ctx.config))
    assert [r["messages"][0]["content"] for r in traffic.requests] == [text]
    assert [(Path(f.file or "").name, f.line, f.message.split(": line")[0]) for f in traffic.findings] == [
        ("m.jsonl", 2, "not valid JSON: nested deeper than 100 levels"),
        ("m.jsonl", 3, "not valid JSON: NaN is not a finite number")]
