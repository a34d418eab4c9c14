"""The cost check end to end: real git repositories, the base branch's cost, budgets, `gate cost`."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from genai_prices import Usage, calc_price
from prodgate_checks.cost.diff import money

from tests.conftest import EXAMPLE, GitRepo, gate, gate_subprocess

GATE = """\
version: 1
prompts: ["prompts/*.prompt.yml"]
models: models.yaml
cost:
  traffic: traffic.yaml
  budget:
    monthly_usd: {warn: 900, fail: 2000}
    max_increase_pct: {warn: 10, fail: 25}
    max_cost_per_1k:
      chat: {fail: 2.5}
"""

MODELS = """\
version: 1
models:
  small: {provider: openai, model: gpt-4o-mini}
  large: {provider: openai, model: gpt-4o}
"""

PROMPT = """\
name: Summarise
version: 1.0.0
model: small
modelParameters: {maxTokens: 150}
messages:
  - role: system
    content: Summarise the ticket in one sentence.
  - role: user
    content: "{{ticket}}"
testData:
  - ticket: The export button does nothing on the reports page since yesterday.
"""

TRAFFIC = """\
version: 1
routes:
  chat:
    model: small
    requests_per_day: 10000
    input_tokens: 1000
    output_tokens: 200
  summarise:
    prompt: prompts/summarise.prompt.yml
    requests_per_day: 2000
    output_tokens: 60
profiles:
  expected: {days_per_month: 30}
  peak: {days_per_month: 30, volume_scale: 3}
