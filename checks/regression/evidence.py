"""Whether replayed answers are evidence for this run: recorded for the current request, by the target's model.

A replayed answer counts only when the cassette holds it for the request as it is now and its producer is one
a live run of the target could have been answered by (the prompt's model, or a fallback of it, called with the
parameters a live run would send). Any other case is left out of the results and out of the comparison, and its
suite gets one finding that says what to do."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gate.providers.base import ProviderError, Response
from gate.providers.keys import answered_for, as_sent, describe
from gate.report import Finding, Severity

RERECORD = "run `gate check --record` and commit the cassette"


class Gap(str, Enum):
    """Why a case's answer (or the judge's grade of it) is not evidence, most telling first."""

    FOREIGN = "foreign"  # recorded with another model (or host, or parameters)
    JUDGE_FOREIGN = "judge_foreign"
    UNLABELLED = "unlabelled"  # recorded before cassettes named their producer
    NEVER = "never"  # the cassette holds nothing for the suite (told by Evidence.finding, from what the run saw)
    UNRECORDED = "unrecorded"  # the request changed since it was recorded
    JUDGE_UNRECORDED = "judge_unrecorded"


@dataclass(frozen=True)
class Replay:
    """A replay target as the run sees it: the cassette, and who may answer for the target, as (models.yaml
    name, producer) links in chain order (None: unknown, the suite has no live source to compare with)."""

    cassette: str
    links: tuple[tuple[str, Mapping[str, Any]], ...] | None
    recorded: bool  # whether the cassette labels any answer with one of the suite's case ids
    # The requests' own parameters (a prompt's modelParameters): a live run sends them over the model's own.
    sent: Mapping[str, Any] = field(default_factory=dict)

    def accepts(self, who: Mapping[str, Any] | None, answered_by: str | None) -> bool:
        """Whether a recorded answer's producer is one a live run of the target could have answered with."""
        return self.links is not None and who is not None and answered_for(who, answered_by, self.links, self.sent)

    @property
    def expected(self) -> tuple[Mapping[str, Any], ...] | None:
        return None if self.links is None else tuple(as_sent(who, self.sent) for _, who in self.links)


def gap_of(result: Response | ProviderError, replay: Replay | None, *,
           judge: bool = False) -> tuple[Gap, Mapping[str, Any] | None] | None:
    """Why a replayed result is not evidence for this run, and who recorded it; None when it is (or is live)."""
    from gate.providers.cassette import NotRecorded

    if replay is None:
        return None
    if isinstance(result, NotRecorded):
        return (Gap.JUDGE_UNRECORDED if judge else Gap.UNRECORDED), None
    if isinstance(result, Response) and replay.links is not None:
        if result.producer is None:
            return Gap.UNLABELLED, None
        if not answered_for(result.producer, result.answered_by, replay.links, replay.sent):
            return (Gap.JUDGE_FOREIGN if judge else Gap.FOREIGN), as_sent(result.producer, replay.sent)
    return None


@dataclass
class Evidence:
    """Gaps per (suite, case) index, collected over the answers and the judge's grades."""

    gaps: dict[tuple[int, int], tuple[Gap, Mapping[str, Any] | None, Replay]] = field(default_factory=dict)
    # Suites of which the cassette answered at least one request. A request two suites share is labelled
    # with one suite's case id only, so the labels alone cannot say a suite was never recorded.
    answered: set[int] = field(default_factory=set)

    def note(self, si: int, ci: int, result: Response | ProviderError, replay: Replay | None, *,
             judge: bool = False) -> bool:
        """Record the gap of one replayed result, if any; True when the case is not evidence."""
        from gate.providers.cassette import NotRecorded

        if replay is not None and not judge and not isinstance(result, NotRecorded):
            self.answered.add(si)
        found = gap_of(result, replay, judge=judge)
        if found is None or replay is None:
            return False
        gap, who = found
        known = self.gaps.get((si, ci))
        if known is None or list(Gap).index(gap) < list(Gap).index(known[0]):
            self.gaps[(si, ci)] = (gap, who, replay)
        return True

    def left_out(self, si: int) -> set[int]:
        return {ci for (s, ci) in self.gaps if s == si}

    def finding(self, si: int, suite: str, cases: int, held: Callable[[], bool] | None = None) -> Finding | None:
        """One finding for the suite: the most telling gap, and how many of its cases were left out. `held`:
        whether the cassette holds the suite's cases asked another way, asked only before saying "never"."""
        mine = sorted((v for (s, _), v in self.gaps.items() if s == si), key=lambda v: list(Gap).index(v[0]))
        if not mine:
            return None
        gap, who, replay = mine[0]
        if gap is Gap.UNRECORDED and si not in self.answered and not replay.recorded and not (held and held()):
            gap = Gap.NEVER  # no case of the suite found a line, none is labelled as the suite's nor has its input
        n = len(mine)
        left = "" if gap in (Gap.UNRECORDED, Gap.JUDGE_UNRECORDED) else f" ({n} of {cases} cases not compared)"
        return Finding(Severity.ERROR, f"{suite}: {_message(gap, who, replay, n, cases)}: {RERECORD}{left}",
                       replay.cassette)


def _message(gap: Gap, who: Mapping[str, Any] | None, replay: Replay, n: int, cases: int) -> str:
    target = replay.expected[0] if replay.expected else {}
    if gap in (Gap.FOREIGN, Gap.JUDGE_FOREIGN) and who is not None:
        subject, now = ("the judge's grades", "the judge") if gap is Gap.JUDGE_FOREIGN else ("answers", "the target")
        return f"{subject} were recorded with {describe(who, target)}; {now} is now {describe(target, who)}"
    if gap is Gap.UNLABELLED:
        return (f"{replay.cassette} does not say which model recorded its answers (recorded by an older prodgate), "
                f"so they cannot be matched with {describe(target)}")
    if gap is Gap.NEVER:
        return f"never recorded: {replay.cassette} holds no answer for this suite"
    if gap is Gap.JUDGE_UNRECORDED:
        return f"{n} of {cases} cases have no recorded judge grade for their current answer"
    return f"{n} of {cases} cases have no recording for the current prompt"
