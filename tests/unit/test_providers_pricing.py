"""The price of one answer: models.yaml overrides first, genai-prices otherwise, None with a reason."""

from __future__ import annotations

from typing import Any

import pytest

from gate.models import ModelConfig
from gate.providers.base import Usage
from gate.providers.pricing import price_usage


def model(provider: str, name: str, **raw: Any) -> ModelConfig:
    return ModelConfig(name="m", provider=provider, model=name, raw={"provider": provider, "model": name, **raw})


def test_price_usage_models_yaml_pricing_wins() -> None:
    m = model("openai", "gpt-4o-mini", pricing={"input_per_mtok": 1.0, "output_per_mtok": 4.0, "cached_input_per_mtok": 0.5})
    price = price_usage(Usage(input_tokens=1_000_000, output_tokens=500_000, cached_input_tokens=200_000), m)
    assert price.usd == pytest.approx(0.8 + 0.1 + 2.0) and price.source == "models.yaml pricing"


def test_price_usage_genai_prices_openai_model() -> None:
    price = price_usage(Usage(input_tokens=1000, output_tokens=500), model("openai", "gpt-4o-mini"))
    # gpt-4o-mini lists $0.15 in / $0.60 out per million tokens in genai-prices' bundled table.
    assert price.usd == pytest.approx(0.00045) and price.source == "genai-prices openai/gpt-4o-mini"


def test_price_usage_github_models_priced_as_publisher() -> None:
    price = price_usage(Usage(input_tokens=1000, output_tokens=500), model("github-models", "openai/gpt-4o-mini"))
    assert price.usd == pytest.approx(0.00045) and price.source == "genai-prices openai/gpt-4o-mini"


def test_price_usage_self_hosted_and_unknown_none_with_reason() -> None:
    local = price_usage(Usage(input_tokens=10, output_tokens=10), model("vllm", "llama-3-8b"))
    assert local.usd is None and "self-hosted vllm" in (local.reason or "")
    unknown = price_usage(Usage(input_tokens=10, output_tokens=10), model("openai", "no-such-model-2099"))
    assert unknown.usd is None and "no price for openai/no-such-model-2099" in (unknown.reason or "")
    no_usage = price_usage(Usage(), model("openai", "gpt-4o-mini"))
    assert no_usage.usd is None and no_usage.reason == "the answer reported no token usage"


def test_price_usage_price_ref_redirects_lookup() -> None:
    m = model("vllm", "my-finetune", price_ref={"provider": "openai", "model": "gpt-4o-mini"})
    price = price_usage(Usage(input_tokens=1000, output_tokens=500), m)
    assert price.usd == pytest.approx(0.00045) and price.source == "genai-prices openai/gpt-4o-mini"
