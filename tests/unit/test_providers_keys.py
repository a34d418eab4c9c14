"""Request keys: canonical, stable across runs and machines, blind to what does not shape the answer."""

from __future__ import annotations

import subprocess
import sys

from gate.providers.base import ChatMessage, Request
from gate.providers.keys import (
    answered_for,
    as_sent,
    cache_key,
    canonical,
    describe,
    producer,
    producers,
    request_key,
    url_host,
)

REQ = Request(messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "Où est la gare ?")),
              params={"temperature": 0.2, "max_tokens": 50}, variables={"q": "gare"}, case_id="c1")


def test_canonical_key_order_and_tuples_same_spelling() -> None:
    assert canonical({"b": (1, 2), "a": {"y": 1, "x": "é"}}) == '{"a":{"x":"é","y":1},"b":[1,2]}'


def test_request_key_case_id_and_timeout_ignored() -> None:
    other = Request(messages=REQ.messages, params={"max_tokens": 50, "temperature": 0.2}, variables={"q": "gare"},
                    case_id="another", timeout_s=3.0)
    assert request_key(other) == request_key(REQ)


def test_request_key_repeat_params_messages_change_it() -> None:
    keys = {
        request_key(REQ),
        request_key(Request(messages=REQ.messages, params=REQ.params, variables=REQ.variables, repeat=1)),
        request_key(Request(messages=REQ.messages, params={"temperature": 0.3, "max_tokens": 50}, variables=REQ.variables)),
        request_key(Request(messages=REQ.messages[1:], params=REQ.params, variables=REQ.variables)),
    }
    assert len(keys) == 4


def test_request_key_literal_value_is_stable() -> None:
    # SHA-256 of '{"messages":[{"content":"hi","role":"user"}],"params":{},"repeat":0,"variables":{}}':
    # a change here breaks every recorded cassette, so it must be deliberate.
    assert request_key(Request(messages=(ChatMessage("user", "hi"),))) == (
        "296fc22085e8abe60282271df8661ecafae76e93f39f223a611fe36e01f599b3")


def test_request_key_other_process_and_hash_seed_same_value() -> None:
    code = ("from gate.providers.base import ChatMessage, Request; from gate.providers.keys import request_key;"
            "print(request_key(Request(messages=(ChatMessage('system','Be brief.'),ChatMessage('user','Où est la gare ?')),"
            "params={'max_tokens':50,'temperature':0.2},variables={'q':'gare'})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == request_key(REQ)


def test_cache_key_identity_separates_models() -> None:
    a = cache_key({"kind": "openai", "model": "gpt-4o-mini"}, REQ)
    b = cache_key({"kind": "openai", "model": "gpt-4.1-mini"}, REQ)
    assert a != b and len(a) == 64 and a != request_key(REQ)


OPENAI = {"kind": "openai", "url": "https://api.openai.com/v1/chat/completions", "model": "gpt-4.1",
          "api_version": None, "params": {"temperature": 0.2}}


def test_cache_key_producer_identity_host_provider_model_params_each_change_it() -> None:
    keys = {cache_key(OPENAI, REQ)}
    for change in ({"url": "http://127.0.0.1:9999/v1/chat/completions"}, {"kind": "openai-compatible"},
                   {"model": "gpt-4.1-mini"}, {"params": {"temperature": 0.2, "top_p": 0.3}}):
        keys.add(cache_key({**OPENAI, **change}, REQ))
    assert len(keys) == 5
    # REQ sets temperature itself: the model's own value never reaches it, so it does not key the answer.
    assert cache_key({**OPENAI, "params": {"temperature": 0.9}}, REQ) == cache_key(OPENAI, REQ)


def test_producer_model_is_provider_model_host_params_never_credentials() -> None:
    who = producer({**OPENAI, "url": "https://user:pw@Models.Example.com:8443/v1/chat/completions"})
    assert who == {"provider": "openai", "model": "gpt-4.1", "host": "models.example.com:8443",
                   "params": {"temperature": 0.2}}
    assert url_host("not a url") is None and url_host(None) is None


def test_producer_fallback_is_the_link_that_answered() -> None:
    chain = {"kind": "fallback", "chain": [dict(OPENAI, name="primary"), dict(OPENAI, model="gpt-4.1-mini", name="backup")]}
    assert producer(chain, "backup")["model"] == "gpt-4.1-mini" and producer(chain)["model"] == "gpt-4.1"
    assert [p["model"] for p in producers(chain)] == ["gpt-4.1", "gpt-4.1-mini"]
    assert producer({"kind": "command", "argv": ["python", "app.py"]}) == {"provider": "command",
                                                                          "argv": ["python", "app.py"]}


def test_describe_model_alone_unless_only_the_settings_differ() -> None:
    a, b = producer(OPENAI), producer({**OPENAI, "model": "gpt-4o"})
    assert (describe(a, b), describe(b, a)) == ("gpt-4.1", "gpt-4o")
    c = producer({**OPENAI, "url": "http://localhost:8000/v1"})
    assert describe(a, c) == "gpt-4.1 (host api.openai.com)" and describe(c, a) == "gpt-4.1 (host localhost:8000)"
    assert describe({"model": "gpt-4.1"}, a) == "gpt-4.1 (provider unknown, host unknown, params unknown)"
    assert describe({"model": "x" * 500}) == "x" * 79 + "…"


def test_answered_for_params_the_request_overrides_compare_as_sent() -> None:
    model = {"provider": "openai", "model": "m", "host": "h", "params": {"temperature": 0.2, "maxTokens": 10}}
    links = [("primary", {**model, "params": {"temperature": 0.9, "max_tokens": 10}})]
    # The request sets temperature itself: the model is called with 0.5 either way.
    assert answered_for(model, "primary", links, {"temperature": 0.5})
    assert not answered_for(model, "primary", links, {})
    assert not answered_for(model, "primary", links, {"max_tokens": 5})
    # Written as sent (the recorder's form) or as models.yaml holds it: the same producer.
    assert answered_for(as_sent(model, {"temperature": 0.5}), "primary", links, {"temperature": 0.5})
    assert as_sent({"model": "hand-made"}, {"temperature": 1}) == {"model": "hand-made"}
