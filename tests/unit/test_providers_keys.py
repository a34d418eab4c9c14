"""Request keys: canonical, stable across runs and machines, blind to what does not shape the answer."""

from __future__ import annotations

import subprocess
import sys

from gate.providers.base import ChatMessage, Request
from gate.providers.keys import cache_key, canonical, request_key

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
