"""Start-up and validation speed: `gate --help`, `gate validate` on the example and over 2,000 prompts.

Run by hand: python benchmarks/foundation.py [--runs 5]. Targets: --help <= 0.15 s, validate on the
example <= 0.3 s, validate over 2,000 prompt files (with version comparison against a base commit) < 2 s.
"""

from __future__ import annotations

import argparse
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


def timed(cmd: list[str], cwd: Path, runs: int) -> tuple[float, int]:
    samples = []
    code = 0
    for _ in range(runs):
        t0 = time.perf_counter()
        code = subprocess.run(cmd, cwd=cwd, capture_output=True, check=False).returncode
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), code


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
    rows = []
    t, code = timed([*gate, "--help"], REPO, args.runs)
    rows.append(("gate --help", t, 0.15, code))
    t, code = timed([*gate, "validate", "-c", "examples/support-bot/gate.yaml"], REPO, args.runs)
    rows.append(("gate validate (example)", t, 0.3, code))
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "many"
        many_prompts(root, args.prompts)
        t, code = timed([*gate, "validate"], root, max(1, args.runs // 2))
        rows.append((f"gate validate ({args.prompts} prompts, vs base)", t, 2.0, code))
    print(f"{'what':<42} {'median s':>9} {'target s':>9}  exit")
    for name, t, target, code in rows:
        print(f"{name:<42} {t:>9.3f} {target:>9.2f}  {code}{'' if t < target else '  OVER TARGET'}")


if __name__ == "__main__":
    main()
