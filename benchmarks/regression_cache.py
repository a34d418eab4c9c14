"""The response cache warm: 1,000 unchanged cases make zero requests and take under 2 s.

Run by hand: python benchmarks/regression_cache.py [--runs 3] [--promptfoo PATH]. Fills the cache
once against the fake server, then measures the warm re-run: run_all through CachedProvider
in-process, and `gate check --only regression` as a process (the cache in .gate/cache, as CI
restores it with actions/cache). The server counts every request: a warm run must add none.
With --promptfoo, promptfoo's own warm cache on the same 1,000 cases, for comparison.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regression_bench import REPO, fake_server, median, served
from regression_promptfoo import run_promptfoo
from regression_throughput import gate_repo, run_gate_check

sys.path.insert(0, str(REPO))

CASES = 1000
TARGET_S = 2.0


def run_cached(url: str, folder: Path) -> tuple[float, int, int]:
    """Seconds for run_all over 1,000 requests through the cache, the requests the server saw, the cache hits."""
    from gate.models import ModelConfig
    from gate.providers.base import ChatMessage, Request
    from gate.providers.cache import CachedProvider
    from gate.providers.executor import run_all
    from gate.providers.openai import OpenAIProvider

    model = OpenAIProvider(ModelConfig(name="fake", provider="openai-compatible", model="fake-model",
                                       base_url=url + "/v1", params={"temperature": 0}), {})
    provider = CachedProvider(model, folder)
    requests = [Request(messages=(ChatMessage("user", f"question {i}"),), case_id=f"c{i}") for i in range(CASES)]
    before = served(url)
    started = time.perf_counter()
    run_all(provider, requests, concurrency=16)
    return time.perf_counter() - started, served(url) - before, provider.hits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--promptfoo", help="path to a promptfoo binary (npm install promptfoo@0.121.20)")
    args = parser.parse_args()
    rows: list[tuple[str, float, float, int]] = []
    with fake_server(0.0) as url, tempfile.TemporaryDirectory(prefix="prodgate-cache-") as tmp:
        folder = Path(tmp) / "cache"
        cold, cold_requests, _ = run_cached(url, folder)
        warm = [run_cached(url, folder) for _ in range(args.runs)]
        rows.append(("prodgate run_all + CachedProvider", cold, median([w[0] for w in warm]), max(w[1] for w in warm)))
        repo = Path(tmp) / "repo"
        repo.mkdir()
        subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
        gate_yaml = gate_repo(repo, url, cases=CASES)
        first = run_gate_check(url, gate_yaml)
        checks = [run_gate_check(url, gate_yaml) for _ in range(args.runs)]
        rows.append(("prodgate `gate check` (process)", first[0], median([c[0] for c in checks]),
                     max(c[1] for c in checks)))
        if args.promptfoo:
            pf_cold = run_promptfoo(args.promptfoo, url, CASES, 16)
            pf = [run_promptfoo(args.promptfoo, url, CASES, 16, cache=True) for _ in range(args.runs)]
            rows.append(("promptfoo 0.121.20 `eval` (process)", pf_cold["wall_s"], median([p["wall_s"] for p in pf]),
                         int(max(p["requests"] for p in pf))))
    print(f"{CASES} unchanged cases, warm cache (cold run: {cold_requests} requests); median of {args.runs} warm runs")
    print(f"{'runner':40} {'cold s':>7} {'warm s':>7} {'warm requests':>14}")
    for name, cold_s, warm_s, requests in rows:
        print(f"{name:40} {cold_s:7.2f} {warm_s:7.2f} {requests:14d}")
    ok = rows[0][3] == 0 and rows[1][3] == 0 and rows[1][2] < TARGET_S
    print(f"warm: zero requests and gate check < {TARGET_S:g} s: {'PASS' if ok else 'FAIL'}")


if __name__ == "__main__":
    main()