"""


def usd(model: str, **usage: int) -> float:
    return float(calc_price(Usage(**usage), model, provider_id="openai").total_price)


CHAT = 300_000 * usd("gpt-4o-mini", input_tokens=1000, output_tokens=200)


@pytest.fixture
def cost_repo(repo: GitRepo) -> GitRepo:
    """gate.yaml, models, a prompt and traffic.yaml committed on main; HEAD on a feature branch."""
    repo.write("gate.yaml", GATE)
    repo.write("models.yaml", MODELS)
    repo.write("prompts/summarise.prompt.yml", PROMPT)
    repo.write("traffic.yaml", TRAFFIC)
    repo.commit("cost gate")
    repo.git("checkout", "-q", "-b", "feature")
    return repo


def cost_of(report: dict) -> dict:
    return next(c for c in report["checks"] if c["name"] == "cost")


def run_json(repo: GitRepo, *args: str) -> tuple[int, dict]:
    res = gate("check", "--only", "cost", "--format", "json", *args, cwd=repo.path)
    assert res.stderr == "" or "error" not in res.stderr, res.stderr
    return res.exit_code, res.json()


def test_cost_check_unchanged_branch_reports_no_change(cost_repo: GitRepo) -> None:
    code, report = run_json(cost_repo)
    cost = cost_of(report)
    assert code == 0 and cost["status"] == "pass", cost
    assert cost["metrics"]["monthly_usd"] == cost["metrics"]["monthly_usd_base"]
    assert cost["details"]["diff"]["sentence"].startswith("Monthly cost will not change: $")
    chat = cost["details"]["profiles"][0]["routes"][0]
    assert chat["name"] == "chat" and chat["monthly_usd"] == pytest.approx(CHAT, rel=1e-6)
    assert cost["details"]["headline"] == {"value": f"{money(cost['metrics']['monthly_usd'])}/mo", "change": None}


def test_cost_check_doubled_output_tokens_fails_budget_and_names_route(cost_repo: GitRepo) -> None:
    cost_repo.write("traffic.yaml", TRAFFIC.replace("output_tokens: 200", "output_tokens: 400"))
    cost_repo.commit("longer answers")
    code, report = run_json(cost_repo)
    cost = cost_of(report)
    delta = 300_000 * usd("gpt-4o-mini", output_tokens=200)
    assert code == 1 and cost["status"] == "fail"
    assert cost["metrics"]["delta_usd"] == pytest.approx(delta, abs=0.01)
    assert cost["details"]["diff"]["routes"][0]["name"] == "chat"
    errors = [f for f in cost["findings"] if f["severity"] == "error"]
    assert len(errors) == 1
    assert errors[0]["file"] == "gate.yaml" and errors[0]["line"] == 8 and errors[0]["category"] == "budget.cost"
    assert "moved by chat (+$" in errors[0]["message"] and "over the fail budget of 25%" in errors[0]["message"]
    assert cost["details"]["headline"]["change"].startswith("+$")


def test_cost_check_route_moved_to_larger_model_fails_budget(cost_repo: GitRepo) -> None:
    cost_repo.write("traffic.yaml", TRAFFIC.replace("model: small", "model: large"))
    res = gate("check", "--only", "cost", cwd=cost_repo.path)
    assert res.exit_code == 1
    assert "Monthly cost" not in res.stdout  # the terminal row is the summary; the sentence is in the finding
    large = 300_000 * usd("gpt-4o", input_tokens=1000, output_tokens=200)
    assert f"+${large - CHAT:,.0f}" in res.stdout and "moved by chat" in res.stdout
    assert "route chat costs" in res.stdout and "per 1,000 requests" in res.stdout  # over max_cost_per_1k too


def test_cost_check_prompt_growth_on_branch_raises_estimated_cost(cost_repo: GitRepo) -> None:
    grown = PROMPT.replace("Summarise the ticket in one sentence.", "Summarise the ticket in one sentence. " + "x" * 3200)
    cost_repo.write("prompts/summarise.prompt.yml", grown.replace("version: 1.0.0", "version: 1.1.0"))
    code, report = run_json(cost_repo)
    cost = cost_of(report)
    moved = {r["name"]: r["delta_usd"] for r in cost["details"]["diff"]["routes"]}
    # 3,201 more characters at 4 per token is ~801 tokens more per call, read from the base commit by git.
    assert moved["summarise"] == pytest.approx(60_000 * usd("gpt-4o-mini", input_tokens=801), rel=0.01)
    assert moved["chat"] == 0
    assert any("tokens estimated" in f["message"] for f in cost["findings"])
    assert code == 0


def test_cost_check_without_traffic_on_base_is_not_compared(repo: GitRepo) -> None:
    repo.write("gate.yaml", "version: 1\n")
    repo.commit("start")
    repo.git("checkout", "-q", "-b", "feature")
    repo.write("gate.yaml", GATE)
    repo.write("models.yaml", MODELS)
    repo.write("prompts/summarise.prompt.yml", PROMPT)
    repo.write("traffic.yaml", TRAFFIC)
    code, report = run_json(repo)
    cost = cost_of(report)
    assert code == 0 and "monthly_usd_base" not in cost["metrics"]
    assert cost["details"]["base"] == {"compared": False, "ref": "main",
                                       "reason": "the base's gate.yaml has no cost section (main)"}
    assert "base not compared" in cost["summary"]


@pytest.mark.parametrize(("edit", "message"), [
    (("requests_per_day: 10000", "requests_per_day: -10000"),
     "error: traffic.yaml:5:23: $.routes.chat.requests_per_day: -10000 is less than the minimum of 0"),
    (("model: small", "model: {small: 0.7, large: 0.2}"),
     "error: traffic.yaml:4:12: $.routes.chat.model: tier shares must sum to 1, but 0.7 + 0.2 = 0.9"),
    (("model: small", "model: smal"),
     "error: traffic.yaml:4:12: $.routes.chat.model: unknown model 'smal' (did you mean 'small'?)"),
    (("input_tokens: 1000", "input_tokens: {measured: chat}"),
     "error: traffic.yaml:6:19: $.routes.chat.input_tokens: unknown suite 'chat' "
     "(gate.yaml's regression section has no suites)"),
])
def test_cost_bad_profile_is_exit_2_with_location(cost_repo: GitRepo, edit: tuple[str, str], message: str) -> None:
    cost_repo.write("traffic.yaml", TRAFFIC.replace(*edit))
    res = gate("check", cwd=cost_repo.path)
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0] == message
    assert "Traceback" not in res.stderr and res.stdout == ""


@pytest.mark.parametrize(("path", "new", "where", "message"), [
    ("models.yaml", "- a\n", ("models.yaml", 1), "models.yaml must be a mapping with a `models:` key"),
    ("models.yaml", MODELS.replace("provider: openai, model: gpt-4o-mini", "provider: 5, model: gpt-4o-mini"),
     ("models.yaml", 3), "$.models.small.provider: 5 is not one of"),
    ("prompts/summarise.prompt.yml", PROMPT.replace("model: small", "model: 7"),
     ("prompts/summarise.prompt.yml", 3), "$.model: 7 is not of type 'string'"),
    ("prompts/summarise.prompt.yml", PROMPT.replace("model: small", "model: smal"),
     ("prompts/summarise.prompt.yml", 3), "model 'smal' is neither a name in models.yaml nor a publisher/model id"),
    ("prompts/summarise.prompt.yml", PROMPT.replace("{maxTokens: 150}", "{maxTokens: many}"),
     ("prompts/summarise.prompt.yml", 4), "$.modelParameters.maxTokens: 'many' is not of type 'number'"),
])
def test_cost_defective_models_or_prompt_is_a_finding_not_a_traffic_error(
        cost_repo: GitRepo, path: str, new: str, where: tuple[str, int], message: str) -> None:
    cost_repo.write(path, new)
    res = gate("check", "--only", "cost", "--format", "json", cwd=cost_repo.path)
    assert res.exit_code == 1, res.stdout + res.stderr
    cost = cost_of(res.json())
    assert cost["status"] == "fail" and cost["summary"].startswith("cannot project the cost: ")
    findings = cost["findings"]
    assert len(findings) == 1 and (findings[0]["file"], findings[0]["line"]) == where
    assert findings[0]["message"].startswith(message)
    assert "schema check lists every problem of this file" in findings[0]["message"]


def test_cost_prompt_without_model_stays_a_traffic_error(cost_repo: GitRepo) -> None:
    cost_repo.write("prompts/summarise.prompt.yml", PROMPT.replace("model: small\n", ""))
    res = gate("check", cwd=cost_repo.path)
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0] == ("error: traffic.yaml:9:13: $.routes.summarise.prompt: "
                                          "prompts/summarise.prompt.yml names no model: give the route a model")


def test_cost_unpriced_model_is_exit_2_naming_it_and_close_matches(cost_repo: GitRepo) -> None:
    cost_repo.write("models.yaml", MODELS.replace("model: gpt-4o}", "model: gpt-4oo}"))
    cost_repo.write("traffic.yaml", TRAFFIC.replace("model: small", "model: large"))
    res = gate("check", cwd=cost_repo.path)
    assert res.exit_code == 2
    line = res.stderr.splitlines()[0]
    assert line.startswith("error: models.yaml:4:10: $.models.large: no price for 'gpt-4oo' (openai) in genai-prices")
    assert "did you mean 'gpt-4o'" in line and "set price_ref: {provider, model}" in line


@pytest.mark.parametrize("prompt", ["../outside.prompt.yml", "prompts/../../outside.prompt.yml"])
def test_cost_route_prompt_outside_repository_is_exit_2_at_its_line(cost_repo: GitRepo, prompt: str) -> None:
    (cost_repo.path.parent / "outside.prompt.yml").write_text(PROMPT, encoding="utf-8")
    cost_repo.write("traffic.yaml", TRAFFIC.replace("prompt: prompts/summarise.prompt.yml", f"prompt: {prompt}"))
    res = gate("cost", cwd=cost_repo.path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.splitlines()[0] == (f"error: traffic.yaml:9:13: $.routes.summarise.prompt: {prompt}: outside the "
                                          "repository; a route's prompt is a file of the repository")


def test_cost_bad_budget_route_is_exit_2_at_gate_yaml(cost_repo: GitRepo) -> None:
    cost_repo.write("gate.yaml", GATE.replace("      chat:", "      chta:"))
    res = gate("cost", cwd=cost_repo.path)
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: gate.yaml:10:13: no route 'chta' in traffic.yaml (did you mean 'chat'?)"


def test_cost_verb_prints_breakdown_of_one_profile(cost_repo: GitRepo) -> None:
    res = gate("cost", "--profile", "peak", cwd=cost_repo.path)
    assert res.exit_code == 0, res.stderr
    assert "profile peak (30 days/month): $" in res.stdout and "profile expected" not in res.stdout
    assert "chat" in res.stdout and "summarise" in res.stdout and "by model: small $" in res.stdout
    assert "prices: genai-prices" in res.stdout and "Monthly cost will not change" in res.stdout
    assert "verdict: PASS" in res.stdout


def test_cost_verb_unwritable_output_is_exit_2_and_stdout_keeps_the_breakdown(cost_repo: GitRepo,
                                                                               tmp_path: Path) -> None:
    (tmp_path / "file").write_text("", encoding="utf-8")
    bad = tmp_path / "file" / "r.json"
    res = gate("cost", "--report-json", bad, "--junit", tmp_path / "r.xml", cwd=cost_repo.path)
    assert res.exit_code == 2, res.stdout + res.stderr
    assert res.stderr.startswith(f"error: {bad}: cannot write: ")
    assert "profile expected (30 days/month): $" in res.stdout and "verdict: PASS" in res.stdout
    assert (tmp_path / "r.xml").read_text(encoding="utf-8").startswith("<?xml")


def test_cost_verb_hostile_route_names_inert_on_the_terminal(cost_repo: GitRepo) -> None:
    hostile = '"sum\\e[2J\\r\\n::error file=x::pwned ##[group]"'
    cost_repo.write("traffic.yaml", TRAFFIC.replace("  summarise:", f"  {hostile}:"))
    res = gate_subprocess("cost", cwd=cost_repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    assert "\x1b" not in res.stdout and "\r" not in res.stdout
    assert not [line for line in res.stdout.splitlines() if line.lstrip().startswith("::") or "##[" in line]
    assert "pwned" in res.stdout  # shown, inert


def test_cost_verb_unknown_profile_is_exit_2(cost_repo: GitRepo) -> None:
    res = gate("cost", "--profile", "pek", cwd=cost_repo.path)
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: --profile: no profile 'pek' in traffic.yaml (profiles: expected, peak)"


def test_cost_verb_json_and_markdown_outputs_carry_sentence_and_pie(cost_repo: GitRepo, tmp_path: Path) -> None:
    cost_repo.write("traffic.yaml", TRAFFIC.replace("output_tokens: 200", "output_tokens: 400"))
    md = tmp_path / "summary.md"
    res = gate("cost", "--format", "json", "--markdown", md, cwd=cost_repo.path)
    assert res.exit_code == 1
    report = res.json()
    assert [c["name"] for c in report["checks"]] == ["cost"]
    text = md.read_text()
    assert "**Monthly cost will increase by" in text and "moved by chat" in text
    assert "```mermaid\npie title Monthly cost by route (expected), USD" in text


def test_cost_example_doubled_output_fails_and_names_route(repo: GitRepo) -> None:
    for item in EXAMPLE.iterdir():
        target = repo.path / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy(item, target)
    repo.commit("example")
    clean = gate_subprocess("check", "--only", "cost", "--format", "json", cwd=repo.path)
    assert clean.exit_code == 0, clean.stdout + clean.stderr
    profiles = cost_of(clean.json())["details"]["profiles"]
    assert [p["name"] for p in profiles] == ["expected", "low", "peak"] and all(p["monthly_usd"] > 0 for p in profiles)

    repo.git("checkout", "-q", "-b", "feature")
    traffic = (repo.path / "traffic.yaml").read_text()
    (repo.path / "traffic.yaml").write_text(traffic.replace("output_tokens: 180", "output_tokens: 360"))
    doubled = gate_subprocess("check", "--only", "cost", "--report-json", "r.json", cwd=repo.path)
    assert doubled.exit_code == 1
    assert "moved by answer (+$" in doubled.stdout
    report = json.loads((repo.path / "r.json").read_text())
    assert cost_of(report)["metrics"]["delta_pct"] > 25

    # The model behind `primary` (the answer prompt's model) moves to a larger one.
    (repo.path / "traffic.yaml").write_text(traffic)
    models = (repo.path / "models.yaml").read_text()
    (repo.path / "models.yaml").write_text(models.replace("model: openai/gpt-4o-mini", "model: openai/gpt-4o"))
    bigger = gate("check", "--only", "cost", cwd=repo.path)
    assert bigger.exit_code == 1 and "moved by answer (+$" in bigger.stdout


@pytest.mark.parametrize(("old", "new", "message"), [
    ("  traffic: traffic.yaml\n", "  traffic: trafic.yaml\n",
     "error: gate.yaml:5:12: trafic.yaml: file not found (relative to .)"),
    ("  traffic: traffic.yaml\n", "  traffic: traffic.yaml\n  profile: peek\n",
     "error: gate.yaml:6:12: no profile 'peek' in traffic.yaml (did you mean 'peak'?)"),
    ("{warn: 10, fail: 25}", "{warn: 30, fail: 25}", "error: gate.yaml:8:23: warn (30) is above fail (25): warn must come first"),
])
def test_cost_bad_cost_section_is_exit_2_at_gate_yaml(cost_repo: GitRepo, old: str, new: str, message: str) -> None:
    cost_repo.write("gate.yaml", GATE.replace(old, new))
    res = gate("check", cwd=cost_repo.path)
    assert res.exit_code == 2 and res.stderr.strip() == message


def test_cost_broken_models_yaml_is_a_finding_not_a_usage_error(cost_repo: GitRepo) -> None:
    cost_repo.write("models.yaml", MODELS + "  bad: [\n")
    res = gate("check", "--format", "json", cwd=cost_repo.path)
    assert res.exit_code == 1, res.stderr
    cost = cost_of(res.json())
    assert cost["status"] == "fail" and cost["summary"].startswith("cannot project the cost: models.yaml:")
    assert cost["findings"][0]["file"] == "models.yaml" and cost["findings"][0]["line"] == 6


@pytest.mark.parametrize(("budget", "status", "code", "needle"), [
    ("monthly_usd: {warn: 10, fail: 1000}", "warn", 0, "monthly cost $"),
    ("monthly_usd: 10", "fail", 1, "over the fail budget of $10.00"),
    ("max_increase_usd: {warn: 1}", "warn", 0, "rises by $"),
    ("{statistic: p95, monthly_usd: 200}", "fail", 1, "monthly cost (p95) $"),
])
def test_cost_budget_levels_set_status_and_exit_code(cost_repo: GitRepo, budget: str, status: str, code: int, needle: str) -> None:
    gate_yaml = GATE.split("  budget:")[0] + (f"  budget: {budget}\n" if budget.startswith("{") else
                                               f"  budget:\n    {budget}\n")
    cost_repo.write("gate.yaml", gate_yaml)
    traffic = TRAFFIC.replace("requests_per_day: 10000", "requests_per_day: {p50: 10000, p95: 30000}")
    cost_repo.write("traffic.yaml", traffic)
    cost_repo.commit("distribution")
    cost_repo.write("traffic.yaml", traffic.replace("output_tokens: 200", "output_tokens: 210"))
    code_, report = run_json(cost_repo)
    cost = cost_of(report)
    assert (code_, cost["status"]) == (code, status), cost["findings"]
    assert any(needle in f["message"] for f in cost["findings"]), cost["findings"]
    if "p95" in budget:
        assert cost["metrics"]["monthly_usd"] < 200 < cost["metrics"]["monthly_usd_p95"]


def test_cost_verb_profile_option_picks_the_gated_profile(cost_repo: GitRepo) -> None:
    cost_repo.write("gate.yaml", GATE.replace("{warn: 900, fail: 2000}", "{warn: 200, fail: 2000}"))
    expected = gate("cost", "--format", "json", cwd=cost_repo.path)
    peak = gate("cost", "--profile", "peak", "--format", "json", cwd=cost_repo.path)
    assert expected.exit_code == 0 and cost_of(expected.json())["status"] == "pass"
    # Three times the volume: peak is over the $200 warn budget that expected is under.
    assert peak.exit_code == 0 and cost_of(peak.json())["status"] == "warn"
    assert cost_of(peak.json())["details"]["profile"] == "peak"
    assert cost_of(peak.json())["metrics"]["monthly_usd"] == pytest.approx(
        3 * cost_of(expected.json())["metrics"]["monthly_usd"], abs=0.02)  # metrics are rounded to cents


def test_cost_verb_without_cost_section_is_exit_2(repo: GitRepo) -> None:
    repo.write("gate.yaml", "version: 1\n")
    res = gate("cost", cwd=repo.path)
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: gate.yaml: no `cost:` section (add `cost: {traffic: traffic.yaml}`)"


def test_cost_increase_from_nothing_breaches_max_increase_pct(cost_repo: GitRepo) -> None:
    idle = TRAFFIC.replace("requests_per_day: 10000", "requests_per_day: 0").replace(
        "requests_per_day: 2000", "requests_per_day: 0")
    cost_repo.write("traffic.yaml", idle)
    cost_repo.commit("not launched yet")
    cost_repo.write("traffic.yaml", TRAFFIC)  # the launch: $0 a month before, a real bill now
    code, report = run_json(cost_repo, "--base-ref", "HEAD")
    cost = cost_of(report)
    assert cost["metrics"]["monthly_usd_base"] == 0 and "delta_pct" not in cost["metrics"]
    assert (code, cost["status"]) == (1, "fail"), cost["findings"]
    (error,) = [f for f in cost["findings"] if f["severity"] == "error"]
    assert error["line"] == 8 and "rises from nothing, an unbounded increase ($0.00 -> $" in error["message"]
    assert error["message"].endswith("over the fail budget of 25%")


def test_cost_profile_new_on_branch_says_why_not_compared(cost_repo: GitRepo) -> None:
    cost_repo.write("traffic.yaml", TRAFFIC + "  launch: {days_per_month: 30, volume_scale: 10}\n")
    res = gate("cost", "--profile", "launch", "--format", "json", "--markdown", "c.md", cwd=cost_repo.path)
    assert res.exit_code == 0, res.stderr
    cost = cost_of(res.json())
    reason = "profile launch is new: the base's traffic.yaml has no such profile"
    assert cost["details"]["base"]["reason"] == reason and cost["details"]["diff"] is None
    assert "base not compared" in cost["summary"] and "monthly_usd_base" not in cost["metrics"]
    assert "profile launch is new" in (cost_repo.path / "c.md").read_text()
