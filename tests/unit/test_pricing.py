"""The price of one answer by the one price rule, and the monthly cost's rates agreeing with it."""

from __future__ import annotations

from typing import Any

import pytest

from gate.models import ModelConfig
from gate.pricing import price_of, price_usage
from gate.providers.base import Usage


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
    assert local.usd is None and (local.reason or "").startswith("m: a self-hosted (vllm) model has no list price")
    unknown = price_usage(Usage(input_tokens=10, output_tokens=10), model("openai", "no-such-model-2099"))
    assert unknown.usd is None and "no price for 'no-such-model-2099' (openai)" in (unknown.reason or "")
    no_usage = price_usage(Usage(), model("openai", "gpt-4o-mini"))
    assert no_usage.usd is None and no_usage.reason == "the answer reported no token usage"


def test_price_usage_price_ref_redirects_lookup() -> None:
    m = model("vllm", "my-finetune", price_ref={"provider": "openai", "model": "gpt-4o-mini"})
    price = price_usage(Usage(input_tokens=1000, output_tokens=500), m)
    assert price.usd == pytest.approx(0.00045) and price.source == "genai-prices openai/gpt-4o-mini"


# Models the regression check's per-case cost and the cost check's monthly cost once priced by different rules:
# GitHub publishers that are not genai-prices' provider ids, GPU hours, a price_ref naming only the provider.
AGREE = [
    model("github-models", "mistral-ai/mistral-large-2411"),
    model("github-models", "xai/grok-3"),
    model("github-models", "azure-openai/gpt-4o-mini"),
    model("github-models", "deepseek/deepseek-r1"),
    model("vllm", "llama-3-8b", gpu_hour_usd=7.2, throughput_tokens_per_s=2000),
    model("openai-compatible", "llama-3-8b", gpu_hour_usd=3.6, throughput_tokens_per_s=1000),
    model("openai-compatible", "gpt-4o-mini", price_ref={"provider": "openai"}),
    model("anthropic", "claude-sonnet-4-5", pricing={"input_per_mtok": 3, "output_per_mtok": 15}),
]


@pytest.mark.parametrize("m", AGREE, ids=lambda m: f"{m.provider}:{m.model}:{sorted(m.raw)[-1]}")
def test_price_usage_equals_the_monthly_cost_rates_for_the_same_model(m: ModelConfig) -> None:
    usage = Usage(input_tokens=1200, output_tokens=300, cached_input_tokens=200)
    case = price_usage(usage, m)
    sheet = price_of(m).standard  # what the cost check multiplies its traffic by
    monthly_rule = (1000 * sheet.input.base + 200 * sheet.cached_input.base + 300 * sheet.output.base) / 1e6
    assert case.reason is None and case.usd == pytest.approx(monthly_rule) and case.usd > 0
    assert case.source == price_of(m).source


def test_price_usage_gpu_hours_priced_per_token() -> None:
    m = model("vllm", "llama-3-8b", gpu_hour_usd=7.2, throughput_tokens_per_s=2000)  # $1 per million tokens
    price = price_usage(Usage(input_tokens=600_000, output_tokens=400_000), m)
    assert price.usd == pytest.approx(1.0) and price.source == "GPU $7.2/h at 2,000 tok/s"


def test_price_usage_github_publisher_mapped_to_its_price_provider() -> None:
    price = price_usage(Usage(input_tokens=1000, output_tokens=500), model("github-models", "mistral-ai/mistral-large-2411"))
    assert price.usd is not None and price.source.startswith("genai-prices mistral/")
