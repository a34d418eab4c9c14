"""One monthly cost per commit: `gate cost`, `gate check` and the comment's base figure all read the recorded usage."""

from __future__ import annotations

import json
import shutil
from typing import Any

import pytest

from tests.conftest import EXAMPLE, GitRepo, gate

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
