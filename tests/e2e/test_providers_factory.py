"""Target specs built into providers: models.yaml names with fallback chains, app targets, replay, errors."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from servers.openai_fake import Behaviour, Fault, serve

from gate.models import ModelsFile, load_models
from gate.providers.base import Category, ChatMessage, ProviderError, Request, Response
from gate.providers.cassette import ReplayProvider
from gate.providers.command import CommandProvider
from gate.providers.executor import run_all
from gate.providers.factory import TargetUnavailable, build_provider
from gate.providers.fallback import FallbackProvider
from gate.providers.limits import Backoff
from gate.providers.openai import OpenAIProvider
from gate.providers.spec import TargetError

ASK = [Request(messages=(ChatMessage("user", "hello"),), case_id="c1")]
FAST = Backoff(base_s=0.01, cap_s=0.02)


def models_file(tmp_path: Path, primary_url: str, backup_url: str) -> ModelsFile:
    path = tmp_path / "models.yaml"
    path.write_text(textwrap.dedent(f"""
        version: 1
        default: primary
        models:
          primary:
            provider: openai-compatible
            model: small
            base_url: {primary_url}/v1
            params: {{temperature: 0.2}}
            timeout: 5
            fallback: [backup]
          backup:
            provider: openai-compatible
            model: large
            base_url: {backup_url}/v1
            api_key_env: BACKUP_KEY
          keyless:
            provider: openai
            model: gpt-4o-mini
    """), encoding="utf-8")
    models = load_models(path, "models.yaml")
    assert models.problems == ()
    return models


def test_build_model_chain_falls_back_after_retries_and_says_who_answered(tmp_path: Path) -> None:
    with serve(Behaviour(error_every=1, error_status=503)) as bad, serve() as good:
        models = models_file(tmp_path, bad.url, good.url)
        provider = build_provider({"model": "primary"}, models, tmp_path, {"BACKUP_KEY": "b"})
        assert isinstance(provider, FallbackProvider)
        [r] = run_all(provider, ASK, retries=2, backoff=FAST)
        assert isinstance(r, Response) and (r.answered_by, r.attempts, r.model) == ("backup", 4, "large")
        assert len(bad.requests) == 3 and len(good.requests) == 1
        assert bad.requests[0]["body"]["temperature"] == 0.2 and "temperature" not in good.requests[0]["body"]


def test_build_model_chain_client_error_falls_back_at_once(tmp_path: Path) -> None:
    with serve(Behaviour(faults=[Fault("status", status=400)])) as bad, serve() as good:
        provider = build_provider({"model": "primary"}, models_file(tmp_path, bad.url, good.url), tmp_path,
                                  {"BACKUP_KEY": "b"})
        [r] = run_all(provider, ASK, retries=3, backoff=FAST)
        assert isinstance(r, Response) and r.answered_by == "backup" and len(bad.requests) == 1


def test_build_model_chain_all_failing_names_every_model(tmp_path: Path) -> None:
    with serve(Behaviour(error_every=1, error_status=500)) as bad:
        provider = build_provider({"model": "primary"}, models_file(tmp_path, bad.url, bad.url), tmp_path,
                                  {"BACKUP_KEY": "b"})
        [e] = run_all(provider, ASK, retries=1, backoff=FAST)
    assert isinstance(e, ProviderError) and e.category is Category.SERVER_ERROR and e.model == "backup"
    assert e.message.endswith("(every model failed: primary: transport.server_error, backup: transport.server_error)")
    assert e.attempts == 4 and not e.retryable


def test_build_model_without_fallback_plain_provider_with_spec_timeout(tmp_path: Path) -> None:
    models = models_file(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9")
    provider = build_provider({"model": "backup", "timeout": 2.5}, models, tmp_path, {"BACKUP_KEY": "b"})
    assert isinstance(provider, OpenAIProvider) and provider.timeout == 2.5
    assert provider.identity() == {"kind": "openai-compatible", "url": "http://127.0.0.1:9/v1/chat/completions",
                                   "model": "large", "api_version": None, "params": {}}


def test_build_model_no_key_anywhere_target_unavailable(tmp_path: Path) -> None:
    models = models_file(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9")
    with pytest.raises(TargetUnavailable, match="environment variable OPENAI_API_KEY is not set"):
        build_provider({"model": "keyless"}, models, tmp_path, {})


def test_build_publisher_model_id_means_github_models(tmp_path: Path) -> None:
    provider = build_provider({"model": "openai/gpt-4o-mini"}, None, tmp_path, {"GITHUB_TOKEN": "ghs_x"})
    assert provider.identity()["url"] == "https://models.github.ai/inference/chat/completions"
    assert provider.identity()["model"] == "openai/gpt-4o-mini"


@pytest.mark.parametrize("model_id", ["azureml/openai/gpt-4o", "openai/o1-mini:2024"])
def test_build_provider_publisher_model_id_is_a_github_models_target(tmp_path: Path, model_id: str) -> None:
    # The schema check accepts these in a prompt file (as `gh models run` does); the target must too.
    provider = build_provider({"model": model_id}, None, tmp_path, {"GITHUB_TOKEN": "ghs_x"})
    assert provider.identity()["model"] == model_id


@pytest.mark.parametrize("model_id", ["a/b/c/d", "openai//gpt-4o", "/gpt-4o"])
def test_build_provider_malformed_model_id_target_error(tmp_path: Path, model_id: str) -> None:
    with pytest.raises(TargetError, match="no model named"):
        build_provider({"model": model_id}, None, tmp_path, {"GITHUB_TOKEN": "ghs_x"})


@pytest.mark.parametrize(("spec", "message"), [
    ({"model": "nosuch"}, "model: no model named 'nosuch' in models.yaml"),
    ({}, "a target needs exactly one of model, http, command, python, replay"),
    ({"model": "primary", "command": "x"}, "a target needs exactly one of model, http, command, python, replay, "
                                           "not model and command"),
    ({"modle": "primary"}, "target: unknown key 'modle'"),
    ({"model": "primary", "timeout": -1}, "target: timeout must be a number of seconds above 0"),
    ({"command": 3}, "command must be a string or a list of strings"),
    ({"replay": ""}, "replay must be the path of a cassette file"),
])
def test_build_bad_spec_target_error(tmp_path: Path, spec: dict[str, object], message: str) -> None:
    models = models_file(tmp_path, "http://127.0.0.1:9", "http://127.0.0.1:9")
    with pytest.raises(TargetError) as info:
        build_provider(spec, models, tmp_path, {})
    assert str(info.value).startswith(message)


def test_build_app_and_replay_targets_relative_to_gate_folder(tmp_path: Path) -> None:
    (tmp_path / "cassettes").mkdir()
    (tmp_path / "cassettes" / "a.jsonl").write_text("", encoding="utf-8")
    replay = build_provider({"replay": "cassettes/a.jsonl"}, None, tmp_path, {})
    assert isinstance(replay, ReplayProvider) and replay.identity() == {"kind": "replay", "cassette": "cassettes/a.jsonl"}
    command = build_provider({"command": "python app.py", "timeout": 9}, None, tmp_path, {})
    assert isinstance(command, CommandProvider) and (command.argv, command.root, command.timeout) == (
        ["python", "app.py"], tmp_path, 9.0)
