"""The price of one answer: models.yaml `pricing:` first, else genai-prices' bundled table."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from gate.models import ModelConfig
from gate.providers.base import Usage

# models.yaml provider -> genai-prices provider id. None: let genai-prices find the model by its name.
_PROVIDER_IDS: Mapping[str, str | None] = {
    "openai": "openai", "azure-openai": "azure", "anthropic": "anthropic",
    "litellm": None, "openai-compatible": None,
}
_SELF_HOSTED = frozenset({"vllm", "ollama"})


@dataclass(frozen=True)
class CasePrice:
    usd: float | None
    source: str  # where the price came from: "models.yaml pricing" or "genai-prices openai/gpt-4o-mini"
    reason: str | None = None  # why there is no price, when usd is None


def price_usage(usage: Usage, model: ModelConfig) -> CasePrice:
    """USD for one call's tokens. None with a reason when the tokens or the price are unknown.
    `input_tokens` counts every input token; `cached_input_tokens` the part read from a prompt cache."""
    if usage.input_tokens is None and usage.output_tokens is None:
        return CasePrice(None, "", "the answer reported no token usage")
    inp, out, cached = usage.input_tokens or 0, usage.output_tokens or 0, min(usage.cached_input_tokens or 0,
                                                                           usage.input_tokens or 0)
    table = model.raw.get("pricing")
    if isinstance(table, Mapping) and "input_per_mtok" in table and "output_per_mtok" in table:
        rate_in = float(table["input_per_mtok"])
        rate_cached = float(table.get("cached_input_per_mtok", rate_in))
        usd = ((inp - cached) * rate_in + cached * rate_cached + out * float(table["output_per_mtok"])) / 1e6
        return CasePrice(usd, "models.yaml pricing")
    provider_id, model_ref = _price_ref(model)
    if model_ref is None:
        return CasePrice(None, "", f"{model.name}: a self-hosted {model.provider} model has no list price; "
                         "set pricing: in models.yaml")
    listed = _lookup(provider_id, model_ref, inp, cached, out)
    if listed is None:
        shown = f"{provider_id}/{model_ref}" if provider_id else model_ref
        return CasePrice(None, "", f"{model.name}: genai-prices has no price for {shown}; set pricing: or "
                         "price_ref: in models.yaml")
    return CasePrice(listed, f"genai-prices {provider_id + '/' if provider_id else ''}{model_ref}")


def listed_model(model_id: str) -> ModelConfig:
    """A model known only by the id an answer carries (a cassette recorded under another models.yaml), to be
    priced by genai-prices under that id; a "publisher/model" id (GitHub Models) as the publisher's."""
    return ModelConfig(name=model_id, provider="github-models" if "/" in model_id else "openai-compatible",
                       model=model_id)


def _price_ref(model: ModelConfig) -> tuple[str | None, str | None]:
    ref = model.raw.get("price_ref")
    if isinstance(ref, Mapping) and (ref.get("provider") or ref.get("model")):
        provider = ref.get("provider")
        return (str(provider) if provider else None), str(ref.get("model") or model.model)
    if model.provider in _SELF_HOSTED:
        return None, None
    if model.provider == "github-models":
        # GitHub Models ids are "publisher/model": priced as the publisher's own model.
        publisher, _, name = model.model.partition("/")
        return (publisher or None, name) if name else (None, model.model)
    return _PROVIDER_IDS.get(model.provider), model.model


@lru_cache(maxsize=4096)
def _lookup(provider_id: str | None, model_ref: str, inp: int, cached: int, out: int) -> float | None:
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    counts: dict[str, Any] = {"input_tokens": inp, "output_tokens": out}
    if cached:
        counts["cache_read_tokens"] = cached
    try:
        price = calc_price(PriceUsage(**counts), model_ref=model_ref, provider_id=provider_id)
    except LookupError:
        return None
    return float(price.total_price)
