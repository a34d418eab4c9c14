"""Speed of the cost check: 100 routes x 3 profiles with 10,000 Monte Carlo draws, the example, `gate cost`.

Run by hand: python benchmarks/cost_projection.py [--runs 5]. Targets: the projection of 100 routes
x 3 profiles, every route a distribution, 10,000 draws, < 1 s; the whole check on that traffic file
(parsing, pricing, projection, a git base) < 1.5 s; `gate cost` on the example as a process < 1.5 s.
"""

from __future__ import annotations

import argparse
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from timing import median_s

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "support-bot"
MODELS = """\
version: 1
models:
  nano: {provider: openai, model: gpt-4.1-nano, fallback: mini}
  mini: {provider: github-models, model: openai/gpt-4o-mini, fallback: large}
  large: {provider: openai, model: gpt-4o}
  sonnet: {provider: anthropic, model: claude-sonnet-4-5, fallback: large}
"""


def traffic(routes: int, seed: int = 0) -> str:
    """Every route random in volume and tokens, tiered, cached, retried, falling back, part batch."""
    rng = random.Random(seed)
    lines = ["version: 1", "routes:"]
    for i in range(routes):
        p50 = rng.randint(100, 50_000)
        tiers = rng.choice(["nano", "{nano: 0.7, mini: 0.3}", "{mini: 0.9, sonnet: 0.1}", "mini"])
        lines.append(
            f"  route{i:03d}: {{model: {tiers}, requests_per_day: {{p50: {p50}, p95: {p50 * 2}}}, growth: 0.03, "
            f"input_tokens: {{mean: {rng.randint(200, 4000)}, sd: 150}}, "
            f"output_tokens: {{p50: {rng.randint(20, 600)}, p95: 900}}, cached_input_ratio: 0.3, "
            f"response_cache_hit_rate: 0.1, retry_rate: 0.02, fallback_rate: 0.01, batch_share: 0.2}}")
    lines += ["profiles:", "  low: {days_per_month: 30, volume_scale: 0.5}", "  expected: {days_per_month: 30}",
              "  peak: {days_per_month: 30, volume_scale: 2.5}"]
    return "\n".join(lines) + "\n"


def make_repo(root: Path, routes: int) -> Path:
    (root / "models.yaml").write_text(MODELS)
    (root / "traffic.yaml").write_text(traffic(routes))
    (root / "gate.yaml").write_text("version: 1\nmodels: models.yaml\ncost: {traffic: traffic.yaml, horizon_months: 3}\n")
    env = ["-c", "user.email=b@example.com", "-c", "user.name=b", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=root, check=True)
    subprocess.run(["git", "add", "-A"], cwd=root, check=True)
    subprocess.run(["git", *env, "commit", "-q", "-m", "traffic"], cwd=root, check=True)
    return root / "gate.yaml"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--routes", type=int, default=100)
    args = parser.parse_args()

    from prodgate_checks.cost.check import CostCheck
    from prodgate_checks.cost.config import load_settings
    from prodgate_checks.cost.files import WorkTree
    from prodgate_checks.cost.inputs import Inputs, build_scenario
    from prodgate_checks.cost.model import project

    from gate.config import load_config
    from gate.context import CheckContext
    from gate.gitref import resolve_base

    with tempfile.TemporaryDirectory() as tmp:
        gate_yaml = make_repo(Path(tmp), args.routes)
        config = load_config(gate_yaml)
        settings = load_settings(config)
        inputs = Inputs(settings.traffic, "traffic.yaml", config.models_path, "models.yaml", 3)
        built = build_scenario(WorkTree(), inputs)
        scenario = built.scenario
        assert scenario is not None, built.problems
        project(scenario)  # warm: numpy import, price lookups
        t_project = median_s(lambda: project(scenario, draws=10_000), args.runs)
        t_build = median_s(lambda: build_scenario(WorkTree(), inputs), args.runs)

        def whole() -> object:
            return CostCheck().run(CheckContext(config, resolve_base(config.root)))

        t_check = median_s(whole, args.runs)
        result = whole()
    t_verb = median_s(lambda: subprocess.run([sys.executable, "-m", "gate", "cost", "-c", str(EXAMPLE / "gate.yaml")],
                                             cwd=REPO, capture_output=True, check=False), max(3, args.runs // 2))

    n = args.routes
    print(f"projection, {n} routes x 3 profiles x 10,000 draws:  {t_project:.3f} s  (target < 1 s)")
    print(f"parse + price traffic.yaml ({n} routes x 3 profiles):  {t_build:.3f} s")
    print(f"whole check, with the base from git:                  {t_check:.3f} s  (target < 1.5 s)")
    print(f"`gate cost` on the example, as a process:             {t_verb:.3f} s  (target < 1.5 s)")
    print(f"  ({result.summary[:100]})")


if __name__ == "__main__":
    main()
