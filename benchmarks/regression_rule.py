"""How often each decision rule fails a change, on seeded simulations in-process: false alarms (a true drop within
the tolerance) and power (a true drop beyond it), for `gates.decision` non_inferiority and significant_drop.

    python benchmarks/regression_rule.py [--sims 200] [--cases 300] [--tolerance 0.05]

Each simulation draws cases of varied difficulty (pass probability ~ Beta(6, 1), as real suites are mostly easy
with a few coin flips), samples the base and head runs from the same model, then takes `drop` of the head's passing
cases away: a true drop of that many points. The comparison runs exactly as the check does (stats.compare_pass,
then stats.decide with one comparison, so Holm changes nothing)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from gate import stats  # noqa: E402
from gate.verdict import Decision, Evidence, Verdict, decide  # noqa: E402


def flag_rates(drop: float, *, cases: int, tolerance: float, sims: int, seed: int = 11) -> dict[str, float]:
    rng = np.random.default_rng(seed)
    ids = [f"c{i:04d}" for i in range(cases)]
    counts = {d: 0 for d in Decision}
    too_few = 0
    for s in range(sims):
        q = rng.beta(6, 1, size=cases)
        base = rng.random(cases) < q
        head = rng.random(cases) < q
        take = int(round(drop * cases))
        if take:
            head[rng.choice(np.flatnonzero(head), size=take, replace=False)] = False
        c = stats.compare_pass(dict(zip(ids, base.tolist(), strict=True)), dict(zip(ids, head.tolist(), strict=True)),
                               seed=s, resamples=2_000, margin=tolerance)
        evidence = Evidence(c.delta, c.interval.high, c.p_value, c.p_beyond, c.mde)
        for d in Decision:
            verdict = decide(evidence, alpha=0.05, tolerance=tolerance, decision=d)
            counts[d] += verdict is Verdict.REGRESSION
            too_few += d is Decision.NON_INFERIORITY and verdict is Verdict.TOO_FEW
    return {**{d.value: counts[d] / sims for d in Decision}, "too_few": too_few / sims}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=200)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--tolerance", type=float, default=0.05)
    args = parser.parse_args()
    print(f"{args.cases} cases, tolerance {args.tolerance * 100:g} pts, alpha 0.05, {args.sims} seeded simulations")
    print(f"{'true drop':>10}  {'non_inferiority':>16}  {'significant_drop':>17}  {'too few (n-i)':>14}")
    tol = args.tolerance
    for drop in sorted({0.0, round(tol * 0.78, 4), tol, round(tol + 0.05, 4), round(tol + 0.10, 4)}):
        r = flag_rates(drop, cases=args.cases, tolerance=tol, sims=args.sims)
        print(f"{drop * 100:>8.1f} pts  {r['non_inferiority']:>16.1%}  {r['significant_drop']:>17.1%}  "
              f"{r['too_few']:>14.1%}")


if __name__ == "__main__":
    main()
