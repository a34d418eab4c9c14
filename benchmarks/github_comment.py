"""Speed of the PR comment: rendering (typical and oversized reports) and `gate comment` against the fake GitHub.

Run by hand: python benchmarks/github_comment.py [--runs 5]. Targets: rendering the example's
report < 0.1 s; fitting a report whose sections total ~1 MB into 65,000 characters < 1 s; `gate
comment` as a process, creating or updating the comment on a pull request with 150 comments,
< 1.5 s with 3 requests at most (2 pages read, 1 write).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from gate.registry import by_name, discover  # noqa: E402
from gate.render.markdown import render_comment, render_summary  # noqa: E402
from gate.render.markdown_base import COMMENT_LIMIT, Links  # noqa: E402
from gate.report import Report  # noqa: E402
from tests.servers.github_fake import serve  # noqa: E402
from tests.unit.test_markdown_shrink import big_report  # noqa: E402

LINKS = Links("https://github.com", "octo/bot", "0" * 40, "https://github.com/octo/bot/actions/runs/1")
EVENT = REPO / "tests" / "fixtures" / "github-events" / "pull_request.synchronize.json"


def timed(runs: int, fn: Callable[[], object]) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def example_report(tmp: Path) -> Report:
    path = tmp / "example.json"
    subprocess.run([sys.executable, "-m", "gate", "check", "-c", str(REPO / "examples" / "support-bot" / "gate.yaml"),
                    "--report-json", str(path)], capture_output=True, check=False)
    return Report.from_dict(json.loads(path.read_text()))


def comment_process(tmp: Path, fake_url: str, token: str, report: Path) -> float:
    env = {**os.environ, "GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": "pull_request",
           "GITHUB_EVENT_PATH": str(EVENT), "GITHUB_REPOSITORY": "Codertocat/Hello-World", "GITHUB_RUN_ID": "1",
           "GITHUB_API_URL": fake_url, "GITHUB_TOKEN": token, "GITHUB_STEP_SUMMARY": str(tmp / "summary.md"),
           "GITHUB_OUTPUT": str(tmp / "out")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "gate", "comment", "--report", str(report)], env=env, cwd=tmp,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        example = example_report(tmp)
        t, body = timed(runs, lambda: render_comment(example, links=LINKS, checks=by_name(discover()[0])))
        print(f"render the example's comment ({len(str(body)):,} chars): {t:.3f} s")

        big, checks = big_report()
        sizes = sum(len(c.markdown_details(r)) for c, r in zip(checks.values(), big.checks, strict=True))
        t, body = timed(runs, lambda: render_comment(big, links=LINKS, checks=checks))
        assert len(str(body)) <= COMMENT_LIMIT
        print(f"fit {sizes:,} chars of sections into {len(str(body)):,}: {t:.3f} s")

        many = {n: type(c)(n, 2500) for n, c in checks.items()}
        sizes = sum(len(c.markdown_details(r)) for c, r in zip(many.values(), big.checks, strict=True))
        t, text = timed(max(runs // 2, 1), lambda: render_summary(big, links=LINKS, checks=many))
        print(f"fit {sizes:,} chars of sections into a job summary of {len(str(text).encode()):,} bytes: {t:.2f} s")

        report = tmp / "report.json"
        report.write_text(example.to_json())
        creates, updates, requests = [], [], []
        for _ in range(runs):
            with serve() as fake:
                fake.open_pull(2)
                for i in range(149):
                    fake.add_comment(2, f"discussion {i}")
                creates.append(comment_process(tmp, fake.url, fake.token, report))
                fake.requests.clear()
                fake.comments[2][-1]["body"] = fake.comments[2][-1]["body"].replace("prodgate:", "prodgate :", 1)
                updates.append(comment_process(tmp, fake.url, fake.token, report))
                requests.append(len(fake.requests))
        print(f"`gate comment` creating on a 150-comment PR: {statistics.median(creates):.2f} s")
        print(f"`gate comment` updating on a 150-comment PR: {statistics.median(updates):.2f} s, "
              f"{max(requests)} requests")


if __name__ == "__main__":
    main()
