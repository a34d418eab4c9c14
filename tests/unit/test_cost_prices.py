"""Prices: GitHub Models through the publisher's price, overrides, GPU hours, unknown models, tiers."""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pytest
from genai_prices import Usage, calc_price

from gate.models import ModelConfig
from gate.pricing import PriceError, Rate, _newest_price_date, lookup_key, price_data_label, price_of


def model(provider: str, model_id: str, **raw: Any) -> ModelConfig:
    return ModelConfig("m", provider, model_id, raw=raw)


def per_mtok(model_ref: str, provider: str, **usage: int) -> float:
    return float(calc_price(Usage(**usage), model_ref, provider_id=provider).total_price)


def test_prices_github_models_id_is_priced_as_its_publisher() -> None:
    sheet = price_of(model("github-models", "openai/gpt-4o-mini"))
    assert sheet.source == "genai-prices openai/gpt-4o-mini"
    assert sheet.standard.input.base == pytest.approx(per_mtok("gpt-4o-mini", "openai", input_tokens=1_000_000))
    assert sheet.standard.output.base == pytest.approx(per_mtok("gpt-4o-mini", "openai", output_tokens=1_000_000))
    assert sheet.standard.cached_input.base == pytest.approx(
        per_mtok("gpt-4o-mini", "openai", input_tokens=1_000_000, cache_read_tokens=1_000_000))
    assert sheet.batch is not None and sheet.batch.output.base < sheet.standard.output.base


@pytest.mark.parametrize(("provider", "model_id", "key"), [
    ("github-models", "openai/gpt-4.1", ("openai", "gpt-4.1")),
    ("github-models", "mistral-ai/mistral-small-2503", ("mistral", "mistral-small-2503")),
    ("github-models", "xai/grok-3", ("x-ai", "grok-3")),
    ("github-models", "gpt-4o", (None, "gpt-4o")),
    ("azure-openai", "gpt-4o", ("azure", "gpt-4o")),
    ("openai-compatible", "gpt-4o", (None, "gpt-4o")),
])
def test_prices_lookup_key_maps_providers(provider: str, model_id: str, key: tuple[str | None, str]) -> None:
    assert lookup_key(provider, model_id) == key


def test_prices_price_ref_overrides_the_model_id() -> None:
    sheet = price_of(model("openai-compatible", "my-proxy-alias", price_ref={"provider": "openai", "model": "gpt-4o"}))
    assert sheet.source == "genai-prices openai/gpt-4o"


def test_prices_unknown_model_names_close_matches_never_zero() -> None:
    with pytest.raises(PriceError) as exc:
        price_of(model("openai", "gpt-4o-mimi"))
    message = str(exc.value)
    assert message.startswith("no price for 'gpt-4o-mimi' (openai) in genai-prices ")
    assert "did you mean 'gpt-4o-mini'" in message and "set price_ref" in message


def test_prices_unknown_provider_in_price_ref_names_close_ones() -> None:
    with pytest.raises(PriceError, match=r"no provider 'opnai' \(did you mean 'openai'"):
        price_of(model("openai-compatible", "x", price_ref={"provider": "opnai", "model": "gpt-4o"}))


def test_prices_self_hosted_needs_gpu_or_pricing() -> None:
    with pytest.raises(PriceError, match="self-hosted .vllm. model has no list price"):
        price_of(model("vllm", "llama"))
    with pytest.raises(PriceError, match="gpu_hour_usd needs throughput_tokens_per_s"):
        price_of(model("vllm", "llama", gpu_hour_usd=2.0))
    sheet = price_of(model("vllm", "llama", gpu_hour_usd=7.2, throughput_tokens_per_s=2000))
    assert sheet.standard.input.base == sheet.standard.output.base == pytest.approx(1.0)
    assert sheet.batch is None and "GPU $7.2/h" in sheet.source


def test_prices_pricing_override_wins_and_cached_defaults_to_input() -> None:
    sheet = price_of(model("openai", "gpt-4o", pricing={"input_per_mtok": 1.5, "output_per_mtok": 6}))
    assert (sheet.standard.input.base, sheet.standard.cached_input.base, sheet.standard.output.base) == (1.5, 1.5, 6)
    assert sheet.source == "models.yaml pricing" and sheet.batch is None


def test_prices_tiered_rate_switches_above_threshold() -> None:
    sheet = price_of(model("anthropic", "claude-sonnet-4-5"))
    rate = sheet.standard.input
    assert rate.tiers, "claude-sonnet-4-5 has long-context tiers in the price data"
    start, tier_price = rate.tiers[0]
    prices = rate.at(np.array([start, start + 1]))
    assert list(prices) == [rate.base, tier_price]
    assert Rate(2.0).at(np.array([1, 10**9])) == 2.0


def test_prices_data_label_names_package_and_date() -> None:
    label = price_data_label()
    assert label.startswith("genai-prices ") and "bundled snapshot" in label
    newest = _newest_price_date()
    assert newest is not None and newest.isoformat() in label
    # Prices that only start in the future do not make the data look fresher than it is.
    assert _newest_price_date(date(2000, 1, 1)) is None
