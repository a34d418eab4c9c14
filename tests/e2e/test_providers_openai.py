"""OpenAI-compatible and Anthropic providers against a real server on loopback: answers, auth, faults."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from servers.openai_fake import Behaviour, FakeOpenAI, Fault, serve

from gate.models import ModelConfig
from gate.providers.anthropic import AnthropicProvider
from gate.providers.base import Category, ChatMessage, ProviderError, Request
from gate.providers.openai import OpenAIProvider

ASK = Request(messages=(ChatMessage("system", "Be brief."), ChatMessage("user", "where is my parcel")), case_id="c1")


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with serve() as srv:
        yield srv


def config(url: str, provider: str = "openai-compatible", **kw: Any) -> ModelConfig:
    return ModelConfig(name="primary", provider=provider, model="fake-model", base_url=url, **kw)


def test_openai_answer_usage_and_body_sent(server: FakeOpenAI) -> None:
    p = OpenAIProvider(config(server.url + "/v1", params={"temperature": 0.2, "max_tokens": 50}), {})
    r = p.complete(Request(messages=ASK.messages, params={"maxTokens": 20, "topP": 0.9}))
    assert (r.content, r.finish_reason, r.answered_by, r.model) == ("You said: where is my parcel", "stop", "primary",
                                                                     "fake-model")
    assert (r.usage.input_tokens, r.usage.output_tokens) == (6, 6) and r.latency_s > 0
    sent = server.requests[-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"] == {"model": "fake-model", "temperature": 0.2, "max_tokens": 20, "top_p": 0.9,
                            "messages": [{"role": "system", "content": "Be brief."},
                                         {"role": "user", "content": "where is my parcel"}]}


def test_openai_key_and_headers_from_env_never_in_identity(server: FakeOpenAI) -> None:
    cfg = config(server.url + "/v1", provider="openai", api_key_env="MY_KEY", headers_env={"X-Team": "TEAM_ID"})
    p = OpenAIProvider(cfg, {"MY_KEY": "sk-test-123", "TEAM_ID": "support"})
    p.complete(ASK)
    headers = server.requests[-1]["headers"]
    assert headers["Authorization"] == "Bearer sk-test-123" and headers["X-Team"] == "support"
    assert "sk-test-123" not in repr(p.identity())


def test_openai_missing_key_client_error_names_variable(server: FakeOpenAI) -> None:
    p = OpenAIProvider(config(server.url + "/v1", provider="github-models"), {})
    with pytest.raises(ProviderError) as info:
        p.complete(ASK)
    assert info.value.category is Category.CLIENT_ERROR and not info.value.retryable
    assert info.value.message == "environment variable GITHUB_TOKEN is not set (models.yaml: primary)"
    assert server.requests == []


def test_openai_azure_deployment_url_api_version_and_api_key(server: FakeOpenAI) -> None:
    cfg = config(server.url + "/openai/deployments/gpt4o", provider="azure-openai", api_key_env="AZ",
                 api_version="2024-06-01")
    r = OpenAIProvider(cfg, {"AZ": "az-secret"}).complete(ASK)
    sent = server.requests[-1]
    assert r.content == "You said: where is my parcel"
    assert sent["path"] == "/openai/deployments/gpt4o/chat/completions?api-version=2024-06-01"
    assert sent["headers"]["api-key"] == "az-secret" and "Authorization" not in sent["headers"]


def test_openai_azure_resource_url_gets_deployment_from_model(server: FakeOpenAI) -> None:
    cfg = config(server.url, provider="azure-openai", api_key_env="AZ")
    OpenAIProvider(cfg, {"AZ": "k"}).complete(ASK)
    assert server.requests[-1]["path"] == "/openai/deployments/fake-model/chat/completions?api-version=2024-10-21"


def test_openai_stream_content_usage_and_ttft() -> None:
    with serve(Behaviour(ttft_s=0.2, token_interval_s=0.01)) as srv:
        p = OpenAIProvider(config(srv.url + "/v1", params={"stream": True}), {})
        r = p.complete(ASK)
        assert r.content == "You said: where is my parcel" and r.finish_reason == "stop"
        assert r.usage.output_tokens == 6 and r.ttft_s is not None and 0.19 <= r.ttft_s < 0.35
        assert srv.requests[-1]["body"]["stream_options"] == {"include_usage": True}


def test_openai_stream_cut_short_output_truncated() -> None:
    with serve(Behaviour(faults=[Fault("truncate")])) as srv:
        p = OpenAIProvider(config(srv.url + "/v1", params={"stream": True}), {})
        with pytest.raises(ProviderError) as info:
            p.complete(ASK)
    assert info.value.category is Category.TRUNCATED and "ended before it finished" in info.value.message


def test_openai_max_tokens_reached_finish_reason_length() -> None:
    with serve(Behaviour(honour_max_tokens=True)) as srv:
        r = OpenAIProvider(config(srv.url + "/v1"), {}).complete(Request(messages=ASK.messages, params={"max_tokens": 2}))
    assert (r.content, r.finish_reason) == ("You said:", "length")


@pytest.mark.parametrize(("fault", "category", "retryable"), [
    (Fault("status", status=429, headers={"Retry-After": "2"}), Category.RATE_LIMITED, True),
    (Fault("status", status=500), Category.SERVER_ERROR, True),
    (Fault("status", status=400), Category.CLIENT_ERROR, False),
    (Fault("malformed"), Category.SERVER_ERROR, True),
    (Fault("close"), Category.CONNECTION, True),
])
def test_openai_fault_maps_to_category(fault: Fault, category: Category, retryable: bool) -> None:
    with serve(Behaviour(faults=[fault])) as srv:
        with pytest.raises(ProviderError) as info:
            OpenAIProvider(config(srv.url + "/v1"), {}).complete(ASK)
    assert (info.value.category, info.value.retryable) == (category, retryable)
    if fault.status == 429:
        assert info.value.retry_after_s == 2.0 and info.value.message.startswith("HTTP 429 from")


def test_openai_hang_transport_timeout_within_limit() -> None:
    with serve(Behaviour(faults=[Fault("hang", seconds=5)])) as srv:
        started = time.monotonic()
        with pytest.raises(ProviderError) as info:
            OpenAIProvider(config(srv.url + "/v1", timeout=0.5), {}).complete(ASK)
    assert info.value.category is Category.TIMEOUT and time.monotonic() - started < 2.0


def test_openai_nothing_listening_transport_connection() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    with pytest.raises(ProviderError) as info:
        OpenAIProvider(config(f"http://127.0.0.1:{port}/v1"), {}).complete(ASK)
    assert info.value.category is Category.CONNECTION and "connection refused" in info.value.message


def test_anthropic_system_apart_max_tokens_default_usage(server: FakeOpenAI) -> None:
    cfg = config(server.url, provider="anthropic", api_key_env="ANTHROPIC_API_KEY", params={"temperature": 0,
                                                                                              "response_format": "x"})
    r = AnthropicProvider(cfg, {"ANTHROPIC_API_KEY": "ak"}).complete(ASK)
    sent = server.requests[-1]
    assert sent["path"] == "/v1/messages" and sent["headers"]["x-api-key"] == "ak"
    assert sent["headers"]["anthropic-version"] == "2023-06-01"
    assert sent["body"] == {"model": "fake-model", "max_tokens": 1024, "temperature": 0, "system": "Be brief.",
                            "messages": [{"role": "user", "content": "where is my parcel"}]}
    assert (r.content, r.finish_reason, r.usage.input_tokens, r.usage.output_tokens) == (
        "You said: where is my parcel", "stop", 6, 6)


def test_anthropic_max_tokens_stop_reason_read_as_length() -> None:
    with serve(Behaviour(honour_max_tokens=True)) as srv:
        cfg = config(srv.url + "/v1", provider="anthropic", api_key_env="K")
        r = AnthropicProvider(cfg, {"K": "x"}).complete(Request(messages=ASK.messages, params={"maxTokens": 3}))
    assert (r.content, r.finish_reason) == ("You said: where", "length")


def test_anthropic_overloaded_529_server_error_retryable() -> None:
    with serve(Behaviour(faults=[Fault("status", status=529)])) as srv:
        with pytest.raises(ProviderError) as info:
            AnthropicProvider(config(srv.url, provider="anthropic", api_key_env="K"), {"K": "x"}).complete(ASK)
    assert (info.value.category, info.value.retryable, info.value.status) == (Category.SERVER_ERROR, True, 529)


@pytest.mark.parametrize(("provider", "header"), [("anthropic", "x-api-key"), ("azure-openai", "api-key"),
                                                  ("openai", "X-Team")])
def test_redirect_to_other_host_not_followed_no_credential_leaves(provider: str, header: str) -> None:
    with serve() as other:
        port = other.url.rsplit(":", 1)[1]
        # localhost is another host than 127.0.0.1 to requests, which would strip only Authorization.
        moved = Fault("status", status=307, headers={"Location": f"http://localhost:{port}/v1/messages"}, times=5)
        with serve(Behaviour(faults=[moved])) as first:
            cfg = config(first.url + "/v1", provider=provider, api_key_env="KEY", headers_env={"X-Team": "TEAM"})
            cls = AnthropicProvider if provider == "anthropic" else OpenAIProvider
            p = cls(cfg, {"KEY": "sk-secret-1", "TEAM": "team-secret-2"})
            with pytest.raises(ProviderError) as info:
                p.complete(ASK)
            assert header in first.requests[0]["headers"]
    assert other.requests == []
    assert info.value.category is Category.CLIENT_ERROR and not info.value.retryable
    assert f"HTTP 307 from {first.url}/v1" in info.value.message and f"(http://localhost:{port})" in info.value.message


def test_redirect_same_origin_followed_with_key(server: FakeOpenAI) -> None:
    server.behaviour.faults.append(Fault("status", status=307, headers={"Location": "/v1/messages"}))
    p = AnthropicProvider(config(server.url + "/old", provider="anthropic", api_key_env="KEY"), {"KEY": "sk-1"})
    assert p.complete(ASK).content == "You said: where is my parcel"
    assert [r["path"] for r in server.requests] == ["/old/v1/messages", "/v1/messages"]
    assert server.requests[1]["headers"]["x-api-key"] == "sk-1"


def test_openai_proxy_from_environment_used_and_no_proxy_honoured(server: FakeOpenAI,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # The transport reads the environment once per origin (not per request): both still take effect.
    monkeypatch.setenv("HTTP_PROXY", server.url)
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.setenv("NO_PROXY", "bypassed.invalid")
    monkeypatch.delenv("no_proxy", raising=False)
    p = OpenAIProvider(config("http://proxied.invalid/v1"), {})
    assert [p.complete(ASK).content for _ in range(2)] == ["You said: where is my parcel"] * 2
    # The proxy (the fake server) got both requests, addressed to the model's host.
    assert [r["path"] for r in server.requests[-2:]] == ["http://proxied.invalid/v1/chat/completions"] * 2
    with pytest.raises(ProviderError) as info:
        OpenAIProvider(config("http://bypassed.invalid/v1"), {}).complete(ASK)
    assert info.value.category is Category.CONNECTION and len(server.requests) == 2


def test_openai_netrc_entry_for_host_key_sent_not_netrc_login(server: FakeOpenAI, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # requests would put a ~/.netrc login for the host in place of the key's Authorization header: the wrong
    # credential for the API, and a planted base_url could collect the machine's logins.
    (tmp_path / "netrc").write_text("machine 127.0.0.1 login deploy password hunter2\n", encoding="utf-8")
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    OpenAIProvider(config(server.url + "/v1", api_key_env="K"), {"K": "sk-test"}).complete(ASK)
    assert server.requests[-1]["headers"]["Authorization"] == "Bearer sk-test"
