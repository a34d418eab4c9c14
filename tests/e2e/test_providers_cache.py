"""The response cache and cassettes on disk, against a real server: warm runs, keys, atomic files, replay."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from servers.openai_fake import Behaviour, Fault, serve

from gate.models import ModelConfig
from gate.providers.base import Category, ChatMessage, ProviderError, Request, Response
from gate.providers.cache import CachedProvider
from gate.providers.cassette import Defect, Recorder, ReplayProvider, read_cassette
from gate.providers.executor import run_all
from gate.providers.keys import producer
from gate.providers.openai import OpenAIProvider
from gate.providers.pycall import PythonProvider
from gate.providers.spec import TargetError

TESTS = Path(__file__).resolve().parent.parent


def asks(n: int, repeat: int = 0, **params: Any) -> list[Request]:
    return [Request(messages=(ChatMessage("user", f"question {i}"),), params=params, case_id=f"c{i}", repeat=repeat)
            for i in range(n)]


def model(url: str, name: str = "fake", **params: Any) -> OpenAIProvider:
    return OpenAIProvider(ModelConfig(name="m", provider="openai-compatible", model=name, base_url=url + "/v1",
                                      params=params), {})


def test_cache_warm_run_zero_requests_same_answers(tmp_path: Path) -> None:
    with serve() as srv:
        cold = run_all(CachedProvider(model(srv.url), tmp_path / "cache"), asks(30))
        assert len(srv.requests) == 30
        cached = CachedProvider(model(srv.url), tmp_path / "cache")
        warm = run_all(cached, asks(30))
        assert len(srv.requests) == 30 and (cached.hits, cached.misses) == (30, 0)
    assert [r.content for r in warm if isinstance(r, Response)] == [r.content for r in cold if isinstance(r, Response)]
    assert all(isinstance(r, Response) and r.cached and r.usage.output_tokens == 4 for r in warm)
    assert not any(isinstance(r, Response) and r.cached for r in cold)


def test_cache_key_changes_with_model_params_and_repeat(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with serve() as srv:
        run_all(CachedProvider(model(srv.url), folder), asks(5))
        for provider, requests in [(model(srv.url, name="other"), asks(5)),
                                   (model(srv.url, temperature=0.7), asks(5)),
                                   (model(srv.url), asks(5, temperature=0.1)),
                                   (model(srv.url), asks(5, repeat=1))]:
            before = len(srv.requests)
            run_all(CachedProvider(provider, folder), requests)
            assert len(srv.requests) - before == 5
    assert len(list(folder.rglob("*.json"))) == 25


def test_cache_models_yaml_param_the_requests_override_still_answers_from_the_cache(tmp_path: Path) -> None:
    # The prompt sets temperature itself: models.yaml's value never reaches the model, so it cannot change an answer.
    folder = tmp_path / "cache"
    with serve() as srv:
        run_all(CachedProvider(model(srv.url, temperature=0.2), folder), asks(5, temperature=0.7))
        assert len(srv.requests) == 5
        cached = CachedProvider(model(srv.url, temperature=0.9), folder)
        again = run_all(cached, asks(5, temperature=0.7))
        assert len(srv.requests) == 5 and (cached.hits, cached.misses) == (5, 0)
        assert all(isinstance(r, Response) and r.cached for r in again)
        # A parameter the requests do not set is the model's own: its answers are asked for again.
        run_all(CachedProvider(model(srv.url, temperature=0.9, top_p=0.5), folder), asks(5, temperature=0.7))
        assert len(srv.requests) == 10


def test_cache_file_of_another_producer_not_read(tmp_path: Path) -> None:
    # A file at the right key whose producer is another model (planted, or written by hand) is asked again.
    with serve() as srv:
        cached = CachedProvider(model(srv.url), tmp_path / "cache")
        request = asks(1)[0]
        cached.complete(request)
        path = cached.path_for(request)
        data = json.loads(path.read_text(encoding="utf-8"))
        assert data["producer"]["model"] == "fake" and data["format"] == 2
        data["producer"]["model"] = "gpt-4.1"
        data["response"]["content"] = "planted"
        path.write_text(json.dumps(data), encoding="utf-8")
        again = cached.complete(request)
        assert again.content == "You said: question 0" and not again.cached and len(srv.requests) == 2
        assert cached.complete(request).producer == producer(cached.identity())


def test_cache_tracked_file_never_read_nor_overwritten(tmp_path: Path) -> None:
    with serve() as srv:
        first = CachedProvider(model(srv.url), tmp_path / "cache")
        request = asks(1)[0]
        first.complete(request)
        path = first.path_for(request)
        kept = path.read_text(encoding="utf-8")
        tracked = CachedProvider(model(srv.url), tmp_path / "cache", tracked=frozenset({path.resolve()}))
        assert not tracked.complete(request).cached and len(srv.requests) == 2
        assert path.read_text(encoding="utf-8") == kept and tracked.hits == 0


def test_cache_failures_not_cached_and_disabled_bypasses(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with serve(Behaviour(faults=[Fault("status", status=500)])) as srv:
        [failed] = run_all(CachedProvider(model(srv.url), folder), asks(1), retries=0)
        assert isinstance(failed, ProviderError) and not list(folder.rglob("*.json"))
        [answered] = run_all(CachedProvider(model(srv.url), folder), asks(1))
        assert isinstance(answered, Response) and not answered.cached and len(srv.requests) == 2
        run_all(CachedProvider(model(srv.url), folder, enabled=False), asks(1))
        assert len(srv.requests) == 3 and len(list(folder.rglob("*.json"))) == 1


def test_cache_damaged_file_asked_again_and_rewritten(tmp_path: Path) -> None:
    with serve() as srv:
        cached = CachedProvider(model(srv.url), tmp_path / "cache")
        request = asks(1)[0]
        cached.complete(request)
        path = cached.path_for(request)
        path.write_text('{"format": 1, "response": {"cont', encoding="utf-8")
        again = cached.complete(request)
        assert not again.cached and len(srv.requests) == 2
        assert json.loads(path.read_text())["response"]["content"] == "You said: question 0"


FILL = """
import sys
sys.path.insert(0, {tests!r})
from pathlib import Path
from gate.models import ModelConfig
from gate.providers.base import ChatMessage, Request
from gate.providers.cache import CachedProvider
from gate.providers.executor import run_all
from gate.providers.keys import producer
from gate.providers.openai import OpenAIProvider
cfg = ModelConfig(name="m", provider="openai-compatible", model="fake", base_url={url!r} + "/v1")
reqs = [Request(messages=(ChatMessage("user", f"question {{i}}"),)) for i in range(150)]
results = run_all(CachedProvider(OpenAIProvider(cfg, {{}}), Path({folder!r})), reqs, concurrency=8)
print(sum(1 for r in results if hasattr(r, "content")))
"""


def test_cache_two_runs_at_once_never_leave_half_files(tmp_path: Path) -> None:
    folder = tmp_path / "cache"
    with serve() as srv:
        script = tmp_path / "fill.py"
        script.write_text(FILL.format(tests=str(TESTS), url=srv.url, folder=str(folder)), encoding="utf-8")
        procs = [subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True) for _ in range(2)]
        outs = [p.communicate(timeout=60)[0].strip() for p in procs]
    assert outs == ["150", "150"] and [p.returncode for p in procs] == [0, 0]
    files = list(folder.rglob("*"))
    entries = [f for f in files if f.is_file()]
    assert len(entries) == 150 and not [f for f in entries if f.name.startswith(".tmp-")]
    assert all(json.loads(f.read_text())["format"] == 2 for f in entries)


def test_recorder_cassette_replayed_without_server(tmp_path: Path) -> None:
    cassette = tmp_path / "cassettes" / "faq.jsonl"
    with serve() as srv:
        with Recorder(model(srv.url, temperature=0), cassette) as recorder:
            live = run_all(recorder, list(reversed(asks(12))))
    lines = [json.loads(line) for line in cassette.read_text().splitlines()]
    assert [x["case_id"] for x in lines] == sorted(f"c{i}" for i in range(12))  # sorted: re-records diff cleanly
    first = lines[0]
    assert first["request"] == {"model": "fake", "messages": [{"role": "user", "content": "question 0"}],
                                "params": {}, "variables": {}}
    assert first["response"]["content"] == "You said: question 0"
    host = srv.url.split("//", 1)[1].split("/", 1)[0]
    assert first["producer"] == {"provider": "openai-compatible", "model": "fake", "host": host,
                                 "params": {"temperature": 0}}
    assert first["response"]["usage"] == {"input_tokens": 2, "output_tokens": 4}
    assert isinstance(first["response"]["latency_s"], float)
    replayed = run_all(ReplayProvider(cassette), asks(12))  # the server is gone
    assert [r.content for r in replayed if isinstance(r, Response)] == [
        r.content for r in reversed(live) if isinstance(r, Response)]
    assert all(isinstance(r, Response) and r.cached and r.usage.input_tokens == 2 for r in replayed)


def test_replay_unknown_request_error_names_case(tmp_path: Path) -> None:
    cassette = tmp_path / "faq.jsonl"
    with serve() as srv, Recorder(model(srv.url), cassette) as recorder:
        run_all(recorder, asks(2))
    changed = Request(messages=(ChatMessage("user", "question 0, reworded"),), case_id="c0", repeat=2)
    [missing] = run_all(ReplayProvider(cassette, display="cassettes/faq.jsonl"), [changed])
    assert isinstance(missing, ProviderError) and missing.category is Category.CLIENT_ERROR
    assert missing.message.startswith("case 'c0' (repeat 2) is not in cassette cassettes/faq.jsonl")


def test_replay_bad_line_defect_with_line_number_good_lines_kept(tmp_path: Path) -> None:
    cassette = tmp_path / "bad.jsonl"
    good = json.dumps({"key": "k1", "response": {"content": "hi"}})
    cassette.write_text(f"{good}\n\n{{not json\n[]\n", encoding="utf-8")
    replay = ReplayProvider(cassette, display="bad.jsonl")
    assert [d.line for d in replay.defects] == [3, 4] and list(replay.entries) == ["k1"]
    assert replay.defects[0].message.startswith("not a JSON object")
    assert replay.defects[1].message == "a cassette line needs a string `key` and `response.content`"
    with pytest.raises(TargetError, match=r"^bad.jsonl:3: not a JSON object"):
        read_cassette(cassette, "bad.jsonl")
    with pytest.raises(TargetError, match="cassette none.jsonl does not exist"):
        ReplayProvider(tmp_path / "none.jsonl", display="none.jsonl")


@pytest.mark.parametrize(("latency", "message"), [
    ('"slow"', "response.latency_s must be a number of seconds, not 'slow'"),
    ("[1]", "response.latency_s must be a number of seconds, not [1]"),
    ("true", "response.latency_s must be a number of seconds, not True"),
    ("NaN", "response.latency_s must be a number of seconds, not nan"),
    ("-1", "response.latency_s must be a number of seconds, not -1"),
])
def test_replay_bad_latency_defect_at_its_line(tmp_path: Path, latency: str, message: str) -> None:
    cassette = tmp_path / "bad.jsonl"
    good = json.dumps({"key": "k1", "response": {"content": "hi", "latency_s": 0.5}})
    cassette.write_text(f'{good}\n{{"key": "k2", "response": {{"content": "hi", "latency_s": {latency}}}}}\n',
                        encoding="utf-8")
    [defect] = ReplayProvider(cassette, display="bad.jsonl").defects
    # NaN is refused by the JSON reader itself, before the latency is looked at: still line 2.
    assert defect.line == 2
    assert defect.message.startswith("not a JSON object (NaN is not a finite number") if latency == "NaN" \
        else defect.message == message


@pytest.mark.parametrize(("usage", "message"), [
    ('{"input_tokens": 1' + "0" * 400 + "}",
     "response.usage.input_tokens must be a whole number of tokens from 0 to 1,000,000,000, not a 401-digit number"),
    ('{"output_tokens": -3}', "response.usage.output_tokens must be a whole number of tokens from 0 to 1,000,000,000, "
                              "not -3"),
    ('{"cached_input_tokens": 2.5}', "response.usage.cached_input_tokens must be a whole number of tokens from 0 to "
                                     "1,000,000,000, not 2.5"),
    ("[12]", "response.usage must be an object of token counts"),
])
def test_replay_absurd_token_count_defect_at_its_line(tmp_path: Path, usage: str, message: str) -> None:
    cassette = tmp_path / "bad.jsonl"
    good = json.dumps({"key": "k1", "response": {"content": "hi", "usage": {"input_tokens": 12, "output_tokens": 3}}})
    cassette.write_text(f'{good}\n{{"key": "k2", "response": {{"content": "hi", "usage": {usage}}}}}\n',
                        encoding="utf-8")
    replay = ReplayProvider(cassette, display="bad.jsonl")
    [defect] = replay.defects
    assert (defect.line, defect.message) == (2, message)
    assert list(replay.entries) == ["k1"]


def test_replay_bom_and_invalid_utf8_are_defects_at_their_line(tmp_path: Path) -> None:
    cassette = tmp_path / "bad.jsonl"
    good = json.dumps({"key": "k1", "response": {"content": "hi"}}).encode()
    cassette.write_bytes(b"\xef\xbb\xbf" + good + b"\n")
    assert ReplayProvider(cassette).defects == [
        Defect(1, "starts with a byte-order mark: save the cassette as UTF-8 without one")]
    cassette.write_bytes(good + b"\n" + good.replace(b"hi", b"h\xffi") + b"\n")
    [defect] = ReplayProvider(cassette).defects
    assert defect.line == 2 and defect.message.startswith("not UTF-8")


def test_recorder_merge_keeps_other_entries_replace_does_not(tmp_path: Path) -> None:
    cassette = tmp_path / "c.jsonl"
    with serve() as srv:
        with Recorder(model(srv.url), cassette) as rec:
            run_all(rec, asks(3))
        with Recorder(model(srv.url), cassette, merge=True) as rec:
            run_all(rec, asks(2, repeat=1))
        assert len(read_cassette(cassette)) == 5
        with Recorder(model(srv.url), cassette) as rec:
            run_all(rec, asks(1))
    assert len(read_cassette(cassette)) == 1


def test_cache_app_target_never_cached(tmp_path: Path) -> None:
    (tmp_path / "botapp_counter.py").write_text(
        "calls = []\ndef answer(case):\n    calls.append(1)\n    return f'answer {len(calls)}'\n", encoding="utf-8")
    cached = CachedProvider(PythonProvider("botapp_counter:answer", tmp_path), tmp_path / "cache")
    first, second = run_all(cached, asks(1)), run_all(cached, asks(1))
    assert [r.content for r in first + second if isinstance(r, Response)] == ["answer 1", "answer 2"]
    assert not (tmp_path / "cache").exists() and cached.hits == 0
