"""Generated and mutated files under review, through the real CLI on a copy of the example repository.

Valid files must be accepted; mutated ones must end within a bound with exit 0-2 and a report that holds to
report.schema.json (the `gate` helper checks every report), never a traceback, a crash or exit 3."""

from __future__ import annotations

import contextlib
import json
import random
import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.conftest import EXAMPLE, Result, gate, gate_subprocess

from .strategies import (
    Mutation,
    models_yaml,
    mutate,
    mutate_jsonl,
    mutations,
    prompt_yaml,
    sections,
    traffic_yaml,
)

BOUND_S = 60  # one CLI run; the slowest real one takes ~2 s in-process on a busy machine
ANSWER_PROMPT = "prompts/answer.prompt.yml"
DATASET = "datasets/answers.jsonl"
CASSETTE = "cassettes/support-bot.jsonl"
REGRESSION = ("check", "--only", "regression", "--format", "json")


def _text(rel: str) -> str:
    return (EXAMPLE / rel).read_text(encoding="utf-8")


@contextlib.contextmanager
def _bounded(seconds: int) -> Iterator[None]:
    """A hang is a failure: the alarm interrupts the run (the CLI runs in this, the main, thread)."""
    def alarm(signum: int, frame: Any) -> None:
        raise TimeoutError(f"the gate did not end within {seconds} s")

    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def run(files: dict[str, str | bytes], *args: str) -> Result:
    """The CLI in-process on a fresh copy of the example with `files` replaced."""
    with tempfile.TemporaryDirectory(prefix="prodgate-fuzz-") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(EXAMPLE, root)
        for rel, content in files.items():
            (root / rel).write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        with _bounded(BOUND_S):
            return gate(*args, cwd=root)


def holds(res: Result, allowed: set[int]) -> dict[str, Any] | None:
    """The exit-code contract: an allowed code, a one-line error for exit 2, a report without a crashed check."""
    assert res.exit_code in allowed, f"exit {res.exit_code}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
    assert "Traceback" not in res.stderr and "internal error" not in res.stderr, res.stderr[-2000:]
    if res.exit_code == 2:
        assert res.stderr.startswith("error: "), res.stderr[-2000:]
        return None
    report = json.loads(res.stdout)
    for check in report["checks"]:
        assert not check["summary"].startswith("check crashed"), check["summary"]
        assert check["status"] != "error", check["summary"]
    return report


# -- valid files are accepted -------------------------------------------------------------------------------


@given(models_yaml(_text("models.yaml")))
def test_fuzz_models_valid_is_accepted(models: str) -> None:
    holds(run({"models.yaml": models}, "validate", "--format", "json"), {0})


@given(prompt_yaml())
def test_fuzz_prompt_valid_is_accepted(prompt: str) -> None:
    holds(run({"prompts/fuzz.prompt.yml": prompt}, "validate", "--format", "json"), {0})


# traffic.yaml takes token counts from the regression suites: without regression, cost must go too.
@given(st.sets(st.sampled_from(["schema", "docs", "cost", "regression", "load"])).map(
    lambda d: d | {"cost"} if "regression" in d else d))
@example({"regression", "cost"})
def test_fuzz_gate_yaml_valid_sections_dropped_is_accepted(dropped: set[str]) -> None:
    text = _text("gate.yaml")
    for name in dropped:  # a section runs to the next top-level key
        text = "".join(part for part in _top_level(text) if not part.startswith(f"{name}:"))
    holds(run({"gate.yaml": text}, "validate", "--format", "json"), {0})


def _top_level(text: str) -> list[str]:
    parts: list[str] = []
    for line in text.splitlines(keepends=True):
        if parts and (not line.strip() or line[0] in " #"):
            parts[-1] += line
        else:
            parts.append(line)
    return parts


@given(traffic_yaml())
@example("version: 1\nroutes:\n  answer: {model: primary, requests_per_day: 1, input_tokens: 1, output_tokens: 1, growth: 0.000001}\n"
         "profiles:\n  expected: {days_per_month: 30}\n")
def test_fuzz_traffic_valid_is_projected(traffic: str) -> None:
    report = holds(run({"traffic.yaml": traffic}, "cost", "--format", "json"), {0, 1})
    assert report is not None and report["checks"][0]["metrics"]["monthly_usd"] >= 0


@given(st.randoms(use_true_random=False))
def test_fuzz_failure_modes_reordered_still_pass(rng: random.Random) -> None:
    head, parts = sections(_text("docs/failure-modes.md"))
    rng.shuffle(parts)
    holds(run({"docs/failure-modes.md": head + "".join(p if p.endswith("\n\n") else p + "\n" for p in parts)},
              "docs", "--format", "json"), {0})


