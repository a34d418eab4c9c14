"""The one price rule: a models.yaml model's per-token prices (its own, GPU hours, or genai-prices' snapshot),
for the cost check's monthly cost and the regression check's cost of one answer alike."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from functools import cache, lru_cache
from typing import Any

from gate.models import ModelConfig
from gate.providers.base import Usage

# GitHub Models names a model `publisher/model`; the publisher's own API sets the price.
GITHUB_PUBLISHERS = {
    "openai": "openai", "azure-openai": "openai", "mistral-ai": "mistral", "xai": "x-ai",
    "deepseek": "deepseek", "cohere": "cohere", "meta": "meta",
}
PROVIDERS = {"openai": "openai", "azure-openai": "azure", "anthropic": "anthropic", "litellm": "litellm"}
SELF_HOSTED = frozenset({"vllm", "ollama"})
BATCH_CONTEXT = {"processing": "batch"}


class PriceError(Exception):
    """No price for a model; str() says why and what to set instead."""


@dataclass(frozen=True)
class Rate:
    """USD per million tokens; with tiers, the price of the highest tier whose start the request's
    input tokens exceed applies to all its tokens (as providers and genai-prices bill it)."""

    base: float
    tiers: tuple[tuple[int, float], ...] = ()

    def at(self, input_tokens: Any) -> Any:
        if not self.tiers:
            return self.base
        import numpy as np

        price = np.full(np.shape(input_tokens), self.base)
        for start, tier_price in self.tiers:  # ascending, so the highest tier reached wins
            price = np.where(input_tokens > start, tier_price, price)
        return price

    def describe(self) -> str:
        return f"${self.base:g}" + (" (+tiers)" if self.tiers else "")


@dataclass(frozen=True)
class Rates:
    input: Rate
    cached_input: Rate
    output: Rate


@dataclass(frozen=True)
class PriceSheet:
    standard: Rates
    batch: Rates | None  # None: the price data has no batch rate for this model
    source: str  # where the price came from, for the report


def price_of(model: ModelConfig, when: datetime | None = None) -> PriceSheet:
    """Precedence: models.yaml `pricing`, then `gpu_hour_usd`, then genai-prices (via `price_ref`
    or the provider and model id)."""
    raw = model.raw
    pricing = raw.get("pricing")
    if isinstance(pricing, Mapping):
        inp, out = float(pricing["input_per_mtok"]), float(pricing["output_per_mtok"])
        cached = float(pricing.get("cached_input_per_mtok", inp))
        return PriceSheet(Rates(Rate(inp), Rate(cached), Rate(out)), None, "models.yaml pricing")
    if raw.get("gpu_hour_usd") is not None:
        return _gpu(raw)
    ref = raw.get("price_ref")
    if isinstance(ref, Mapping) and (ref.get("provider") or ref.get("model")):
        provider = ref.get("provider")
        return _lookup(str(provider) if provider else None, str(ref.get("model") or model.model), when)
    if model.provider in SELF_HOSTED:
        raise PriceError(f"a self-hosted ({model.provider}) model has no list price: set gpu_hour_usd and "
                         "throughput_tokens_per_s, or pricing: {input_per_mtok, output_per_mtok}, in models.yaml")
    provider, model_id = lookup_key(model.provider, model.model)
    return _lookup(provider, model_id, when)


@dataclass(frozen=True)
class CasePrice:
    usd: float | None
    source: str  # where the price came from: "models.yaml pricing" or "genai-prices openai/gpt-4o-mini"
    reason: str | None = None  # why there is no price, when usd is None


def price_usage(usage: Usage, model: ModelConfig) -> CasePrice:
    """USD for one call's tokens at the standard rates of price_of(model); None with a reason when the tokens
    or the price are unknown. `input_tokens` counts every input token; `cached_input_tokens` the part read from
    a prompt cache."""
    if usage.input_tokens is None and usage.output_tokens is None:
        return CasePrice(None, "", "the answer reported no token usage")
    inp, out = usage.input_tokens or 0, usage.output_tokens or 0
    cached = min(usage.cached_input_tokens or 0, inp)
    try:
        sheet = price_of(model)
    except PriceError as exc:
        return CasePrice(None, "", f"{model.name}: {exc}")
    rates = sheet.standard
    usd = ((inp - cached) * float(rates.input.at(inp)) + cached * float(rates.cached_input.at(inp))
           + out * float(rates.output.at(inp))) / 1e6
    return CasePrice(usd, sheet.source)


def listed_model(model_id: str) -> ModelConfig:
    """A model known only by the id an answer carries (a cassette recorded under another models.yaml), to be
    priced by genai-prices under that id; a "publisher/model" id (GitHub Models) as the publisher's."""
    return ModelConfig(name=model_id, provider="github-models" if "/" in model_id else "openai-compatible",
                       model=model_id)


