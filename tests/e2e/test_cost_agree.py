"""One monthly cost per commit: `gate cost`, `gate check` and the comment's base figure all read the recorded usage."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.conftest import EXAMPLE, GitRepo, gate
from tests.servers.openai_fake import serve

CASSETTE = "cassettes/support-bot.jsonl"


def cost_of(report: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in report["checks"] if c["name"] == "cost")


def routes(check: dict[str, Any]) -> dict[str, dict[str, Any]]:
    profile = next(p for p in check["details"]["profiles"] if p["name"] == check["details"]["profile"])
    return {r["name"]: r for r in profile["routes"]}


def longer_answers(repo: GitRepo, extra: int) -> None:
    """A re-recording whose answers' requests are `extra` tokens longer (what a longer prompt records)."""
    path = repo.path / CASSETTE
    lines = []
    for line in path.read_text().splitlines():
        item = json.loads(line)
        item["response"]["usage"]["input_tokens"] += extra
        lines.append(json.dumps(item, sort_keys=True, ensure_ascii=False))
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def example(repo: GitRepo) -> GitRepo:
    for item in EXAMPLE.iterdir():
        target = repo.path / item.name
        shutil.copytree(item, target) if item.is_dir() else shutil.copy(item, target)
    repo.commit("example")
    return repo


def test_cost_verb_check_and_base_report_one_figure_per_commit(example: GitRepo) -> None:
    example.git("checkout", "-q", "-b", "feature")
    longer_answers(example, 40)
    traffic = (example.path / "traffic.yaml").read_text()
    (example.path / "traffic.yaml").write_text(traffic.replace("{mean: 60000, sd: 8000}", "{mean: 90000, sd: 8000}"))
    example.commit("longer answers, more routing")

    verb = gate("cost", "--format", "json", cwd=example.path)
    check = gate("check", "--only", "regression,cost", "--format", "json", cwd=example.path)
    assert (verb.exit_code, check.exit_code) == (0, 0), verb.stderr + check.stdout + check.stderr
    alone, within = cost_of(verb.json()), cost_of(check.json())
    assert alone["metrics"] == within["metrics"]
    assert alone["summary"] == within["summary"]
    assert "tokens estimated" not in within["summary"]

    # The figure is the regression run's own measurement of the same recording.
    usage = next(c for c in check.json()["checks"] if c["name"] == "regression")["details"]["usage_by_suite"]
    head_routes = routes(within)
    assert head_routes["answer"]["input_tokens"]["value"] == pytest.approx(usage["answers"]["input_tokens"]["mean"],
                                                                           abs=1e-3)
    assert head_routes["classify"]["input_tokens"]["value"] == pytest.approx(usage["routing"]["input_tokens"]["mean"],
                                                                             abs=1e-3)
    assert head_routes["answer"]["input_tokens"]["source"] == (
        f"measured: suite answers ({usage['answers']['cases']} cases recorded in {CASSETTE})")

    # The table says what moved, base -> head, route by route.
    moved = {r["name"]: r["moved"] for r in within["details"]["diff"]["routes"]}
    assert moved["classify"]["requests_month"] == [1_800_000, 2_700_000]
    assert moved["classify"]["input_tokens"][1] - moved["classify"]["input_tokens"][0] == pytest.approx(40)
    assert set(moved["answer"]) == {"input_tokens"}
    assert moved["answer"]["input_tokens"][1] - moved["answer"]["input_tokens"][0] == pytest.approx(40)

    # The base figure is what `gate check` reports on the base commit itself.
    example.git("checkout", "-q", "main")
    on_base = gate("check", "--only", "regression,cost", "--format", "json", cwd=example.path)
    assert on_base.exit_code == 0, on_base.stdout + on_base.stderr
    base = cost_of(on_base.json())
    assert within["metrics"]["monthly_usd_base"] == base["metrics"]["monthly_usd"]
    base_routes = {r["name"]: r["base_usd"] for r in within["details"]["diff"]["routes"]}
    assert base_routes == {name: r["monthly_usd"] for name, r in routes(base).items()}
    assert within["metrics"]["monthly_usd"] > base["metrics"]["monthly_usd"]


