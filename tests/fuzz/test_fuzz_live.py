"""Generated and mutated dataset lines answered by a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.conftest import gate
from tests.servers.openai_fake import FakeOpenAI, serve

from .strategies import Mutation, mutate_jsonl, mutations
from .test_fuzz_files import _bounded, holds

BOUND_S = 60
ARGS = ("check", "--only", "regression", "--format", "json")


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOpenAI]:
    with pytest.MonkeyPatch.context() as mp, serve() as srv:  # answers "You said: <the question>"
        mp.setenv("FAKE_API_KEY", "test-key-not-secret")
        yield srv


@pytest.fixture(scope="module")
def repo(server: FakeOpenAI) -> Iterator[Path]:
    """A repository template: a prompt, a models.yaml naming the server, gate.yaml running one dataset suite."""
    with tempfile.TemporaryDirectory(prefix="prodgate-fuzz-live-") as tmp:
        root = Path(tmp)
        (root / "models.yaml").write_text(
            "version: 1\nmodels:\n  fake:\n    provider: openai-compatible\n    model: fake-model\n"
            f"    base_url: {server.url}/v1\n    api_key_env: FAKE_API_KEY\n    timeout: 5\n", encoding="utf-8")
        (root / "ask.prompt.yml").write_text(
            "name: ask\nmodel: fake\nmessages:\n  - role: user\n    content: '{{question}}'\n", encoding="utf-8")
        (root / "gate.yaml").write_text(
            "version: 1\nmodels: models.yaml\nregression:\n  target: {model: fake}\n  retries: 0\n  suites:\n"
            "    - name: asks\n      prompt: ask.prompt.yml\n      dataset: cases.jsonl\n", encoding="utf-8")
        yield root


def run(template: Path, dataset: bytes) -> Any:
    with tempfile.TemporaryDirectory(prefix="prodgate-fuzz-") as tmp:
        root = Path(tmp) / "repo"
        shutil.copytree(template, root)
        (root / "cases.jsonl").write_bytes(dataset)
        with _bounded(BOUND_S):
            return gate(*ARGS, "--no-cache", cwd=root)


_WORD = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,9}", fullmatch=True)


@st.composite
def dataset(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Cases whose asserts hold for the server's answer ("You said: " + the question)."""
    rows = []
    for i, words in enumerate(draw(st.lists(st.lists(_WORD, min_size=1, max_size=8), min_size=1, max_size=6))):
        question = " ".join(words)
        word = draw(st.sampled_from(words))
        asserts = draw(st.lists(st.sampled_from([
            {"contains": word}, {"icontains": word.upper()}, {"regex": re.escape(word)}, {"starts_with": "you said"},
            {"not_contains": "zzz-never"}, {"not_regex": "^$"}, {"ends_with": words[-1]}, {"is_json": False},
            {"equals": f"You said: {question}"}, {"is_refusal": False}, {"max_output_tokens": 10_000}]),
            min_size=1, max_size=4, unique_by=lambda a: next(iter(a))))
        row: dict[str, Any] = {"id": f"case-{i}", "question": question, "assert": asserts}
        if draw(st.booleans()):
            row["metadata"] = {"cluster": word}
        rows.append(row)
    return rows


@given(dataset())
def test_fuzz_live_valid_dataset_passes(repo: Path, rows: list[dict[str, Any]]) -> None:
    res = run(repo, "".join(json.dumps(r) + "\n" for r in rows).encode("utf-8"))
    report = holds(res, {0})
    assert report is not None
    check = report["checks"][0]
    assert (check["status"], check["metrics"]["passed"], check["metrics"]["cases"]) == ("pass", len(rows), len(rows))


BASE = "".join(json.dumps(r) + "\n" for r in [
    {"id": "a", "question": "hello there", "assert": [{"contains": "hello"}, {"regex": "^You said"}]},
    {"id": "b", "question": "aaaa", "assert": [{"not_regex": "b+$"}, {"json_schema": {"type": "string"}}]},
    {"id": "c", "question": "refund please", "assert": [{"contains": "refund"}], "metadata": {"cluster": "x"}},
])


@given(mutations())
@example([("value", 1, 9)])  # an assert list replaced by a string
@example([("nan", 0, 1)])  # NaN read from a dataset line
def test_fuzz_live_mutated_dataset_ends_with_a_verdict(repo: Path, steps: list[Mutation]) -> None:
    holds(run(repo, mutate_jsonl(BASE, steps)), {0, 1})