def lookup_key(provider: str, model_id: str) -> tuple[str | None, str]:
    """The genai-prices provider id and model ref for a models.yaml provider and model id."""
    if provider == "github-models":
        publisher, _, name = model_id.partition("/")
        if name:
            return GITHUB_PUBLISHERS.get(publisher.lower()), name
        return None, model_id
    return PROVIDERS.get(provider), model_id


def _gpu(raw: Mapping[str, Any]) -> PriceSheet:
    throughput = raw.get("throughput_tokens_per_s")
    if not throughput:
        raise PriceError("gpu_hour_usd needs throughput_tokens_per_s (tokens in + out per second the GPU "
                         "sustains, e.g. measured by the load check)")
    hour = float(raw["gpu_hour_usd"])
    per_mtok = hour / 3600.0 / float(throughput) * 1e6
    rate = Rate(per_mtok)
    return PriceSheet(Rates(rate, rate, rate), None, f"GPU ${hour:g}/h at {float(throughput):,.0f} tok/s")


def _lookup(provider: str | None, model_ref: str, when: datetime | None) -> PriceSheet:
    if when is None:
        return _lookup_now(provider, model_ref, datetime.now(timezone.utc).date())
    return _lookup_at(provider, model_ref, when)


@lru_cache(maxsize=256)
def _lookup_now(provider: str | None, model_ref: str, today: date) -> PriceSheet:
    # Every answer of a run is priced at today's prices: the snapshot is read once per model, not per answer.
    return _lookup_at(provider, model_ref, datetime.now(timezone.utc))


def _lookup_at(provider: str | None, model_ref: str, when: datetime) -> PriceSheet:
    from gate.price_cache import find_price, store_price

    # A run prices its models from the user's cache when it can: importing genai-prices costs more than
    # everything else `gate validate` does.
    found = find_price(provider, model_ref, when)
    if found is None:
        window, found = _priced(provider, model_ref, when)
        store_price(provider, model_ref, when, window, found)
    if isinstance(found, str):
        raise PriceError(found)
    return found


def _priced(provider: str | None, model_ref: str, when: datetime) -> tuple[tuple[float, float], PriceSheet | str]:
    """genai-prices' sheet for the model at `when`, or why it has none, with the stretch of that UTC day the
    answer holds for (an off-peak price holds between its times of day)."""
    from genai_prices import Usage, calc_price

    from gate.price_cache import WHOLE_DAY, window_of

    probe = Usage(input_tokens=1, output_tokens=1)
    try:
        calc = calc_price(probe, model_ref, provider_id=provider, genai_request_timestamp=when)
    except LookupError:
        return WHOLE_DAY, _unknown(provider, model_ref)
    window = window_of(_times_of_day(calc.model), when)
    try:
        standard = _rates(calc.model_price, model_ref)
        batch: Rates | None = None
        try:
            batch_calc = calc_price(probe, model_ref, provider_id=provider, genai_request_timestamp=when,
                                    price_context=BATCH_CONTEXT)
            batch = _rates(batch_calc.model_price, model_ref)
        except TypeError:  # a genai-prices too old to know price variants: no batch rates
            batch = None
    except PriceError as exc:
        return window, str(exc)
    source = f"genai-prices {calc.provider.id}/{calc.model.id}"
    return window, PriceSheet(standard, batch if batch != standard else None, source)


