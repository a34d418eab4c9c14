"""promptfoo side by side: the same cases, the same server, the same concurrency, one `contains` each.

Run by hand: python benchmarks/regression_promptfoo.py --promptfoo /path/to/node_modules/.bin/promptfoo
[--pairs 5]. Install promptfoo in a temporary folder, never here: `cd $(mktemp -d) && npm install
promptfoo@0.121.20` (0.121.20 is the newest that runs on Node 20). It starts the fake server itself and runs
two set-ups, each as alternating pairs (gate, promptfoo, gate, promptfoo, ...) so that a change in the
machine's load hits both alike: 400 cases answered in 100 ms at concurrency 16 (ideal 2.5 s), and 2,000
cases answered at once. It prints the medians, the median of the per-pair ratios, and gate's CPU per case;
and separately what `import scipy.stats` costs a fresh interpreter, part of every gate run while the
statistics import it. The load average is printed with each set-up: quote ratios, not seconds, from a busy
machine. With --url, only one promptfoo run against that server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regression_bench import fake_server, served

SETUPS = ((400, 0.1), (2000, 0.0))  # (cases, seconds per answer)
CONCURRENCY = 16


def promptfoo_config(url: str, cases: int) -> str:
    tests = [{"vars": {"question": f"question {i}"}, "assert": [{"type": "contains", "value": f"question {i}"}]}
             for i in range(cases)]
    config = {"description": "prodgate side-by-side", "prompts": ["{{question}}"],
              "providers": [{"id": "openai:chat:fake-model", "config": {"apiBaseUrl": url + "/v1", "apiKey": "x"}}],
              "tests": tests}
    return json.dumps(config)  # JSON is YAML


def run_promptfoo(binary: str, url: str, cases: int, concurrency: int, *, cache: bool = False) -> dict[str, float]:
    """Wall time of one `promptfoo eval`, the requests it made and the cases that passed."""
    with tempfile.TemporaryDirectory(prefix="prodgate-promptfoo-") as tmp:
        folder = Path(tmp)
        (folder / "promptfooconfig.yaml").write_text(promptfoo_config(url, cases), encoding="utf-8")
        env = {**os.environ, "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
               "PROMPTFOO_CONFIG_DIR": str(folder / "config"), "PROMPTFOO_CACHE_PATH": str(folder / "cache"),
               "NODE_NO_WARNINGS": "1"}
        argv = [binary, "eval", "-c", "promptfooconfig.yaml", "--max-concurrency", str(concurrency),
                "--no-progress-bar", "--no-table", "--no-write", "-o", "out.json"]
        runs = 2 if cache else 1
        wall = 0.0
        for _ in range(runs):  # with the cache, the second run is the warm one measured
            before = served(url)
            started = time.perf_counter()
            proc = subprocess.run(argv + ([] if cache else ["--no-cache"]), cwd=folder, env=env,
                                  capture_output=True, text=True, check=False)
            wall = time.perf_counter() - started
            requests = served(url) - before
        out = json.loads((folder / "out.json").read_text()) if (folder / "out.json").exists() else {}
        stats = (out.get("results") or {}).get("stats") or {}
        if proc.returncode not in (0, 100):  # 100: some assertion failed
            raise RuntimeError(f"promptfoo failed ({proc.returncode}): {proc.stderr[-500:]}")
        return {"wall_s": wall, "requests": float(requests), "passed": float(stats.get("successes", 0))}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _scipy_import_s(runs: int = 3) -> float:
    """Wall seconds a fresh interpreter spends on `import scipy.stats` (median)."""
    probe = "import time; t = time.perf_counter(); import scipy.stats; print(time.perf_counter() - t)"
    return statistics.median(float(subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                                  check=True).stdout) for _ in range(runs))


def side_by_side(promptfoo: str, cases: int, latency: float, pairs: int) -> None:
    from regression_throughput import gate_repo, run_gate_check

    with fake_server(latency) as url, tempfile.TemporaryDirectory(prefix="prodgate-side-") as tmp:
        gate_yaml = gate_repo(Path(tmp), url, cases)
        subprocess.run(["git", "init", "-q", "-b", "main", tmp], check=True)
        run_gate_check(url, gate_yaml, "--no-cache")  # warm-up: bytecode written, as an installed package has it
        gate_s, pf_s, ratios, cpu = [], [], [], []
        for _ in range(pairs):
            before = _children_cpu()
            wall, requests, passed = run_gate_check(url, gate_yaml, "--no-cache")
            cpu.append(_children_cpu() - before)
            if (requests, passed) != (cases, cases):
                raise RuntimeError(f"gate: {requests} requests, {passed} passed of {cases}")
            pf = run_promptfoo(promptfoo, url, cases, CONCURRENCY)
            if (pf["requests"], pf["passed"]) != (cases, cases):
                raise RuntimeError(f"promptfoo: {pf}")
            gate_s.append(wall)
            pf_s.append(pf["wall_s"])
            ratios.append(wall / pf["wall_s"])
    ideal = f"ideal {cases / CONCURRENCY * latency:.2f} s" if latency else "no server time"
    print(f"{cases} cases, {latency * 1000:.0f} ms per answer, concurrency {CONCURRENCY} ({ideal}); {pairs} pairs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"  gate check   median {statistics.median(gate_s):6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in gate_s)});"
          f" CPU {statistics.median(cpu) / cases * 1000:.2f} ms per case")
    print(f"  promptfoo    median {statistics.median(pf_s):6.2f} s  (runs: {', '.join(f'{x:.2f}' for x in pf_s)})")
    print(f"  ratio gate/promptfoo, median of the pairs: {statistics.median(ratios):.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promptfoo", required=True)
    parser.add_argument("--url")
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=CONCURRENCY)
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    if args.url:
        print(run_promptfoo(args.promptfoo, args.url, args.cases, args.concurrency))
        return
    for cases, latency in SETUPS:
        side_by_side(args.promptfoo, cases, latency, args.pairs)
    print(f"import scipy.stats in a fresh interpreter: {_scipy_import_s():.2f} s (median of 3), "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
