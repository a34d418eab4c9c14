"""A provider's error from a server that echoes the key it was sent: redacted before the message is capped."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from gate.models import ModelConfig
from gate.providers.base import ChatMessage, ProviderError, Request
from gate.providers.openai import OpenAIProvider

ASK = Request(messages=(ChatMessage("user", "hi"),), case_id="c1")


@contextmanager
def echoing_401(padding: int) -> Iterator[str]:
    """Answers 401 with a message that repeats the bearer token `padding` characters in."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = self.headers.get("Authorization", "").removeprefix("Bearer ")
            data = json.dumps({"error": {"message": "x" * padding + " Incorrect API key provided: " + key}}).encode()
            self.send_response(401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.parametrize(("key", "env_name"), [
    ("sk-proj-" + "Q7w8E9r0" * 3, "UPSTREAM_KEY"),  # a known shape, in a variable named like a secret
    ("Zq81-uT5v-Lm30-Pe77-Xa4k", "LLM_UPSTREAM"),  # no shape, in a variable only models.yaml names
])
def test_provider_401_echoing_key_cut_at_cap_leaves_no_part(key: str, env_name: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(env_name, key)
    # The 200-character cap falls 17 characters into the key.
    padding = 200 - len(" Incorrect API key provided: ") - 17
    with echoing_401(padding) as url:
        cfg = ModelConfig(name="m", provider="openai-compatible", model="x", base_url=url, api_key_env=env_name)
        provider = OpenAIProvider(cfg, {env_name: key})
        with pytest.raises(ProviderError) as info:
            provider.complete(ASK)
    message = info.value.message
    assert info.value.status == 401 and "Incorrect API key provided:" in message
    assert not any(key[i:i + 6] in message for i in range(len(key) - 5)), message
