"""Peak memory of the execution layer over 10,000 cases: run_all against the fake server, in a fresh process.

Run by hand: python benchmarks/regression_memory.py [--cases 10000]. Prints the process's peak RSS
before and after the run (the regression check's target for the whole check is < 300 MB).
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

from regression_bench import REPO, fake_server, served

sys.path.insert(0, str(REPO))


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=10_000)
    args = parser.parse_args()
    from gate.models import ModelConfig
    from gate.providers.base import ChatMessage, Request, Response
    from gate.providers.executor import run_all
    from gate.providers.openai import OpenAIProvider

    with fake_server(0.0) as url:
        provider = OpenAIProvider(ModelConfig(name="fake", provider="openai-compatible", model="fake-model",
                                              base_url=url + "/v1"), {})
        requests = [Request(messages=(ChatMessage("system", "You answer support questions briefly."),
                                      ChatMessage("user", f"question number {i} about billing and refunds")),
                            case_id=f"c{i}") for i in range(args.cases)]
        before = peak_mib()
        started = time.perf_counter()
        results = run_all(provider, requests, concurrency=16)
        wall = time.perf_counter() - started
        answered = sum(1 for r in results if isinstance(r, Response))
        print(f"{args.cases} cases: {answered} answered, {served(url)} requests, {wall:.1f} s, "
              f"peak RSS {before:.0f} MiB after imports and requests, {peak_mib():.0f} MiB after the run")


if __name__ == "__main__":
    main()
