"""Cost of one answer, for the `max_cost_usd` metric: priced as the models.yaml model that answered."""

from __future__ import annotations

from collections.abc import Sequence

from gate.models import ModelsFile
from gate.pricing import listed_model, price_usage
from gate.providers.base import ProviderError, Response

from .config import MetricSpec


def case_cost(result: Response | ProviderError, metrics: Sequence[MetricSpec], models: ModelsFile | None) -> float | None:
    """USD for this answer when a suite budgets cost and the model is priced; None otherwise. The model that
    answered (after a fallback, not the target) sets the price, with its models.yaml `pricing:` or
    `price_ref:`; a recorded answer from a model this models.yaml does not name is priced by its model id."""
    if isinstance(result, ProviderError) or not any(m.kind == "max_cost_usd" for m in metrics):
        return None
    model = models.models.get(result.answered_by or "") if models is not None else None
    if model is None:
        if not (result.cached and result.model):
            return None
        model = listed_model(result.model)
    return price_usage(result.usage, model).usd
