"""App targets for real: an http endpoint on loopback, a command as a real process, a python function."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from servers.openai_fake import Behaviour, FakeOpenAI, serve

from gate.providers.base import Category, ChatMessage, ProviderError, Request, Usage
from gate.providers.command import CommandProvider
from gate.providers.endpoint import HttpProvider
from gate.providers.pycall import PythonProvider
from gate.providers.spec import TargetError
from tests.conftest import alive

CASE = Request(messages=(ChatMessage("user", "refund please"),), variables={"question": "refund please", "tier": 2},
               case_id="c7", repeat=1)


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with serve() as srv:
        yield srv


def test_http_template_filled_answer_and_usage_paths(server: FakeOpenAI) -> None:
    p = HttpProvider({"url": server.url + "/app/answer", "body": {"question": "{{question}}", "tier": "{{tier}}",
                                                                  "note": "case {{case_id}}", "history": "{{messages}}"},
                      "headers_env": {"X-App-Token": "APP_TOKEN"}, "answer": "$.answer",
                      "usage": {"input_tokens": "$.usage.in", "output_tokens": "$.usage.out"}}, {"APP_TOKEN": "t0k"})
    r = p.complete(CASE)
    sent = server.requests[-1]
    assert sent["body"] == {"question": "refund please", "tier": 2, "note": "case c7",
                            "history": [{"role": "user", "content": "refund please"}]}
    assert sent["headers"]["X-App-Token"] == "t0k"
    assert (r.content, r.usage.input_tokens, r.usage.output_tokens) == ("You asked: refund please", 2, 4)


def test_http_usage_nan_infinity_negative_or_text_read_as_unknown() -> None:
    # Python's json (and many app frameworks) write NaN and Infinity; int() of them raises.
    usage = {"in": float("nan"), "out": float("inf"), "cached": -3, "more": "12"}
    with serve(Behaviour(app_usage=usage)) as srv:
        p = HttpProvider({"url": srv.url + "/app", "answer": "$.answer", "usage": {
            "input_tokens": "$.usage.in", "output_tokens": "$.usage.out", "cached_input_tokens": "$.usage.cached"}},
            {})
        r = p.complete(CASE)
    assert r.content == "You asked: " and r.usage == Usage()


def test_http_get_query_and_url_variables_encoded(server: FakeOpenAI) -> None:
    p = HttpProvider({"url": server.url + "/app/{{tier}}", "method": "get", "query": {"q": "{{question}}"}}, {})
    r = p.complete(CASE)
    assert server.requests[-1]["path"] == "/app/2?q=refund+please"
    assert r.content == '{"answer": "You asked: refund please", "echo": {"q": "refund please"}}'


def test_http_answer_path_missing_server_error_names_path(server: FakeOpenAI) -> None:
    p = HttpProvider({"url": server.url + "/app", "body": {"question": "{{question}}"}, "answer": "$.data.text"}, {})
    with pytest.raises(ProviderError) as info:
        p.complete(CASE)
    assert info.value.category is Category.SERVER_ERROR
    assert "has nothing at $.data (http.answer: $.data.text)" in info.value.message


def test_http_bad_spec_target_error() -> None:
    with pytest.raises(TargetError, match="unknown key 'answr'"):
        HttpProvider({"url": "http://127.0.0.1:1/x", "answr": "$.a"}, {})
    with pytest.raises(TargetError, match="http.url must start with"):
        HttpProvider({"url": "ftp://x"}, {})


def test_command_usage_nan_read_as_unknown(tmp_path: Path) -> None:
    write(tmp_path, "app.py", """
        import json
        print(json.dumps({"output": "x", "usage": {"input_tokens": float("nan"), "output_tokens": 7.0}}))
    """)
    r = CommandProvider([sys.executable, "app.py"], tmp_path, dict(os.environ)).complete(CASE)
    assert (r.usage.input_tokens, r.usage.output_tokens) == (None, 7)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_command_case_on_stdin_answer_on_stdout(tmp_path: Path) -> None:
    write(tmp_path, "app.py", """
        import json, sys
        case = json.load(sys.stdin)
        print(json.dumps({"output": f"{case['id']}/{case['repeat']}: {case['vars']['question']}",
                          "usage": {"input_tokens": 3, "output_tokens": 4}}))
    """)
    r = CommandProvider([sys.executable, "app.py"], tmp_path, dict(os.environ)).complete(CASE)
    assert (r.content, r.usage.input_tokens, r.usage.output_tokens, r.model) == ("c7/1: refund please", 3, 4, "command")


def test_command_failure_and_bad_output_server_error(tmp_path: Path) -> None:
    write(tmp_path, "crash.py", "import sys\nprint('first', file=sys.stderr)\nsys.exit('model quota gone')\n")
    write(tmp_path, "text.py", "print('not json at all')\n")
    env = dict(os.environ)
    with pytest.raises(ProviderError) as crash:
        CommandProvider(f"{sys.executable} crash.py", tmp_path, env).complete(CASE)
    assert crash.value.category is Category.SERVER_ERROR
    assert crash.value.message.endswith("exited with status 1: model quota gone") and not crash.value.retryable
    with pytest.raises(ProviderError, match="did not write JSON on stdout"):
        CommandProvider([sys.executable, "text.py"], tmp_path, env).complete(CASE)


def test_command_timeout_kills_process_group(tmp_path: Path) -> None:
    # The program starts a grandchild and hangs: both must be gone after the timeout.
    write(tmp_path, "slow.py", """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open("child.pid", "w").write(str(child.pid))
        time.sleep(60)
    """)
    started = time.monotonic()
    with pytest.raises(ProviderError) as info:
        CommandProvider([sys.executable, "slow.py"], tmp_path, dict(os.environ), timeout=1.0).complete(CASE)
    assert info.value.category is Category.TIMEOUT and info.value.retryable
    assert time.monotonic() - started < 5
    pid = int((tmp_path / "child.pid").read_text())
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline and alive(pid):
        time.sleep(0.05)
    assert not alive(pid)



def test_command_missing_program_connection_error(tmp_path: Path) -> None:
    with pytest.raises(ProviderError) as info:
        CommandProvider(["./no-such-program"], tmp_path, {}).complete(CASE)
    assert info.value.category is Category.CONNECTION and "cannot start ./no-such-program" in info.value.message


def test_python_function_from_gate_folder_sync_and_async(tmp_path: Path) -> None:
    write(tmp_path, "botapp_sync.py", """
        def answer(case):
            return {"output": {"label": case["vars"]["question"].split()[0]}, "usage": {"output_tokens": 5}}
    """)
    write(tmp_path, "botapp_async.py", """
        async def answer(case):
            return "async " + case["id"]
    """)
    r = PythonProvider("botapp_sync:answer", tmp_path).complete(CASE)
    assert (r.content, r.usage.output_tokens) == ('{"label": "refund"}', 5)
    assert PythonProvider("botapp_async:answer", tmp_path).complete(CASE).content == "async c7"
    assert str(tmp_path) not in sys.path


def test_python_raises_server_error_and_timeout(tmp_path: Path) -> None:
    write(tmp_path, "botapp_bad.py", """
        import time
        def boom(case):
            raise RuntimeError("index not loaded")
        def slow(case):
            time.sleep(2)
            return "late"
    """)
    with pytest.raises(ProviderError) as info:
        PythonProvider("botapp_bad:boom", tmp_path).complete(CASE)
    assert info.value.category is Category.SERVER_ERROR
    assert info.value.message == "botapp_bad:boom raised RuntimeError: index not loaded"
    with pytest.raises(ProviderError) as late:
        PythonProvider("botapp_bad:slow", tmp_path, timeout=0.3).complete(CASE)
    assert late.value.category is Category.TIMEOUT


def test_python_bad_reference_target_error(tmp_path: Path) -> None:
    write(tmp_path, "botapp_ok.py", "def answer(case):\n    return 'x'\n")
    with pytest.raises(TargetError, match="must be \"package.module:function\""):
        PythonProvider("botapp_ok.answer", tmp_path)
    with pytest.raises(TargetError, match="cannot import botapp_missing: ModuleNotFoundError"):
        PythonProvider("botapp_missing:answer", tmp_path)
    with pytest.raises(TargetError, match="botapp_ok has no function nope"):
        PythonProvider("botapp_ok:nope", tmp_path)