@given(st.randoms(use_true_random=False))
def test_fuzz_dataset_subset_passes(rng: random.Random) -> None:
    lines = _text(DATASET).splitlines(keepends=True)
    kept = sorted(rng.sample(range(len(lines)), k=rng.randint(1, len(lines))))
    report = holds(run({DATASET: "".join(lines[i] for i in kept)}, *REGRESSION), {0, 1})
    assert report is not None and report["checks"][0]["metrics"]["cases"] >= len(kept)
    if report["verdict"] == "fail":
        # Dropping cases is allowed; dropping more than gates.min_coverage of the baseline is the one way to fail.
        assert "baseline cases compared" in report["checks"][0]["summary"], report["checks"][0]["summary"]


# -- mutated files end with a verdict -------------------------------------------------------------------------


@given(mutations())
@example([("value", 9, 0)])  # params: .nan
@example([("value", 10, 0)])  # timeout: .nan
@example([("value", 11, 0)])  # fallback: .nan
@example([("insert", 6, 23)])  # a stray '- - -' line inside `models:`
def test_fuzz_models_mutated_ends_with_a_verdict(steps: list[Mutation]) -> None:
    holds(run({"models.yaml": mutate(_text("models.yaml"), steps)}, "validate", "--format", "json"), {0, 1, 2})


@given(mutations())
@example([("bytes", 40, 0)])  # an invalid UTF-8 byte
@example([("value", 4, 1)])  # modelParameters: .inf
def test_fuzz_prompt_mutated_ends_with_a_verdict(steps: list[Mutation]) -> None:
    holds(run({ANSWER_PROMPT: mutate(_text(ANSWER_PROMPT), steps)}, "validate", "--format", "json"), {0, 1, 2})


@given(mutations())
@example([("value", 3, 0)])  # models: .nan
def test_fuzz_gate_yaml_mutated_ends_with_a_verdict(steps: list[Mutation]) -> None:
    holds(run({"gate.yaml": mutate(_text("gate.yaml"), steps)}, "validate", "--format", "json"), {0, 1, 2})


@given(mutations())
@example([("value", 9, 0)])  # requests_per_day: .nan
@example([("value", 9, 3)])  # requests_per_day: 1.0e+308
@example([("value", 14, 0)])  # retry_rate: .nan
def test_fuzz_traffic_mutated_ends_with_a_verdict(steps: list[Mutation]) -> None:
    holds(run({"traffic.yaml": mutate(_text("traffic.yaml"), steps)}, "cost", "--format", "json"), {0, 1, 2})


@given(mutations())
@example([("bytes", 100, 1)])  # a NUL byte
def test_fuzz_failure_modes_mutated_ends_with_a_verdict(steps: list[Mutation]) -> None:
    doc = _text("docs/failure-modes.md") + "\nSee [the runbook](runbook.md).\n"
    holds(run({"docs/failure-modes.md": mutate(doc, steps)}, "docs", "--format", "json"), {0, 1})


@given(mutations())
@example([("nan", 0, 0)])
def test_fuzz_dataset_mutated_ends_with_a_verdict(steps: list[Mutation]) -> None:
    holds(run({DATASET: mutate_jsonl(_text(DATASET), steps)}, *REGRESSION), {0, 1})


@given(mutations())
def test_fuzz_cassette_mutated_ends_with_a_verdict(steps: list[Mutation]) -> None:
    holds(run({CASSETTE: mutate_jsonl(_text(CASSETTE), steps)}, *REGRESSION), {0, 1})


# Found by the suite: a cassette line of the wrong shape was exit 3, not a finding at its line.
@pytest.mark.parametrize("steps", [
    pytest.param([("value", 0, 1)], id="key-list"),
    pytest.param([("nan", 0, 1)], id="key-infinity"),
])
def test_fuzz_cassette_known_defect_ends_with_a_finding(steps: list[Mutation]) -> None:
    holds(run({CASSETTE: mutate_jsonl(_text(CASSETTE), steps)}, *REGRESSION), {0, 1})


@pytest.mark.parametrize("steps", [[("value", 9, 0)], [("bytes", 0, 0)], [("truncate", 500, 0)]])
def test_fuzz_traffic_mutated_as_a_process_ends_with_a_verdict(tmp_path: Path, steps: list[Mutation]) -> None:
    root = tmp_path / "repo"
    shutil.copytree(EXAMPLE, root)
    (root / "traffic.yaml").write_bytes(mutate(_text("traffic.yaml"), steps))
    holds(gate_subprocess("cost", "--format", "json", cwd=root, timeout=BOUND_S), {0, 1, 2})
