"""Faults the proxy injects, and the seeded draw that decides which upstream call gets one."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    OUTAGE = "outage"
    RATE_LIMIT = "rate_limit"
    SLOW = "slow"
    TRUNCATE = "truncate"
    MALFORMED = "malformed"
    FLAP = "flap"


class How(str, Enum):
    """How an upstream that is down answers: an error status, a reset connection, or nothing until timeout."""

    ERROR = "error"
    REFUSE = "refuse"
    HANG = "hang"


# The failure mode of the failure-mode catalogue each fault exercises (the docs check ties them together).
MODE_OF = {Kind.OUTAGE: "provider-outage", Kind.FLAP: "provider-outage", Kind.RATE_LIMIT: "rate-limiting",
           Kind.SLOW: "latency-slo-breach", Kind.TRUNCATE: "malformed-output", Kind.MALFORMED: "malformed-output"}


@dataclass(frozen=True)
class Fault:
    kind: Kind
    upstream: str | None = None  # an upstream's name; None: every upstream
    model: str | None = None  # the model id as the service sends it; None: every model
    model_name: str | None = None  # its name in models.yaml, for the report
    share: float = 1.0
    how: How = How.ERROR
    status: int = 503
    retry_after_s: float = 1.0
    ttfb_s: float = 0.0
    per_chunk_s: float = 0.0
    after_bytes: int = 64
    down_s: float = 0.0
    every_s: float = 0.0
    line: int = 0  # in gate.yaml

    def matches(self, upstream: str, model: str | None) -> bool:
        return (self.upstream is None or self.upstream == upstream) and (self.model is None or self.model == model)


class Plan:
    """Which fault (if any) each upstream call gets. Each fault draws from its own seeded generator, so the
    same calls in the same order get the same faults, run after run."""

    def __init__(self, faults: Sequence[Fault], seed: int, t0: float) -> None:
        self.faults = tuple(faults)
        self.t0 = t0
        self._random = [random.Random(seed * 7919 + i) for i in range(len(self.faults))]

    def draw(self, upstream: str, model: str | None, now: float) -> Fault | None:
        for fault, rng in zip(self.faults, self._random, strict=True):
            if not fault.matches(upstream, model):
                continue
            if fault.kind is Kind.FLAP:
                if fault.every_s > 0 and (now - self.t0) % fault.every_s < fault.down_s:
                    return fault
                continue
            if fault.share >= 1.0 or rng.random() < fault.share:
                return fault
        return None


NO_FAULTS = Plan((), 0, 0.0)
