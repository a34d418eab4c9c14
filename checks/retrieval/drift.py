"""Drift without labels: rank-biased overlap (Webber, Moffat and Zobel, 2010) of each query's top results against
the base branch's, and the share of queries whose results moved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


def rbo(a: Sequence[str], b: Sequence[str], p: float = 0.9) -> float:
    """Extrapolated RBO of two rankings without repeats (RBO_ext, eq. 32 of the paper, for uneven lengths):
    1 for the same ranking, 0 for rankings that share nothing; two empty rankings agree."""
    if list(a) == list(b):
        return 1.0
    if not a or not b:
        return 0.0
    short, long_ = (a, b) if len(a) <= len(b) else (b, a)
    s, ll = len(short), len(long_)
    seen_short: set[str] = set()
    seen_long: set[str] = set()
    overlap = 0
    total = 0.0  # sum over d of X_d / d * p^d
    weight = 1.0
    x_s = 0
    for d in range(1, ll + 1):
        weight *= p
        y = long_[d - 1]
        if d <= s:
            x = short[d - 1]
            if x == y:
                overlap += 1
            else:
                overlap += (x in seen_long) + (y in seen_short)
            seen_short.add(x)
            seen_long.add(y)
            if d == s:
                x_s = overlap
        else:
            overlap += y in seen_short
            seen_long.add(y)
        total += overlap / d * weight
        if d > s:
            # The shorter ranking's unseen items are assumed to agree at the rate seen at depth s.
            total += x_s * (d - s) / (s * d) * weight
    tail = ((overlap - x_s) / ll + x_s / s) * weight
    return min(1.0, max(0.0, (1 - p) / p * total + tail))


@dataclass(frozen=True)
class Moved:
    query: str
    rbo: float
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class DriftResult:
    compared: int
    changed: int
    mean_rbo: float
    most_moved: tuple[Moved, ...]

    @property
    def share(self) -> float:
        return self.changed / self.compared if self.compared else 0.0


def drift(head: Mapping[str, Sequence[str]], base: Mapping[str, Sequence[str]], *, depth: int, p: float,
          threshold: float, shown: int = 10) -> DriftResult:
    """RBO of the top `depth` of every query both runs have; a query moved when its RBO is below `threshold`."""
    scores: list[tuple[float, str]] = []
    for q, after in head.items():
        before = base.get(q)
        if before is None:
            continue
        scores.append((rbo(before[:depth], after[:depth], p), q))
    changed = sum(score < threshold for score, _ in scores)
    worst = sorted((s for s in scores if s[0] < threshold), key=lambda s: (s[0], s[1]))[:shown]
    moved = tuple(Moved(q, score, tuple(base[q][:5]), tuple(head[q][:5])) for score, q in worst)
    mean = sum(score for score, _ in scores) / len(scores) if scores else 1.0
    return DriftResult(len(scores), changed, mean, moved)
