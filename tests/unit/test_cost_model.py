"""The cost projection against hand computations, with per-token prices read from genai-prices."""

from __future__ import annotations

from pathlib import Path

import pytest
from genai_prices import Usage, calc_price
from prodgate_checks.cost.files import WorkTree
from prodgate_checks.cost.inputs import Inputs, Scenario, build_scenario
from prodgate_checks.cost.model import NonFinite, may_overflow, project, project_profile
from prodgate_checks.cost.tokens import Measured, estimate_prompt

MODELS = """\
version: 1
models:
  mini:
    provider: github-models
    model: openai/gpt-4o-mini
    fallback: big
  big:
    provider: openai
    model: gpt-4o
  sonnet:
    provider: anthropic
    model: claude-sonnet-4-5
  flat:
    provider: openai-compatible
    model: house-model
    base_url: http://127.0.0.1:9/v1
    pricing: {input_per_mtok: 2.0, output_per_mtok: 8.0, cached_input_per_mtok: 0.5}
  gpu:
    provider: vllm
    model: llama
    base_url: http://127.0.0.1:9/v1
    gpu_hour_usd: 3.6
    throughput_tokens_per_s: 1000
"""

PROMPT = """\
name: Answer
model: mini
modelParameters: {maxTokens: 300}
messages:
  - role: system
    content: You answer questions about the product, briefly.
  - role: user
    content: "Question: {{question}}"
testData:
  - question: How do I reset my password?
  - question: Can I export my data as CSV from the reports page?
"""


def usd(model: str, provider: str, **usage: int) -> float:
    """What genai-prices charges for one call with this usage."""
    return float(calc_price(Usage(**usage), model, provider_id=provider).total_price)


def usd_batch(model: str, provider: str, **usage: int) -> float:
    return float(calc_price(Usage(**usage), model, provider_id=provider,
                            price_context={"processing": "batch"}).total_price)


def build(tmp_path: Path, route: str, *, days: float = 30, horizon: int = 1, extra_routes: str = "",
          measured: dict[tuple[str, str], Measured] | None = None,
          suites: dict[str, Path | None] | None = None) -> Scenario:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "answer.prompt.yml").write_text(PROMPT)
    text = f"version: 1\nprofiles:\n  main:\n    days_per_month: {days}\n    routes:\n      r: {route}\n"
    if extra_routes:
        text += f"      {extra_routes}\n"
    (tmp_path / "traffic.yaml").write_text(text)
    inputs = Inputs(tmp_path / "traffic.yaml", "traffic.yaml", tmp_path / "models.yaml", "models.yaml", horizon,
                    suites or {}, measured or {})
    built = build_scenario(WorkTree(), inputs)
    scenario = built.scenario
    assert scenario is not None, built.problems
    return scenario


def monthly(scenario: Scenario) -> float:
    return project(scenario)[0].monthly_usd


