"""Throughput of the regression check's execution layer: 400 cases, 100 ms answers, concurrency 16.

Run by hand: python benchmarks/regression_throughput.py [--runs 3] [--promptfoo PATH]. The fake
OpenAI server runs in its own process and answers each request in 100 ms, so the ideal is
400 / 16 x 0.1 s = 2.5 s. Measured: run_all in-process (target: >= 90% of ideal, i.e. <= 2.78 s),
`gate check --only regression --no-cache` as a process on a repository with one 400-case suite
(a `contains` metric per case, as the promptfoo config has), and promptfoo at the same concurrency
on the same server when --promptfoo is given (see regression_promptfoo.py). With --memory N, instead:
the peak RSS of this process over N cases through run_all at concurrency 16, no latency.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regression_bench import REPO, fake_server, median, served
from regression_promptfoo import run_promptfoo

sys.path.insert(0, str(REPO))

CASES, CONCURRENCY, LATENCY = 400, 16, 0.1
IDEAL = CASES / CONCURRENCY * LATENCY


def run_in_process(url: str) -> tuple[float, int, int]:
    """Seconds for run_all over 400 requests, the requests the server saw, and the answers that contain the question."""
    from gate.models import ModelConfig
    from gate.providers.base import ChatMessage, Request, Response
    from gate.providers.executor import run_all
    from gate.providers.openai import OpenAIProvider

    provider = OpenAIProvider(ModelConfig(name="fake", provider="openai-compatible", model="fake-model",
                                          base_url=url + "/v1"), {})
    requests = [Request(messages=(ChatMessage("user", f"question {i}"),), case_id=f"c{i}") for i in range(CASES)]
    before = served(url)
    started = time.perf_counter()
    results = run_all(provider, requests, concurrency=CONCURRENCY)
    wall = time.perf_counter() - started
    passed = sum(1 for i, r in enumerate(results) if isinstance(r, Response) and f"question {i}" in r.content)
    return wall, served(url) - before, passed


def gate_repo(folder: Path, url: str, cases: int = CASES) -> Path:
    (folder / "prompts").mkdir()
    (folder / "datasets").mkdir()
    (folder / "models.yaml").write_text(
        f"version: 1\nmodels:\n  fake:\n    provider: openai-compatible\n    model: fake-model\n"
        f"    base_url: {url}/v1\n", encoding="utf-8")
    (folder / "prompts" / "ask.prompt.yml").write_text(
        "name: ask\nversion: 1.0.0\nmodel: fake\nmessages:\n  - role: user\n    content: '{{question}}'\n",
        encoding="utf-8")
    with (folder / "datasets" / "cases.jsonl").open("w", encoding="utf-8") as f:
        for i in range(cases):
            f.write(json.dumps({"id": f"c{i}", "question": f"question {i}"}) + "\n")
    (folder / "gate.yaml").write_text(
        "version: 1\nprompts: ['prompts/*.prompt.yml']\nmodels: models.yaml\n"
        f"regression:\n  target: {{model: fake}}\n  concurrency: {CONCURRENCY}\n  suites:\n"
        "    - name: bench\n      prompt: prompts/ask.prompt.yml\n      dataset: datasets/cases.jsonl\n"
        "      metrics:\n        - contains: '{{question}}'\n", encoding="utf-8")
    return folder / "gate.yaml"


def _env() -> dict[str, str]:
    # An installed package has its bytecode: a run without it compiles every module it imports (seconds).
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "DEEPEVAL_TELEMETRY_OPT_OUT": "1"}


def run_gate_check(url: str, gate_yaml: Path, *flags: str) -> tuple[float, int, int]:
    report = gate_yaml.parent / "report.json"
    before = served(url)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gate", "check", "-c", str(gate_yaml), "--only", "regression",
                           *flags, "--report-json", str(report)], capture_output=True, text=True, check=False,
                          env=_env(), cwd=gate_yaml.parent)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise RuntimeError(f"gate check exited {proc.returncode}: {proc.stderr[-800:]}")
    check = json.loads(report.read_text())["checks"][0]
    cases = sum(1 for line in (gate_yaml.parent / "datasets" / "cases.jsonl").open() if line.strip())
    passed = int(round(check["metrics"]["pass_rate"] * cases)) if "pass_rate" in check["metrics"] else -1
    return wall, served(url) - before, passed


def memory(cases: int) -> None:
    """Peak RSS of the execution layer alone over `cases` requests (the whole check has its own benchmark)."""
    from gate.models import ModelConfig
    from gate.providers.base import ChatMessage, Request, Response
    from gate.providers.executor import run_all
    from gate.providers.openai import OpenAIProvider

    def peak_mib() -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB

    with fake_server(0.0) as url:
        provider = OpenAIProvider(ModelConfig(name="fake", provider="openai-compatible", model="fake-model",
                                              base_url=url + "/v1"), {})
        requests = [Request(messages=(ChatMessage("system", "You answer support questions briefly."),
                                      ChatMessage("user", f"question number {i} about billing and refunds")),
                            case_id=f"c{i}") for i in range(cases)]
        before = peak_mib()
        started = time.perf_counter()
        results = run_all(provider, requests, concurrency=CONCURRENCY)
        wall = time.perf_counter() - started
        answered = sum(1 for r in results if isinstance(r, Response))
        print(f"{cases} cases: {answered} answered, {served(url)} requests, {wall:.1f} s, peak RSS "
              f"{before:.0f} MiB before the run, {peak_mib():.0f} MiB after")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--promptfoo", help="path to a promptfoo binary (npm install promptfoo@0.121.20)")
    parser.add_argument("--memory", type=int, metavar="CASES", help="measure peak memory over CASES cases instead")
    args = parser.parse_args()
    if args.memory:
        memory(args.memory)
        return
    rows: list[tuple[str, float, int, int]] = []
    with fake_server(LATENCY) as url, tempfile.TemporaryDirectory(prefix="prodgate-bench-") as tmp:
        run_in_process(url)  # warm-up: imports, connections
        samples = [run_in_process(url) for _ in range(args.runs)]
        wall = median([s[0] for s in samples])
        rows.append(("prodgate run_all (in-process)", wall, samples[0][1], samples[0][2]))
        gate_yaml = gate_repo(Path(tmp), url)
        subprocess.run(["git", "init", "-q", "-b", "main", tmp], check=True)
        checks = [run_gate_check(url, gate_yaml, "--no-cache") for _ in range(args.runs)]
        rows.append(("prodgate `gate check` (process)", median([c[0] for c in checks]), checks[0][1], checks[0][2]))
        if args.promptfoo:
            pf = [run_promptfoo(args.promptfoo, url, CASES, CONCURRENCY) for _ in range(args.runs)]
            rows.append(("promptfoo 0.121.20 `eval` (process)", median([p["wall_s"] for p in pf]),
                         int(pf[0]["requests"]), int(pf[0]["passed"])))
    print(f"{CASES} cases, {LATENCY * 1000:.0f} ms per answer, concurrency {CONCURRENCY}: ideal {IDEAL:.2f} s; "
          f"median of {args.runs} runs")
    print(f"{'runner':40} {'wall s':>7} {'of ideal':>9} {'requests':>9} {'passed':>7}")
    for name, seconds, requests, passed in rows:
        print(f"{name:40} {seconds:7.2f} {IDEAL / seconds:8.0%} {requests:9d} {passed:7d}")
    in_process = rows[0][1]
    print(f"in-process throughput: {IDEAL / in_process:.0%} of ideal (target >= 90%): "
          f"{'PASS' if IDEAL / in_process >= 0.9 else 'FAIL'}")


if __name__ == "__main__":
    main()
