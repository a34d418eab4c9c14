"""The base branch's cost from git, and measured usage carried across to it; the example measured for real."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from genai_prices import Usage, calc_price
from prodgate_checks.cost.diff import money
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


def _example_on_main(repo: GitRepo, *, cassettes: bool = True) -> None:
    for item in EXAMPLE.iterdir():
        if item.name == "cassettes" and not cassettes:
            continue
        target = repo.path / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy(item, target)
    repo.commit("example")
    repo.git("checkout", "-q", "-b", "feature")


def _cost(repo: GitRepo, tmp: Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]], str]:
    res = gate("cost", "--format", "json", "--markdown", tmp / "c.md", cwd=repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    [check] = res.json()["checks"]
    return check, {r["name"]: r for r in check["details"]["diff"]["routes"]}, (tmp / "c.md").read_text()


def _change_cell(markdown: str, route: str) -> str:
    row = next(line for line in markdown.splitlines() if line.startswith(f"| {route} |"))
    return [c.strip() for c in row.strip("|").split("|")][6].replace("\\", "")  # markdown escapes off


def test_cost_base_recording_gone_stale_shows_the_change_is_only_the_counting(repo: GitRepo, tmp_path: Path) -> None:
    _example_on_main(repo)
    # Reworded at the same length, not re-recorded: the head's answers are no longer on record, so its
    # tokens are estimated from the prompt while the base's are measured.
    prompt = repo.path / "prompts/answer.prompt.yml"
    text = prompt.read_text()
    assert "under 120 words" in text
    prompt.write_text(text.replace("under 120 words", "under 100 words").replace("version: 1.2.0", "version: 1.2.1"))
    repo.commit("shorter answers")

    check, routes, markdown = _cost(repo, tmp_path)
    answer = routes["answer"]
    assert answer["bases"] == {"input_tokens": ["measured", "estimated"]}
    assert answer["delta_usd"] > 0.005 and answer["counting_only"] is True
    assert answer["alike_usd"] == 0
    note = "head input tokens estimated, base measured; all of it from the counting (both estimated: no change)"
    assert answer["note"] == note
    assert routes["classify"]["bases"] == {} and routes["classify"]["note"] is None
    assert check["details"]["diff"]["unlike"] == ["answer"]
    assert f"moved by answer (+{money(answer['delta_usd'])}; {note})" in check["details"]["diff"]["sentence"]
    assert "(tokens counted differently on each side: answer)" in check["summary"]
    # Beside the delta in the comment's table.
    assert _change_cell(markdown, "answer") == f"+{money(answer['delta_usd'])} ({note})"
    assert _change_cell(markdown, "classify") == "–"


def test_cost_base_stale_recording_and_a_longer_prompt_give_the_like_for_like_change(repo: GitRepo,
                                                                                   tmp_path: Path) -> None:
    _example_on_main(repo)
    prompt = repo.path / "prompts/answer.prompt.yml"
    text = prompt.read_text()
    prompt.write_text(text.replace("under 120 words.", "under 120 words. Thank the customer for their patience "
                                   "and greet them by name before you answer the question."))
    repo.commit("a longer system prompt, not re-recorded")

    _, routes, _ = _cost(repo, tmp_path)
    answer = routes["answer"]
    assert answer["bases"] == {"input_tokens": ["measured", "estimated"]} and answer["counting_only"] is False
    # Both sides estimated: the longer prompt costs more, but less than the whole move, which is mostly counting.
    assert 0.005 < answer["alike_usd"] < answer["delta_usd"]
    assert answer["note"] == (f"head input tokens estimated, base measured; both estimated: "
                              f"+{money(answer['alike_usd'])}")


def test_cost_base_recording_added_head_measured_base_estimated(repo: GitRepo, tmp_path: Path) -> None:
    _example_on_main(repo, cassettes=False)
    shutil.copytree(EXAMPLE / "cassettes", repo.path / "cassettes")
    repo.commit("record the suites")

    check, routes, markdown = _cost(repo, tmp_path)
    for name in ("answer", "classify"):
        assert routes[name]["bases"] == {"input_tokens": ["estimated", "measured"]}
        assert routes[name]["note"] == ("head input tokens measured, base estimated; all of it from the counting "
                                        "(both estimated: no change)")
    assert sorted(check["details"]["diff"]["unlike"]) == ["answer", "classify"]
    assert "base estimated" in _change_cell(markdown, "answer")
