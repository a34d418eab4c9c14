"""Cost of one answer from genai-prices' bundled table (offline), for the `max_cost_usd` metric."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from gate.providers.base import ProviderError, Response

from .regression_config import MetricSpec


@cache
def _price(model: str, input_tokens: int, output_tokens: int) -> float | None:
    from genai_prices import Usage, calc_price

    # "openai/gpt-4o" (GitHub Models ids) is priced as the provider's own model.
    candidates: list[tuple[str, str | None]] = [(model, None)]
    if "/" in model:
        provider, name = model.split("/", 1)
        candidates += [(name, provider), (name, None)]
    for ref, provider_id in candidates:
        try:
            result: Any = calc_price(Usage(input_tokens=input_tokens, output_tokens=output_tokens), model_ref=ref,
                                     provider_id=provider_id)
        except (LookupError, ValueError):
            continue
        return float(result.total_price)
    return None


def case_cost(result: Response | ProviderError, metrics: Sequence[MetricSpec]) -> float | None:
    """USD for this answer when a suite budgets cost and the model is priced; None otherwise."""
    if isinstance(result, ProviderError) or not any(m.kind == "max_cost_usd" for m in metrics):
        return None
    model = result.model
    if not model or result.usage.input_tokens is None or result.usage.output_tokens is None:
        return None
    return _price(model, result.usage.input_tokens, result.usage.output_tokens)
