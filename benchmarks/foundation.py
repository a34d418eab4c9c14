"""Start-up and validation speed: `gate --help`, `gate validate` on the example and over 2,000 prompts.

Run by hand: python benchmarks/foundation.py [--runs 5]. Targets: --help <= 0.15 s, validate on the
example <= 0.3 s, validate over 2,000 prompt files (with version comparison against a base commit) < 2 s.

`gate validate` keeps what it learns from installed packages in the user's cache (prices, JSON Schema verdicts,
entry points): the first run of a machine fills it ("cold", its own empty cache here), every later run reads
it ("warm", the figure the target is for).

The figures, with their dates, are in docs/performance.md (Start-up and validation).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PROMPT = """name: Prompt {i}
version: 1.0.{i}
model: openai/gpt-4o-mini
modelParameters: {{temperature: 0.2, maxTokens: 200}}
messages:
  - role: system
    content: You answer questions about topic {i} briefly.
  - role: user
    content: "{{{{question}}}}"
testData:
  - question: What is {i}?
    expected: "{i}"
evaluators:
  - name: echoes
    string: {{contains: "{{{{expected}}}}"}}
"""


def timed(cmd: list[str], cwd: Path, runs: int, env: dict[str, str] | None = None) -> tuple[float, float, int]:
    """(min, median) seconds of `runs` runs, and the last exit code."""
    samples = []
    code = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False, env=env).returncode
        samples.append(time.perf_counter() - t0)
    return min(samples), statistics.median(samples), code


def many_prompts(root: Path, n: int) -> None:
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    (root / "gate.yaml").write_text("version: 1\nprompts: ['prompts/**/*.prompt.yml']\n")
    for i in range(n):
        folder = root / "prompts" / f"g{i % 20}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"p{i}.prompt.yml").write_text(PROMPT.format(i=i))
    git = ["git", "-c", "user.email=b@example.com", "-c", "user.name=b"]
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=root, check=True)
    subprocess.run(["git", "checkout", "-qb", "feature"], cwd=root, check=True)
    # A tenth of the prompts change, with a bump, so the comparison has real work.
    for i in range(0, n, 10):
        path = root / "prompts" / f"g{i % 20}" / f"p{i}.prompt.yml"
        path.write_text(PROMPT.format(i=i).replace(f"version: 1.0.{i}", f"version: 1.1.{i}").replace("briefly", "kindly"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--prompts", type=int, default=2000)
    args = parser.parse_args()
    gate = [sys.executable, "-m", "gate"]
    example = [*gate, "validate", "-c", "examples/support-bot/gate.yaml"]
    rows: list[tuple[str, float, float, float | None, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        cold_env = {**os.environ, "XDG_CACHE_HOME": str(Path(tmp) / "cold-cache")}
        _, cold, code = timed(example, REPO, 1, cold_env)
        rows.append(("gate validate (example), cold cache", cold, cold, None, code))
        timed(example, REPO, 1)  # the user's own cache filled, as after any first run
        best, median, code = timed([*gate, "--help"], REPO, args.runs)
        rows.append(("gate --help", best, median, 0.15, code))
        best, median, code = timed(example, REPO, args.runs)
        rows.append(("gate validate (example)", best, median, 0.3, code))
        root = Path(tmp) / "many"
        many_prompts(root, args.prompts)
        best, median, code = timed([*gate, "validate"], root, max(1, args.runs // 2))
        rows.append((f"gate validate ({args.prompts} prompts, vs base)", best, median, 2.0, code))
    print(f"{'what':<42} {'min s':>7} {'median s':>9} {'target s':>9}  exit")
    for name, best, median, target, code in rows:
        over = "" if target is None or median < target else "  OVER TARGET"
        shown = f"{target:>9.2f}" if target is not None else f"{'-':>9}"
        print(f"{name:<42} {best:>7.3f} {median:>9.3f} {shown}  {code}{over}")


if __name__ == "__main__":
    main()
