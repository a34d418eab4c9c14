"""Verdicts a reviewer can trust, through the real CLI on real git repositories: renamed cases, tiny suites, the
first pull requests without a baseline, and a flipped case shown beside the base branch's answer."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.conftest import GitRepo, gate, gate_subprocess

PROMPT = "name: p\nmodel: m\nmessages:\n  - role: system\n    content: Be brief.\n  - role: user\n    content: '{{q}}'\n"
# The app under test answers what the dataset row says it does: each scenario is one edit to the dataset.
# A row marked `flaky` fails its second repeat: a model that answers differently each time.
BOT = ("def answer(case):\n"
       "    if case['vars'].get('flaky') and case['repeat'] == 1:\n"
       "        return 'no'\n"
       "    return case['vars']['reply']\n")


def _config(gates: str = "", baseline: str = "", repeats: int = 1) -> str:
    return (f"version: 1\nregression:\n  target: {{python: 'verdictbot:answer'}}\n  cache: false\n  repeats: {repeats}\n"
            f"{baseline}  suites:\n    - name: s\n      prompt: p.prompt.yml\n      dataset: d.jsonl\n"
            "      metrics:\n        - contains: ok\n" + (f"  gates: {gates}\n" if gates else ""))


def _rows(n: int, bad: set[int] = frozenset(), ids: dict[int, str] | None = None) -> str:  # type: ignore[assignment]
    rows = [{"id": (ids or {}).get(i, f"case-{i:03d}"), "q": f"question {i}?",
             "reply": f"no, not that (case {i})" if i in bad else f"ok: answer {i}"} for i in range(n)]
    return "".join(json.dumps(r) + "\n" for r in rows)


def _repo(repo: GitRepo, rows: str, gates: str = "", baseline: str = "") -> None:
    repo.write("p.prompt.yml", PROMPT)
    repo.write("verdictbot.py", BOT)
    repo.write("gate.yaml", _config(gates, baseline))
    repo.write("d.jsonl", rows)
    res = gate("baseline", "update", "-c", repo.path / "gate.yaml", cwd=repo.path)
    assert res.exit_code == 0, res.stdout + res.stderr
    repo.commit("the app and its baseline")
    repo.git("checkout", "-q", "-b", "change")


def _check(repo: GitRepo, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    md = tmp_path / "comment.md"
    res = gate("check", "-c", repo.path / "gate.yaml", "--only", "regression", "--format", "json", "--base-ref", "main",
               "--markdown", md, cwd=repo.path)
    check = next(c for c in res.json()["checks"] if c["name"] == "regression")
    return res.exit_code, check, md.read_text(encoding="utf-8")


def test_regression_renamed_half_collapsed_fails_paired_by_input(repo: GitRepo, tmp_path: Path) -> None:
    _repo(repo, _rows(40))
    # Half the ids renamed, and every other renamed case now fails: by id alone only the healthy half is compared.
    repo.write("d.jsonl", _rows(40, bad={i for i in range(20, 40, 2)}, ids={i: f"renamed-{i}" for i in range(20, 40)}))
    repo.commit("renamed cases, and half of them broke")
    code, check, md = _check(repo, tmp_path)
    assert code == 1 and check["status"] == "fail"
    [rate] = check["details"]["comparisons"]
    assert rate["n"] == 40 and rate["regression"] is True and len(rate["pass_to_fail"]) == 10
    assert rate["base_ids"]["renamed-20"] == "case-020"
    assert "; 40 of 40 baseline cases compared; s: pass rate regressed" in check["summary"]
    assert "40 of 40 baseline cases compared, 20 of them renamed and paired by their input." in md


def test_regression_renamed_with_new_inputs_under_min_coverage_fails(repo: GitRepo, tmp_path: Path) -> None:
    _repo(repo, _rows(20))
    rows = [json.loads(line) for line in _rows(20).splitlines()]
    for r in rows[5:]:
        r["id"], r["q"] = "new-" + r["id"], r["q"].replace("question", "reworded")
    repo.write("d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    repo.commit("reworded and renamed")
    code, check, md = _check(repo, tmp_path)
    assert code == 1
    assert "5 of 20 baseline cases compared" in check["summary"]
    assert "5 of 20 baseline cases compared; 15 new cases not in the baseline." in md
    assert ("s: only 5 of 20 baseline cases compared (25%, under gates.min_coverage 80%)"
            in check["details"]["violations"][0])
    shown = md.replace("\\", "")  # as GitHub shows it: markdown escapes gone
    assert "**Why this check failed:**\n\n- s: only 5 of 20 baseline cases compared (25%, under gates.min_coverage 80%)" in shown


def test_regression_three_cases_all_fail_too_few_warns(repo: GitRepo, tmp_path: Path) -> None:
    _repo(repo, _rows(3))
    repo.write("d.jsonl", _rows(3, bad={0, 1, 2}))
    repo.commit("everything broke")
    code, check, md = _check(repo, tmp_path)
    assert code == 0 and check["status"] == "warn"
    [rate] = check["details"]["comparisons"]
    assert rate["verdict"] == "too_few" and rate["cases_to_detect"] == 6
    assert check["summary"].endswith("too few cases to tell (n=3); about 6 cases would detect a drop of 100.0 pts")
    row = next(line for line in md.splitlines() if line.startswith("| s | pass"))
    assert "⚪ too few cases to tell \\(n=3\\)" in row and "✅" not in row


def test_regression_no_baseline_failing_cases_listed_worst_first(repo: GitRepo, tmp_path: Path) -> None:
    repo.write("p.prompt.yml", PROMPT)
    repo.write("verdictbot.py", BOT)
    repo.write("gate.yaml", _config("{min_pass_rate: 0.9}"))
    repo.write("d.jsonl", _rows(12, bad={3, 7}))
    repo.commit("first pull request: no baseline yet")
    code, check, md = _check(repo, tmp_path)
    assert code == 1 and check["status"] == "fail"
    assert "s: pass rate 83.3% is below the minimum 90.0%" in check["details"]["violations"]
    shown = md.replace("\\", "")  # as GitHub shows it: markdown escapes gone
    assert "**Why this check failed:**\n\n- s: pass rate 83.3% is below the minimum 90.0%\n" in shown
    assert "**Failing cases, worst first** (2):" in md
    blocks = re.findall(r"<details><summary>s / (case-\d+) — quality.assertion: (.*?)</summary>", md)
    assert [b[0] for b in blocks] == ["case-003", "case-007"]
    assert "Case: `d.jsonl:4`" in md
    assert "question 3?" in md and "no, not that (case 3)" in md


def test_regression_flipped_case_shows_base_answer_beside_new(repo: GitRepo, tmp_path: Path) -> None:
    _repo(repo, _rows(30), gates="{max_pass_rate_drop: 0.05}")
    base = json.loads((repo.path / ".gate" / "baseline.json").read_text(encoding="utf-8"))
    assert base["suites"]["s"]["cases"]["case-002"]["output"] == "ok: answer 2"
    repo.write("d.jsonl", _rows(30, bad=set(range(12))))
    repo.commit("a worse prompt")
    code, check, md = _check(repo, tmp_path)
    assert code == 1
    block = md.split("<details><summary>s / case-002 — ", 1)[1].split("</details>", 1)[0]
    assert "Base branch answer:\n\n```\nok: answer 2\n```" in block
    assert "This branch's answer:\n\n```\nno, not that (case 2)\n```" in block
    assert "Case: `d.jsonl:3`" in block
    # The <summary> is raw HTML: escaped for HTML, never with markdown backslashes.
    summaries = [line for line in md.splitlines() if "<summary>" in line]
    assert summaries and not any("\\-" in s or "\\." in s for s in summaries)


def test_regression_wording_improved_says_by_how_much(repo: GitRepo, tmp_path: Path) -> None:
    _repo(repo, _rows(300, bad=set(range(30))), gates="{max_pass_rate_drop: 0.05}")
    repo.write("d.jsonl", _rows(300))
    repo.commit("fixed the prompt")
    code, check, md = _check(repo, tmp_path)
    assert code == 0 and check["status"] == "pass"
    assert check["summary"].endswith(": improved by 10.0 pts") and "within noise" not in check["summary"]
    assert "✅ improved by 10\\.0 pts" in md


def test_regression_wording_significant_drop_within_tolerance(repo: GitRepo, tmp_path: Path) -> None:
    _repo(repo, _rows(300), gates="{max_pass_rate_drop: 0.05}")
    repo.write("d.jsonl", _rows(300, bad=set(range(12))))
    repo.commit("a 4-point drop, inside the 5-point tolerance")
    code, check, md = _check(repo, tmp_path)
    assert code == 0 and check["status"] == "pass"
    [rate] = check["details"]["comparisons"]
    assert rate["verdict"] == "significant_within_tolerance" and rate["p_adjusted"] < 0.001
    assert check["summary"].endswith("p<0.001): drop of 4.0 pts is significant but within the 5-pt tolerance")


def test_regression_flaky_baseline_comment_says_stochastic(repo: GitRepo, tmp_path: Path) -> None:
    rows = [json.loads(line) for line in _rows(12).splitlines()]
    for r in rows[:4]:
        r["flaky"] = True
    repo.write("p.prompt.yml", PROMPT)
    repo.write("verdictbot.py", BOT)
    repo.write("gate.yaml", _config(repeats=3))
    repo.write("d.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    assert gate("baseline", "update", "-c", repo.path / "gate.yaml", cwd=repo.path).exit_code == 0
    repo.commit("baseline of a stochastic model")
    code, check, md = _check(repo, tmp_path)
    assert code == 0
    assert any(n.startswith("s: the model is stochastic: in the baseline, 4 of 12 cases' repeats disagreed")
               for n in check["details"]["notes"])
    assert "raise `repeats` (with `pass_at`)" in md.replace("\\", "")


def test_regression_terminal_fits_columns_as_a_process(repo: GitRepo) -> None:
    _repo(repo, _rows(30))
    repo.write("d.jsonl", _rows(30, bad=set(range(12))))
    repo.commit("a worse prompt")
    res = gate_subprocess("check", "-c", repo.path / "gate.yaml", "--only", "regression", "--base-ref", "main",
                          cwd=repo.path, env={"COLUMNS": "80", "NO_COLOR": "1"})
    assert res.exit_code == 1, res.stdout + res.stderr
    lines = res.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, res.stdout
    words = " ".join(lines).split()
    assert "compared;" in words and words[words.index("compared;") - 2:words.index("compared;")] == ["baseline", "cases"]
    flipped = [line for line in lines if "[s/case-" in line]
    assert len(flipped) == 12 and all(line.count("case-0") == 1 for line in flipped)
