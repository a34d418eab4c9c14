"""Peak memory of the regression check at 200,000 cases replayed and compared (target: under 600 MB).

Builds a throwaway repository with an N-case dataset, a cassette answering every case (so no
network is needed) and a committed baseline, then runs `gate check --only regression` in a child
process and reads that child's peak RSS. Run: python benchmarks/regression_memory.py [--cases N]"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROMPT = """name: faq
model: primary
messages:
  - role: system
    content: Answer the customer's question in one sentence.
  - role: user
    content: "Question {{n}}: {{question}}"
"""


def build(root: Path, cases: int) -> Path:
    from gate.providers.base import ChatMessage, Request, Response, Usage
    from gate.providers.cassette import entry, write_cassette

    (root / "prompts").mkdir(parents=True)
    (root / "prompts" / "faq.prompt.yml").write_text(PROMPT, encoding="utf-8")
    rows, entries = [], []
    for i in range(cases):
        q = f"How do I change setting number {i} in my account?"
        rows.append(json.dumps({"id": f"case-{i:05d}", "n": i, "question": q, "expected": f"setting {i}",
                                "metadata": {"cluster": f"topic-{i % 500}"}}))
        req = Request(messages=(ChatMessage("system", "Answer the customer's question in one sentence."),
                                ChatMessage("user", f"Question {i}: {q}")),
                      variables={"n": i, "question": q}, case_id=f"faq/case-{i:05d}")
        text = f"Open Settings and pick setting {i} under Account." if i % 10 else "I don't know."
        entries.append(entry(req, Response(text, Usage(24, len(text.split())), 0.5, "gpt-4o-mini", "stop"),
                             "gpt-4o-mini"))
    (root / "cases.jsonl").write_text("\n".join(rows) + "\n", encoding="utf-8")
    write_cassette(root / "cassette.jsonl", entries)
    (root / "gate.yaml").write_text(
        "version: 1\nregression:\n  target: {replay: cassette.jsonl}\n  max_cases: " + str(cases) + "\n  suites:\n    - name: faq\n"
        "      prompt: prompts/faq.prompt.yml\n      dataset: cases.jsonl\n      metrics:\n"
        "        - contains: '{{expected}}'\n        - max_output_tokens: 50\n", encoding="utf-8")
    return root / "gate.yaml"


def run(args: list[str], cwd: Path) -> tuple[int, float, float]:
    """(exit code, seconds, peak RSS in MB) of one gate run in a fresh child process: wait4 gives that child's own
    figure, not the highest of every child so far (the baseline run before it keeps every case)."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "gate", *args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        seconds = time.monotonic() - t0
        if code not in (0, 1):
            err.seek(0)
            sys.stderr.write(err.read().decode(errors="replace"))
    return code, seconds, usage.ru_maxrss / 1024  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=200_000)
    parser.add_argument("--build", type=Path, help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.build:
        build(opts.build, opts.cases)
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # Built in a process of its own: a child forked from a parent that held the 200,000 cases would start
        # with the parent's pages in its resident set, and its peak would be the builder's, not the gate's.
        subprocess.run([sys.executable, __file__, "--build", str(root), "--cases", str(opts.cases)], check=True)
        git = ["git", "-c", "user.email=b@example.com", "-c", "user.name=bench"]
        subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
        code, secs, _ = run(["baseline", "update", "--only", "regression"], root)
        subprocess.run([*git, "add", "-A"], cwd=root, check=True)
        subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=root, check=True, env={**os.environ})
        code, secs, peak = run(["check", "--only", "regression", "--report-json", "report.json"], root)
        report = json.loads((root / "report.json").read_text(encoding="utf-8"))
        check = report["checks"][0]
        print(f"cases: {check['metrics']['cases']}, pass rate {check['metrics']['pass_rate']:.1%}, "
              f"compared with baseline: {check['details']['baseline']['compared']}, exit {code}")
        print(f"report: {(root / 'report.json').stat().st_size / 1e6:.1f} MB")
        print(f"gate check --only regression: {secs:.1f} s wall, peak RSS {peak:.0f} MB (target < 600 MB)")
        sys.exit(0 if peak < 600 else 1)


if __name__ == "__main__":
    main()
