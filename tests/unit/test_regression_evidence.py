"""Which replayed answers are evidence for the target, and the one finding per suite that says why others are not."""

from __future__ import annotations

from prodgate_checks.regression.evidence import Evidence, Replay

from gate.providers.base import Category, ProviderError, Response
from gate.providers.cassette import NotRecorded

MINI = {"provider": "github-models", "model": "openai/gpt-4o-mini", "host": "models.github.ai", "params": {}}
BIG = {"provider": "openai", "model": "gpt-4.1", "host": "api.openai.com", "params": {}}
REPLAY = Replay("c.jsonl", (("primary", BIG),), recorded=True)


def test_evidence_own_producer_and_live_answers_are_evidence() -> None:
    ev = Evidence()
    assert not ev.note(0, 0, Response("a", producer=BIG), REPLAY)
    assert not ev.note(0, 1, Response("a"), None)  # a live answer: no replay to compare
    assert not ev.note(0, 2, ProviderError(Category.TIMEOUT, "slow"), REPLAY)  # a real failure stays a failure
    assert not ev.note(0, 3, Response("a", producer=MINI), Replay("c.jsonl", None, True))  # no live source known
    assert ev.gaps == {} and ev.finding(0, "s", 4) is None


def test_evidence_other_model_outranks_unrecorded_one_finding_per_suite() -> None:
    ev = Evidence()
    assert ev.note(0, 0, NotRecorded("not in cassette"), REPLAY)
    assert ev.note(0, 1, Response("a", producer=MINI), REPLAY)
    assert ev.note(0, 1, NotRecorded("not in cassette"), REPLAY)  # a later, lesser gap does not replace it
    assert ev.note(1, 0, Response("a"), REPLAY)  # recorded before producers were kept
    assert ev.left_out(0) == {0, 1} and ev.left_out(1) == {0}
    first = ev.finding(0, "answers", 5)
    assert first is not None and (first.file, first.message) == (
        "c.jsonl", "answers: answers were recorded with openai/gpt-4o-mini; the target is now gpt-4.1: run "
        "`gate check --record` and commit the cassette (2 of 5 cases not compared)")
    second = ev.finding(1, "other", 1)
    assert second is not None and second.message.startswith("other: c.jsonl does not say which model recorded")


def test_evidence_never_recorded_suite_and_judge_gaps_say_so() -> None:
    ev = Evidence()
    ev.note(0, 0, NotRecorded("x"), Replay("c.jsonl", (("primary", BIG),), recorded=False))
    ev.note(1, 0, NotRecorded("x"), REPLAY, judge=True)
    ev.note(2, 0, Response("4", producer=MINI), REPLAY, judge=True)
    messages = [f.message for si in (0, 1, 2) if (f := ev.finding(si, "s", 3)) is not None]
    assert messages == [
        "s: never recorded: c.jsonl holds no answer for this suite: run `gate check --record` and commit the "
        "cassette (1 of 3 cases not compared)",
        "s: 1 of 3 cases have no recorded judge grade for their current answer: run `gate check --record` and commit "
        "the cassette",
        "s: the judge's grades were recorded with openai/gpt-4o-mini; the judge is now gpt-4.1: run `gate check "
        "--record` and commit the cassette (1 of 3 cases not compared)"]


def test_evidence_old_primary_kept_as_fallback_is_not_the_new_primary() -> None:
    # primary switched to gpt-4.1, the old primary kept as its fallback: its answers were the primary's.
    swapped = Replay("c.jsonl", (("primary", BIG), ("backup", MINI)), recorded=True)
    ev = Evidence()
    assert ev.note(0, 0, Response("a", producer=MINI, answered_by="primary"), swapped)
    assert ev.note(0, 1, Response("a", producer=MINI), swapped)  # recorded without a chain: the first link's
    # A real fallback answer (the primary failed while recording) still counts for its own link.
    assert not ev.note(0, 2, Response("a", producer=MINI, answered_by="backup"), swapped)
    assert not ev.note(0, 3, Response("a", producer=BIG, answered_by="primary"), swapped)
    assert ev.left_out(0) == {0, 1}
