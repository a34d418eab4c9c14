"""traffic.yaml: distributions, shared routes, and every defect named at its file:line:col."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from prodgate_checks.cost.files import WorkTree
from prodgate_checks.cost.inputs import Inputs, build_scenario
from prodgate_checks.cost.traffic import Dist, DistKind, parse_traffic

from gate.yamlfile import parse_yaml

MODELS = """\
version: 1
models:
  primary: {provider: openai, model: gpt-4o-mini, fallback: backup}
  backup: {provider: openai, model: gpt-4.1-mini}
  lonely: {provider: openai, model: gpt-4.1-nano}
  typo: {provider: openai, model: gpt-4o-mimi}
"""


def problems_of(tmp_path: Path, traffic: str, suites: dict[str, Path | None] | None = None) -> list[str]:
    (tmp_path / "models.yaml").write_text(MODELS)
    (tmp_path / "traffic.yaml").write_text(traffic)
    inputs = Inputs(tmp_path / "traffic.yaml", "traffic.yaml", tmp_path / "models.yaml", "models.yaml",
                    suites=suites or {})
    built = build_scenario(WorkTree(), inputs)
    assert (built.scenario is None) == bool(built.problems or built.defects)
    return built.problems


def route(body: str) -> str:
    return f"version: 1\nprofiles:\n  p:\n    days_per_month: 30\n    routes:\n      chat: {body}\n"


def test_traffic_negative_volume_is_located(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: primary, requests_per_day: -5, input_tokens: 1, output_tokens: 1}"))
    assert problems == ["traffic.yaml:6:48: $.profiles.p.routes.chat.requests_per_day: -5 is less than the minimum of 0"]


def test_traffic_shares_not_summing_to_one_is_located(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: {primary: 0.5, backup: 0.3}, requests_per_day: 5, "
                                           "input_tokens: 1, output_tokens: 1}"))
    assert problems == ["traffic.yaml:6:21: $.profiles.p.routes.chat.model: tier shares must sum to 1, "
                        "but 0.5 + 0.3 = 0.8"]


def test_traffic_unknown_model_names_close_match(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: primery, requests_per_day: 5, input_tokens: 1, output_tokens: 1}"))
    assert problems == ["traffic.yaml:6:21: $.profiles.p.routes.chat.model: unknown model 'primery' "
                        "(did you mean 'primary'?)"]


def test_traffic_unpriced_model_is_located_in_models_yaml(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: typo, requests_per_day: 5, input_tokens: 1, output_tokens: 1}"))
    assert len(problems) == 1
    assert problems[0].startswith("models.yaml:6:9: $.models.typo: no price for 'gpt-4o-mimi' (openai) in genai-prices")
    assert "did you mean 'gpt-4o-mini'" in problems[0]


def test_traffic_unknown_suite_names_known_ones(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: primary, requests_per_day: 5, input_tokens: {measured: answr}, "
                                           "output_tokens: 1}"), suites={"answer": None, "classify": None})
    assert problems == ["traffic.yaml:6:65: $.profiles.p.routes.chat.input_tokens: unknown suite 'answr' "
                        "(did you mean 'answer'?)"]


def test_traffic_fallback_rate_without_fallback_model_is_error(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: lonely, requests_per_day: 5, input_tokens: 1, output_tokens: 1, "
                                           "fallback_rate: 0.1}"))
    assert len(problems) == 1 and "fallback_rate is 0.1 but model 'lonely' has no fallback in models.yaml" in problems[0]
    assert problems[0].startswith("traffic.yaml:6:")


@pytest.mark.parametrize(("value", "message"), [
    ("{p50: 100, p95: 50}", "p95 (50) is below p50 (100)"),
    ("{mean: 100, p95: 50}", "a distribution is {mean, sd} or {p50, p95}, not {mean, p95}"),
    ("{sd: 3}", "a distribution is {mean, sd} or {p50, p95}, not {sd}"),
])
def test_traffic_bad_distribution_is_explained(tmp_path: Path, value: str, message: str) -> None:
    problems = problems_of(tmp_path, route(f"{{model: primary, requests_per_day: {value}, input_tokens: 1, "
                                           "output_tokens: 1}"))
    assert len(problems) == 1 and problems[0].endswith(message), problems


def test_traffic_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: primary, requests_per_dya: 5}"))
    assert problems == ["traffic.yaml:6:30: $.profiles.p.routes.chat.requests_per_dya: unknown key "
                        "'requests_per_dya' (did you mean 'requests_per_day'?)"]


def test_traffic_missing_tokens_without_prompt_is_error(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, route("{model: primary, requests_per_day: 5, output_tokens: 1}"))
    assert len(problems) == 1 and "route 'chat' needs input_tokens" in problems[0]


def test_traffic_invalid_yaml_is_located(tmp_path: Path) -> None:
    problems = problems_of(tmp_path, "profiles: {p: [}\n")
    assert len(problems) == 1 and problems[0].startswith("traffic.yaml:1:")


def test_traffic_profile_overrides_shared_route_field_by_field(tmp_path: Path) -> None:
    text = """\
version: 1
routes:
  chat: {model: primary, requests_per_day: 100, input_tokens: 10, output_tokens: 5, retry_rate: 0.01}
profiles:
  expected: {days_per_month: 30}
  peak:
    days_per_month: 30
    volume_scale: 3
    routes:
      chat: {retry_rate: 0.2}
"""
    traffic, problems = parse_traffic(parse_yaml(text, "traffic.yaml"))
    assert problems == []
    expected, peak = traffic.profiles
    assert peak.volume_scale == 3
    assert expected.routes[0].retry_rate == 0.01 and peak.routes[0].retry_rate == 0.2
    assert peak.routes[0].requests_per_day == expected.routes[0].requests_per_day == Dist.fixed(100)
    assert peak.routes[0].at["retry_rate"] == ("profiles", "peak", "routes", "chat", "retry_rate")
    assert peak.routes[0].at["model"] == ("routes", "chat", "model")


def test_dist_lognormal_matches_its_percentiles() -> None:
    d = Dist.lognormal(1000, 2500)
    assert d.kind is DistKind.LOGNORMAL
    values = d.sample(np.random.default_rng(0).standard_normal(200_000))
    assert np.percentile(values, 50) == pytest.approx(1000, rel=0.01)
    assert np.percentile(values, 95) == pytest.approx(2500, rel=0.02)
    assert d.mean == pytest.approx(float(values.mean()), rel=0.01)
    assert d.mean == pytest.approx(1000 * math.exp(d.sigma ** 2 / 2))


def test_dist_normal_is_floored_at_zero_and_equal_percentiles_are_fixed() -> None:
    values = Dist.normal(1, 5).sample(np.random.default_rng(0).standard_normal(1000))
    assert values.min() == 0
    assert Dist.lognormal(50, 50) == Dist.fixed(50)
    assert Dist.normal(7, 0) == Dist.fixed(7)