def _times_of_day(model: Any) -> list[time]:
    """Where the model's price changes within a day (off-peak prices): the start and end of each such price."""
    prices = model.prices if isinstance(model.prices, list) else []
    out: list[time] = []
    for price in [*prices, *(getattr(model, "price_variants", None) or [])]:
        constraint = getattr(price, "constraint", None)
        for bound in (getattr(constraint, "start_time", None), getattr(constraint, "end_time", None)):
            if isinstance(bound, time):
                out.append(bound)
    return out


def _rate(value: Any) -> Rate | None:
    if value is None:
        return None
    tiers = getattr(value, "tiers", None)
    if tiers is not None:
        return Rate(float(value.base), tuple(sorted((int(t.start), float(t.price)) for t in tiers)))
    return Rate(float(value))


def _rates(model_price: Any, model_ref: str) -> Rates:
    inp = _rate(getattr(model_price, "input_mtok", None))
    out = _rate(getattr(model_price, "output_mtok", None))
    if inp is None or out is None:
        raise PriceError(f"genai-prices has no per-token price for {model_ref!r} (set pricing in models.yaml)")
    # Without a cache-read price, a cached token costs what any input token does.
    cached = _rate(getattr(model_price, "cache_read_mtok", None)) or inp
    return Rates(inp, cached, out)


def _unknown(provider: str | None, model_ref: str) -> str:
    snapshot = _snapshot_providers()
    by_id = {p.id: p for p in snapshot}
    where = f" ({provider})" if provider else ""
    if provider and provider not in by_id and provider != "litellm":
        close = difflib.get_close_matches(provider, list(by_id), n=3, cutoff=0.5)
        hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
        return f"genai-prices has no provider {provider!r}{hint}"
    pool = by_id[provider].models if provider in by_id else [m for p in snapshot for m in p.models]
    close = difflib.get_close_matches(model_ref.lower(), sorted({m.id for m in pool}), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return (f"no price for {model_ref!r}{where} in {price_data_label()}{hint}; set price_ref: {{provider, model}} "
            "or pricing: {input_per_mtok, output_per_mtok} in models.yaml")


def _snapshot_providers() -> list[Any]:
    try:
        from genai_prices.data_snapshot import get_snapshot

        return list(get_snapshot().providers)
    except Exception:  # noqa: BLE001 - suggestions are a courtesy; their absence must not hide the error
        return []


@cache
def price_data_label() -> str:
    """What the prices come from, printed with every estimate: the package and its newest dated price."""
    from gate.price_cache import find_label, store_label

    today = datetime.now(timezone.utc).date()
    label = find_label(today)
    if label is None:
        label = _data_label(today)
        store_label(today, label)
    return label


def _data_label(today: date) -> str:
    from gate.installed import version

    installed = version("genai-prices")
    label = f"genai-prices {installed} bundled snapshot" if installed else "genai-prices bundled snapshot"
    newest = _newest_price_date(today)
    return f"{label} (newest dated price {newest.isoformat()})" if newest else label


def _newest_price_date(today: date | None = None) -> date | None:
    """The latest start date of a price in effect today: how fresh the bundled data is."""
    today = today or datetime.now(timezone.utc).date()
    newest: date | None = None
    for provider in _snapshot_providers():
        for model in provider.models:
            prices = model.prices if isinstance(model.prices, list) else []
            constraints = [getattr(p, "constraint", None) for p in [*prices, *(getattr(model, "price_variants", None) or [])]]
            for c in constraints:
                start = getattr(c, "start_date", None)
                if isinstance(start, date) and start <= today and (newest is None or start > newest):
                    newest = start
    return newest