def test_cost_markdown_and_text_show_moved_inputs_base_to_head(example: GitRepo, tmp_path: Any) -> None:
    example.git("checkout", "-q", "-b", "feature")
    longer_answers(example, 40)
    example.commit("longer answers")
    res = gate("cost", "--markdown", tmp_path / "c.md", cwd=example.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    sentence = next(i for i, line in enumerate(lines) if line.startswith("Monthly cost will increase by"))
    moved = sorted(lines[sentence + 1:sentence + 3])
    assert [m.split(" → ")[0].rsplit(" ", 1)[0] for m in moved] == ["  answer: input tokens", "  classify: input tokens"]
    assert all(int(m.split(" → ")[1]) - int(m.split(" → ")[0].rsplit(" ", 1)[1]) == 40 for m in moved)
    row = next(line for line in (tmp_path / "c.md").read_text().splitlines() if line.startswith("| answer |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    before, after = cells[3].split(" / ")[0].split(" → ")
    assert int(after) - int(before) == 40
    assert cells[2] == "1,237,018"  # volume did not move: shown once


PROMPT = """\
name: Capital
version: {version}
model: fake
messages:
  - role: system
    content: {system}
  - role: user
    content: "What is the capital of {{{{country}}}}?"
"""


def test_cost_after_a_prompt_change_and_re_recording_agrees_everywhere(repo: GitRepo,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The everyday flow: change a prompt, bump its version, `gate check --record`, commit the cassette.
    The re-recording keeps the old prompt's lines beside the new ones; they are not this commit's usage."""
    monkeypatch.setenv("FAKE_API_KEY", "test-key-not-secret")
    repo.write("cases.jsonl", "".join(json.dumps({"id": c.lower(), "country": c}) + "\n"
                                      for c in ("France", "Italy", "Peru")))
    repo.write("prompts/capital.prompt.yml", PROMPT.format(version="1.0.0", system="Be brief."))
    repo.write("traffic.yaml", "version: 1\nroutes:\n  ask:\n    prompt: prompts/capital.prompt.yml\n"
               "    requests_per_day: 10000\n    input_tokens: {measured: capitals}\n"
               "    output_tokens: {measured: capitals}\nprofiles:\n  expected: {days_per_month: 30}\n")
    repo.write("gate.yaml", "version: 1\nprompts: ['prompts/*.prompt.yml']\nmodels: models.yaml\n"
               "regression:\n  target: {replay: cassettes/capitals.jsonl}\n  suites:\n    - name: capitals\n"
               "      prompt: prompts/capital.prompt.yml\n      dataset: cases.jsonl\ncost: {traffic: traffic.yaml}\n")
    with serve() as server:
        repo.write("models.yaml", "version: 1\nmodels:\n  fake:\n    provider: openai-compatible\n"
                   f"    model: fake-model\n    base_url: {server.url}/v1\n    api_key_env: FAKE_API_KEY\n"
                   "    pricing: {input_per_mtok: 2.0, output_per_mtok: 8.0}\n")
        assert gate("check", "--record", "--only", "regression", cwd=repo.path).exit_code == 0
        repo.commit("capitals")
        repo.git("checkout", "-q", "-b", "longer")
        repo.write("prompts/capital.prompt.yml", PROMPT.format(
            version="1.1.0", system="Answer in one short sentence, and name the country as well as its capital."))
        assert gate("check", "--record", "--only", "regression", cwd=repo.path).exit_code == 0
        assert server.count == 6
    cassette = (repo.path / "cassettes/capitals.jsonl").read_text().splitlines()
    assert len(cassette) == 6  # 3 answers of each prompt
    repo.commit("longer system prompt, re-recorded")

    # Offline from here: the server is gone.
    verb = gate("cost", "--format", "json", cwd=repo.path)
    check = gate("check", "--format", "json", cwd=repo.path)
    assert (verb.exit_code, check.exit_code) == (0, 0), verb.stdout + verb.stderr + check.stdout + check.stderr
    head = cost_of(check.json())
    assert cost_of(verb.json())["metrics"] == head["metrics"]
    usage = next(c for c in check.json()["checks"] if c["name"] == "regression")["details"]["usage_by_suite"]
    ask = routes(head)["ask"]
    assert ask["input_tokens"]["value"] == pytest.approx(usage["capitals"]["input_tokens"]["mean"], abs=1e-3)
    assert ask["output_tokens"]["value"] == pytest.approx(usage["capitals"]["output_tokens"]["mean"], abs=1e-3)
    moved = head["details"]["diff"]["routes"][0]["moved"]
    assert set(moved) == {"input_tokens"} and moved["input_tokens"][1] > moved["input_tokens"][0]

    repo.git("checkout", "-q", "main")
    on_base = gate("check", "--format", "json", cwd=repo.path)
    assert on_base.exit_code == 0, on_base.stdout + on_base.stderr
    base = cost_of(on_base.json())
    assert head["metrics"]["monthly_usd_base"] == base["metrics"]["monthly_usd"]
    assert moved["input_tokens"][0] == routes(base)["ask"]["input_tokens"]["value"]


def test_cost_model_switched_old_recordings_are_not_measured_tokens(example: GitRepo) -> None:
    # The answers on record came from gpt-4o-mini; with the primary switched, they measure nothing for gpt-4.1.
    example.git("checkout", "-q", "-b", "feature")
    models = (example.path / "models.yaml").read_text()
    switched = models.replace("    provider: github-models\n    model: openai/gpt-4o-mini",
                              "    provider: openai\n    model: gpt-4.1")
    assert switched != models
    (example.path / "models.yaml").write_text(switched)
    example.commit("answer with gpt-4.1")

    verb = gate("cost", "--format", "json", cwd=example.path)
    check = gate("check", "--only", "regression,cost", "--format", "json", cwd=example.path)
    # gpt-4.1 is dearer: both fail the budget, with one figure.
    assert (verb.exit_code, check.exit_code) == (1, 1), verb.stderr + check.stdout + check.stderr
    alone, within = cost_of(verb.json()), cost_of(check.json())
    assert alone["metrics"] == within["metrics"] and alone["status"] == within["status"] == "fail"
    answer = routes(within)["answer"]["input_tokens"]["source"]
    assert not answer.startswith("measured"), answer
    # The router's suite still answers with its own model: its recordings stay measured.
    assert routes(within)["classify"]["input_tokens"]["source"].startswith("measured: suite routing")


def test_cost_absurd_recorded_token_count_a_cassette_defect_not_a_crash(example: GitRepo) -> None:
    # A pull request's cassette that claims a 400-digit token count: the regression check names the line; the
    # cost check does not price the recording (nor crash summing it), it falls back to estimating.
    cassette = example.path / "cassettes" / "support-bot.jsonl"
    lines = cassette.read_text().splitlines()
    item = json.loads(lines[0])
    item["response"]["usage"]["input_tokens"] = 10**400
    cassette.write_text("\n".join([json.dumps(item), *lines[1:]]) + "\n")
    example.commit("a recording from elsewhere")

    check = gate("check", "--only", "regression,cost", "--format", "json", cwd=example.path)
    assert check.exit_code == 1, check.stdout + check.stderr
    regression = next(c for c in check.json()["checks"] if c["name"] == "regression")
    assert [(f["file"], f["line"]) for f in regression["findings"]] == [("cassettes/support-bot.jsonl", 1)]
    assert "must be a whole number of tokens from 0 to 1,000,000,000, not a 401-digit number" in \
        regression["findings"][0]["message"]
    cost = cost_of(check.json())
    assert cost["status"] != "error", cost["summary"]
    assert not routes(cost)["answer"]["input_tokens"]["source"].startswith("measured")
