"""The base branch's cost from git, and measured usage carried across to it; the example measured for real."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price
from prodgate_checks.cost.files import BaseTree, WorkTree
from prodgate_checks.cost.inputs import Inputs, build_scenario
from prodgate_checks.cost.model import project
from prodgate_checks.cost.tokens import Measured

from gate.gitref import resolve_base
from tests.conftest import EXAMPLE, GitRepo, gate

MODELS = "version: 1\nmodels:\n  mini: {provider: openai, model: gpt-4o-mini}\n"
PROMPT = """\
name: Helper
model: mini
messages:
  - role: system
    content: Be brief.
  - role: user
    content: "{{q}}"
testData:
  - q: Where is my invoice?
"""
TRAFFIC = """\
version: 1
profiles:
  main:
    days_per_month: 30
    routes:
      help: {prompt: help.prompt.yml, requests_per_day: 1000, input_tokens: {measured: helper}, output_tokens: 50}
"""


def inputs(root: Path, measured: dict[tuple[str, str], Measured]) -> Inputs:
    return Inputs(root / "traffic.yaml", "traffic.yaml", root / "models.yaml", "models.yaml",
                  suites={"helper": root / "help.prompt.yml"}, measured=measured)


def test_cost_base_measured_tokens_shift_by_prompt_growth(repo: GitRepo) -> None:
    repo.write("models.yaml", MODELS)
    repo.write("help.prompt.yml", PROMPT)
    repo.write("traffic.yaml", TRAFFIC)
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("help.prompt.yml", PROMPT.replace("Be brief.", "Be brief. " + "y" * 2000))

    measured = {("helper", "input_tokens"): Measured(900.0, 25)}
    head = build_scenario(WorkTree(), inputs(repo.path, measured)).scenario
    assert head is not None
    base_ref = resolve_base(repo.path, "main")
    base = build_scenario(BaseTree(base_ref), replace(inputs(repo.path, {}), anchors=head.anchors)).scenario
    assert base is not None

    head_route, base_route = head.profiles[0].routes[0], base.profiles[0].routes[0]
    assert head_route.input_tokens.dist.mean == 900
    # The base prompt is 2,001 characters (~501 tokens) shorter: the head's measurement, moved back.
    assert base_route.input_tokens.dist.mean == pytest.approx(900 - 501, abs=1)
    assert "adjusted for the base prompt" in base_route.input_tokens.source
    delta = project(head)[0].monthly_usd - project(base)[0].monthly_usd
    per_token = float(calc_price(Usage(input_tokens=1_000_000), "gpt-4o-mini", provider_id="openai").total_price) / 1e6
    assert delta == pytest.approx(30_000 * 501 * per_token, rel=0.01)


def test_cost_example_uses_regression_measured_usage(repo: GitRepo) -> None:
    for item in EXAMPLE.iterdir():
        target = repo.path / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy(item, target)
    repo.commit("example")
    res = gate("check", "--only", "regression,cost", "--format", "json", cwd=repo.path)
    assert res.exit_code == 0, res.stdout[-2000:] + res.stderr
    checks = {c["name"]: c for c in res.json()["checks"]}
    usage = checks["regression"]["details"]["usage_by_suite"]["answers"]
    answer = checks["cost"]["details"]["profiles"][0]["routes"][0]
    assert answer["name"] == "answer"
    assert answer["input_tokens"] == {"value": pytest.approx(usage["input_tokens"]["mean"], abs=1e-3),
                                      "source": f"measured: suite answers ({usage['cases']} cases recorded in "
                                                f"cassettes/support-bot.jsonl)", "estimated": False}
    assert "tokens estimated" not in checks["cost"]["summary"]
    # Measured on both sides alike: nothing changed, so nothing moved.
    assert checks["cost"]["details"]["diff"]["sentence"].startswith("Monthly cost will not change")
