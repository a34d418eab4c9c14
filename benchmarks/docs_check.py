"""Speed of the docs check: the example, a document at the size limit, hostile markdown, `gate docs`.

Run by hand: python benchmarks/docs_check.py [--runs 5]. Targets: the check on the example < 0.1 s
in-process; a document at the 512 KiB limit (about 700 failure-mode sections) < 1.5 s; no hostile
input at the limit slower than 5 s; `gate docs` on the example as a process < 1 s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import median_s

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "support-bot"
LIMIT = 512 * 1024


def run_check(gate_yaml: Path) -> object:
    from prodgate_checks.docs.check import DocsCheck

    from gate.config import load_config
    from gate.context import CheckContext
    from gate.gitref import resolve_base

    config = load_config(gate_yaml)
    return DocsCheck().run(CheckContext(config, resolve_base(config.root)))


def hostile_inputs() -> dict[str, str]:
    """Markdown shapes that make parsers backtrack or nest, each just under the size limit."""
    n = LIMIT - 64
    return {
        "nested brackets": ("[" * (n // 2) + "]" * (n // 2))[:n],
        "unclosed emphasis": ("*a **b " * (n // 7))[:n],
        "deep lists": "".join("  " * (i % 40) + "- x\n" for i in range(n // 50)),
        "deep quotes": "".join(">" * (i % 60) + " q\n" for i in range(n // 40)),
        "one long line": "## Provider outage\n**Detection:** " + "word " * (n // 5),
        "many headings": "".join(f"## Mode {i}\n**Owner:** @x\n" for i in range(n // 30)),
        "many links": "## Provider outage\n" + "".join(f"[l{i}](missing/{i}.md)\n" for i in range(n // 30)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    sys.path.insert(0, str(REPO))
    example = median_s(lambda: run_check(EXAMPLE / "gate.yaml"), runs)
    print(f"docs check on the example, in-process: {example * 1000:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
        (root / "docs").mkdir()
        (root / "gate.yaml").write_text("version: 1\ndocs: {}\n")
        section = (EXAMPLE / "docs" / "failure-modes.md").read_text().split("\n## ", 1)[1]
        big = "# Failure modes\n\n" + "".join("## " + section for _ in range(LIMIT // len(section)))
        big = big[:LIMIT - 1024]
        (root / "docs" / "failure-modes.md").write_text(big)
        t = median_s(lambda: run_check(root / "gate.yaml"), max(1, runs // 2))
        print(f"docs check on a {len(big) // 1024} KiB document ({big.count(chr(10) + '## ')} sections): {t:.2f} s")
        for name, text in hostile_inputs().items():
            (root / "docs" / "failure-modes.md").write_text(text)
            t = median_s(lambda: run_check(root / "gate.yaml"), 1)
            print(f"hostile input, {name} ({len(text) // 1024} KiB): {t:.2f} s")

    cmd = [sys.executable, "-m", "gate", "docs", "-c", str(EXAMPLE / "gate.yaml")]
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, cwd=REPO, capture_output=True, check=False)
        samples.append(time.perf_counter() - t0)
    print(f"`gate docs` on the example, as a process: {statistics.median(samples):.2f} s")


if __name__ == "__main__":
    main()
