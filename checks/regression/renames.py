"""Which baseline suite each suite of the run is compared with (its own name's, else the one its cases' inputs show
it was renamed from), and what of the baseline the run no longer measures: a change cannot switch a comparison off
by renaming or removing what it is made of."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from .results import SuiteResult

BaseCases = Mapping[str, Mapping[str, Any]]


def _inputs(shas: Any) -> Counter[str]:
    return Counter(sha for sha in shas if isinstance(sha, str) and sha)


def match_suites(suites: Sequence[SuiteResult], baseline: Mapping[str, BaseCases]) -> dict[str, str]:
    """Suite of the run -> the baseline suite it is compared with. A suite new by name takes a baseline suite gone
    from the run when most of the cases of either (by their inputs' hashes, as a renamed case is paired) are
    found in the other: renamed, and perhaps grown or shrunk. The largest overlaps are matched first, each suite
    at most once; ties go by name, so the same run always matches alike."""
    out = {s.name: s.name for s in suites if s.name in baseline}
    gone = {b: _inputs(case.get("input_sha") for case in cases.values())
            for b, cases in baseline.items() if b not in out}
    candidates: list[tuple[int, str, str]] = []
    for s in suites:
        if s.name in out or not gone:
            continue
        head = _inputs(c.input_sha for c in s.cases)
        for b, base in gone.items():
            shared = (head & base).total()
            if shared and (2 * shared > len(s.cases) or 2 * shared > len(baseline[b])):
                candidates.append((-shared, s.name, b))
    taken: set[str] = set()
    for _, name, b in sorted(candidates):
        if name not in out and b not in taken:
            out[name] = b
            taken.add(b)
    return out


def gone_suites(matched: Mapping[str, str], baseline: Mapping[str, BaseCases]) -> list[str]:
    """Baseline suites no suite of the run is compared with."""
    used = set(matched.values())
    return [b for b in baseline if b not in used]


def gone_metrics(s: SuiteResult, base: BaseCases, pairs: Mapping[str, str]) -> dict[str, int]:
    """Metric -> how many of the paired baseline cases had a score for it that the run's suite no longer measures
    at all: removed or renamed, it is compared nowhere, and the pass rate now means something else."""
    measured = set(s.scored)
    seen: set[int] = set()
    for c in s.cases:
        if id(c.scores) not in seen:  # most cases share one mapping of scores: each is read once
            seen.add(id(c.scores))
            measured.update(c.scores)
    counts: Counter[str] = Counter()
    for b in pairs.values():
        counts.update(m for m in base[b].get("scores") or {} if m not in measured)
    return dict(sorted(counts.items()))
