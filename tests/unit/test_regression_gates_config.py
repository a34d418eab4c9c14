"""Gates of the regression section that name a metric no suite scores are configuration errors at their line;
a name the suites' files score (a prompt's evaluator, a dataset row's assert) is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prodgate_checks.regression.check import RegressionCheck

from gate.config import load_config
from gate.errors import ConfigError

PROMPT = """name: qa
model: m
messages:
  - role: user
    content: "{{q}}"
testData:
  - q: hi
evaluators:
  - name: grounded
    uses: github/groundedness
  - name: says hi
    string: {contains: hi}
"""


def _prepare(tmp_path: Path, regression: str, rows: list[dict[str, object]] | None = None,
             prompt: str = PROMPT) -> None:
    (tmp_path / "qa.prompt.yml").write_text(prompt, encoding="utf-8")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows or [{"id": "a", "q": "hi"}]),
                                      encoding="utf-8")
    (tmp_path / "gate.yaml").write_text(f"version: 1\nprompts: ['*.prompt.yml']\nregression:\n{regression}",
                                        encoding="utf-8")
    RegressionCheck().prepare(load_config(tmp_path / "gate.yaml"))


SUITE = "  suites:\n    - prompt: qa.prompt.yml\n      dataset: d.jsonl\n"


def test_gate_names_metric_gate_typo_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _prepare(tmp_path, SUITE + "  gates:\n    metrics:\n      groundedness: {min_score: 0.6}\n")
    assert str(err.value).partition("/gate.yaml:")[2] == (
        "9:7: gates.metrics.groundedness: no suite scores a metric named 'groundedness' (did you mean "
        "'grounded'?): a gate applies to the llm, uses or deepeval metrics of the suites' `metrics:` and of their "
        "prompts' evaluators")


def test_gate_names_metric_gate_on_an_evaluator_or_a_suite_metric_is_accepted(tmp_path: Path) -> None:
    _prepare(tmp_path, SUITE + "      metrics: [{name: tone, uses: github/coherence}]\n"
             "  gates:\n    metrics:\n      grounded: {min_score: 0.6}\n      tone: {max_drop: 0.1}\n")


def test_gate_names_metric_gate_of_implicit_suites_reads_every_prompt(tmp_path: Path) -> None:
    _prepare(tmp_path, "  gates:\n    metrics:\n      grounded: {min_score: 0.6}\n")
    with pytest.raises(ConfigError, match="no suite scores a metric named 'tone' "):
        _prepare(tmp_path, "  gates:\n    metrics:\n      tone: {min_score: 0.6}\n")


def test_gate_names_metric_gate_on_a_pass_fail_metric_says_it_has_no_score(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _prepare(tmp_path, SUITE + "  gates:\n    metrics:\n      says hi: {min_score: 0.6}\n")
    assert "gates.metrics.says hi: 'says hi' passes or fails by itself, it has no score: its failures count in " \
           "the pass rate" in str(err.value)


def test_gate_names_metric_gate_with_evaluators_off_names_what_is_scored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no suite scores a metric named 'grounded' \(no suite has a scored"):
        _prepare(tmp_path, SUITE + "      evaluators: false\n  gates:\n    metrics:\n      grounded: {min_score: 0.6}\n")


def test_gate_names_threshold_typo_is_a_config_error_at_its_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _prepare(tmp_path, SUITE + "      thresholds: {groundd: 0.9}\n")
    assert str(err.value).partition("/gate.yaml:")[2].startswith("7:20: thresholds.groundd: the suite scores no metric named "
                                     "'groundd' (did you mean 'grounded'?)")


def test_gate_names_threshold_on_a_dataset_rows_assert_is_accepted(tmp_path: Path) -> None:
    rows = [{"id": "a", "q": "hi", "assert": [{"name": "tone", "uses": "github/coherence"}]}, {"id": "b", "q": "yo"}]
    _prepare(tmp_path, SUITE + "      thresholds: {tone: 0.9, grounded: 0.8}\n", rows)
    with pytest.raises(ConfigError, match=r"thresholds.tones: .* \(did you mean 'tone'"):
        _prepare(tmp_path, SUITE + "      thresholds: {tones: 0.9}\n", rows)


def test_gate_names_unreadable_suite_files_leave_it_to_the_run(tmp_path: Path) -> None:
    # A prompt or dataset that cannot be read might score the name: its own defect stops the run instead.
    _prepare(tmp_path, SUITE + "  gates:\n    metrics:\n      tone: {min_score: 0.6}\n", prompt="name: [qa\n")
    _prepare(tmp_path, SUITE + "      thresholds: {tone: 0.9}\n", [{"q": "no id"}])


def test_gate_names_prompt_without_test_data_is_no_suite_without_suites(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no suite scores a metric named 'grounded'"):
        _prepare(tmp_path, "  gates:\n    metrics:\n      grounded: {min_score: 0.6}\n",
                 prompt=PROMPT.replace("testData:\n  - q: hi\n", ""))


def test_gate_names_defective_evaluators_leave_it_to_the_run(tmp_path: Path) -> None:
    # Evaluators that are not a list: the suite's defect, reported by the run, not a name missing from them.
    _prepare(tmp_path, SUITE + "  gates:\n    metrics:\n      grounded: {min_score: 0.6}\n",
             prompt=PROMPT.split("evaluators:")[0] + "evaluators: {name: grounded, uses: github/groundedness}\n")
