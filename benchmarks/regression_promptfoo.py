"""promptfoo side by side: the same cases, the same server, the same concurrency, one `contains` each.

Run by hand: python benchmarks/regression_promptfoo.py --promptfoo /path/to/node_modules/.bin/promptfoo
[--url URL] [--cases 400] [--concurrency 16]. Install promptfoo in a temporary folder, never here:
`cd $(mktemp -d) && npm install promptfoo@0.121.20` (0.121.20 is the newest that runs on Node 20).
Without --url it starts the fake server itself (100 ms per answer).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from regression_bench import fake_server, served


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--promptfoo", required=True)
    parser.add_argument("--url")
    parser.add_argument("--cases", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    if args.url:
        print(run_promptfoo(args.promptfoo, args.url, args.cases, args.concurrency))
        return
    with fake_server(0.1) as url:
        print(run_promptfoo(args.promptfoo, url, args.cases, args.concurrency))


if __name__ == "__main__":
    main()