def test_cost_model_plain_route_matches_hand_computation(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: 1000, input_tokens: 1000, output_tokens: 200}")
    per_call = usd("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)
    cost = project(sc)[0]
    assert cost.monthly_usd == pytest.approx(1000 * 30 * per_call, rel=1e-9)
    assert cost.routes[0].per_1k_usd == pytest.approx(per_call * 1000, rel=1e-9)
    assert cost.requests_month == 30_000
    assert cost.spread is None  # no distribution, no Monte Carlo


def test_cost_model_prompt_caching_prices_cached_share_at_cached_rate(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: 1000, input_tokens: 1000, output_tokens: 200, "
                         "cached_input_ratio: 0.6}")
    per_call = usd("gpt-4o-mini", "openai", input_tokens=1000, cache_read_tokens=600, output_tokens=200)
    assert monthly(sc) == pytest.approx(30_000 * per_call, rel=1e-9)
    assert per_call < usd("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)


def test_cost_model_tiered_routing_splits_calls_by_share(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: {mini: 0.8, big: 0.2}, requests_per_day: 1000, input_tokens: 500, "
                         "output_tokens: 100}")
    small = usd("gpt-4o-mini", "openai", input_tokens=500, output_tokens=100)
    large = usd("gpt-4o", "openai", input_tokens=500, output_tokens=100)
    cost = project(sc)[0]
    assert cost.monthly_usd == pytest.approx(30_000 * (0.8 * small + 0.2 * large), rel=1e-9)
    assert cost.by_model["big"] == pytest.approx(30_000 * 0.2 * large, rel=1e-9)


def test_cost_model_retries_and_response_cache_scale_model_calls(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: 1000, input_tokens: 1000, output_tokens: 200, "
                         "retry_rate: 0.1, response_cache_hit_rate: 0.25}")
    per_call = usd("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)
    cost = project(sc)[0]
    assert cost.monthly_usd == pytest.approx(30_000 * 0.75 * 1.1 * per_call, rel=1e-9)
    # Cost per 1,000 *requests*: cache hits count as requests that cost nothing.
    assert cost.routes[0].per_1k_usd == pytest.approx(0.75 * 1.1 * per_call * 1000, rel=1e-9)


def test_cost_model_fallback_share_goes_to_fallback_model_uncached(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: 1000, input_tokens: 1000, output_tokens: 200, "
                         "fallback_rate: 0.1, cached_input_ratio: 0.5}")
    primary = usd("gpt-4o-mini", "openai", input_tokens=1000, cache_read_tokens=500, output_tokens=200)
    backup = usd("gpt-4o", "openai", input_tokens=1000, output_tokens=200)
    cost = project(sc)[0]
    assert cost.by_model == pytest.approx({"mini": 30_000 * 0.9 * primary, "big": 30_000 * 0.1 * backup}, rel=1e-9)


def test_cost_model_batch_share_uses_batch_rates(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: 1000, input_tokens: 1000, output_tokens: 200, "
                         "batch_share: 0.4}")
    standard = usd("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)
    batch = usd_batch("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)
    assert batch < standard
    assert monthly(sc) == pytest.approx(30_000 * (0.6 * standard + 0.4 * batch), rel=1e-9)


@pytest.mark.parametrize("tokens", [150_000, 250_000])
def test_cost_model_tiered_prices_follow_input_threshold(tmp_path: Path, tokens: int) -> None:
    sc = build(tmp_path, f"{{model: sonnet, requests_per_day: 10, input_tokens: {tokens}, output_tokens: 1000, "
                         "cached_input_ratio: 0.2}")
    per_call = usd("claude-sonnet-4-5", "anthropic", input_tokens=tokens, cache_read_tokens=tokens // 5,
                   output_tokens=1000)
    assert monthly(sc) == pytest.approx(300 * per_call, rel=1e-9)


def test_cost_model_growth_compounds_to_horizon_month(tmp_path: Path) -> None:
    route = "{model: mini, requests_per_day: 1000, growth: 0.1, input_tokens: 1000, output_tokens: 200}"
    first = monthly(build(tmp_path, route))
    third = monthly(build(tmp_path, route, horizon=3))
    assert third == pytest.approx(first * 1.1 ** 2, rel=1e-9)


def test_cost_model_pricing_override_and_gpu_hours(tmp_path: Path) -> None:
    flat = monthly(build(tmp_path, "{model: flat, requests_per_day: 100, input_tokens: 1000, output_tokens: 500, "
                                   "cached_input_ratio: 0.5}"))
    assert flat == pytest.approx(3000 * (500 * 2.0 + 500 * 0.5 + 500 * 8.0) / 1e6, rel=1e-9)
    # $3.60 an hour at 1,000 tokens/s: $1 per million tokens, in or out.
    gpu = monthly(build(tmp_path, "{model: gpu, requests_per_day: 100, input_tokens: 1000, output_tokens: 500}"))
    assert gpu == pytest.approx(3000 * 1500 / 1e6, rel=1e-9)


def test_cost_model_measured_suite_usage_is_used(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: 1000, input_tokens: {measured: s}, "
                         "output_tokens: {measured: s}}",
               suites={"s": tmp_path / "answer.prompt.yml"},
               measured={("s", "input_tokens"): Measured(812.5, 40), ("s", "output_tokens"): Measured(95.0, 40)})
    route = sc.profiles[0].routes[0]
    assert route.input_tokens.source == "measured: suite s (40 cases)" and not route.input_tokens.estimated
    per_call = usd("gpt-4o-mini", "openai", input_tokens=1, output_tokens=0) * 812.5 + \
        usd("gpt-4o-mini", "openai", input_tokens=0, output_tokens=1) * 95
    assert monthly(sc) == pytest.approx(30_000 * per_call, rel=1e-9)


def test_cost_model_unmeasured_suite_is_estimated_from_prompt(tmp_path: Path) -> None:
    sc = build(tmp_path, "{prompt: answer.prompt.yml, requests_per_day: 1000, input_tokens: {measured: s}}",
               suites={"s": None})
    from gate.prompts import load_prompt

    estimate = estimate_prompt(load_prompt(tmp_path / "answer.prompt.yml", "answer.prompt.yml"))
    route = sc.profiles[0].routes[0]
    assert route.models == ("mini",)  # the prompt's model
    assert route.input_tokens.estimated and route.input_tokens.dist.mean == estimate.input_tokens
    assert route.output_tokens.dist.mean == 300  # maxTokens: an upper bound
    assert "upper bound" in route.output_tokens.source


def test_cost_model_monte_carlo_is_reproducible_with_seed(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: {p50: 1000, p95: 2000}, "
                         "input_tokens: {mean: 800, sd: 100}, output_tokens: 200}")
    a = project_profile(sc.profiles[0], seed=7)
    b = project_profile(sc.profiles[0], seed=7)
    c = project_profile(sc.profiles[0], seed=8)
    assert a.spread is not None and c.spread is not None
    assert a.spread == b.spread
    assert a.spread != c.spread
    assert a.spread.p50 < a.spread.p95


def test_cost_model_monte_carlo_median_matches_lognormal_median(tmp_path: Path) -> None:
    sc = build(tmp_path, "{model: mini, requests_per_day: {p50: 1000, p95: 3000}, input_tokens: 1000, "
                         "output_tokens: 200}")
    per_call = usd("gpt-4o-mini", "openai", input_tokens=1000, output_tokens=200)
    cost = project_profile(sc.profiles[0], draws=20_000)
    assert cost.spread is not None
    # Cost is proportional to volume, so its median is the volume's median times the call price.
    assert cost.spread.p50 == pytest.approx(30_000 * per_call, rel=0.03)
    assert cost.spread.p95 == pytest.approx(3 * 30_000 * per_call, rel=0.05)
    assert cost.monthly_usd > cost.spread.p50  # the mean of a right-skewed distribution


def test_cost_model_adding_a_route_leaves_other_routes_draws_alone(tmp_path: Path) -> None:
    route = "{model: mini, requests_per_day: 1000, input_tokens: {p50: 800, p95: 1600}, output_tokens: 200}"
    alone = project_profile(build(tmp_path, route).profiles[0], seed=1)
    with_other = project_profile(build(tmp_path, route, extra_routes="other: {model: big, requests_per_day: 5, "
                                       "input_tokens: {mean: 10, sd: 2}, output_tokens: 5}").profiles[0], seed=1)
    assert alone.routes[0].spread == with_other.routes[0].spread


# (route, whether the pure-Python bound says the projection may overflow)
BOUNDED = [
    ("{model: mini, requests_per_day: 1000, input_tokens: 1000, output_tokens: 200}", False),
    ("{model: sonnet, requests_per_day: {p50: 1000, p95: 9000}, input_tokens: {mean: 300000, sd: 90000}, "
     "output_tokens: 1000}", False),
    ("{model: mini, requests_per_day: 1.0e+300, input_tokens: 1000, output_tokens: 200}", False),
    ("{model: mini, requests_per_day: 1.0e+308, input_tokens: 1000, output_tokens: 200}", True),
    ("{model: big, requests_per_day: {p50: 1.0e+290, p95: 1.0e+300}, input_tokens: 1000, output_tokens: 200}", True),
    ("{model: mini, requests_per_day: 1.0e+303, input_tokens: {p50: 1000, p95: 1.0e+6}, output_tokens: 200}", True),
]
# The mean is finite; more than one draw in twenty is not, so the 95th percentile overflows.
DRAWS_OVERFLOW = ("{model: mini, requests_per_day: {p50: 4.0e+303, p95: 6.0e+304}, input_tokens: 1000000000, "
                  "output_tokens: 0}")


@pytest.mark.parametrize(("route", "bound"), [*BOUNDED, (DRAWS_OVERFLOW, True)])
def test_cost_model_overflow_bound_holds_whenever_the_projection_overflows(tmp_path: Path, route: str,
                                                                          bound: bool) -> None:
    sc = build(tmp_path, route)
    try:
        project(sc)
        overflowed = False
    except NonFinite:
        overflowed = True
    # The bound may be cautious (true for a projection that stays finite), never the other way round.
    assert may_overflow(sc) == bound
    assert bound or not overflowed


def test_cost_model_overflow_of_the_draws_alone_is_found_by_the_bound(tmp_path: Path) -> None:
    sc = build(tmp_path, DRAWS_OVERFLOW)
    route = sc.profiles[0].routes[0]
    assert route.requests_per_day.mean * route.month_factor < 1e306  # the mean figures are finite
    with pytest.raises(NonFinite, match="route 'r' in profile 'main'"):
        project(sc)
    assert may_overflow(sc)
