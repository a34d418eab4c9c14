"""The Action's install, as its own step runs it: cold (empty caches) and warm (the venv restored), and its size.

Run by hand: python benchmarks/install_size.py [--locks core,core-scipy,load,all] (core-scipy: core without scipy). Targets: core + load cold
<= 30 s (pip installing everything: 138 s), warm <= 5 s, the core venv <= 120 MB. Cold needs the package index;
"restore" is the time to unpack the venv from a zstd tarball, as actions/cache does (the download is not counted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def install_script() -> str:
    steps = yaml.safe_load((REPO / "action.yml").read_text())["runs"]["steps"]
    return str(next(s for s in steps if s.get("id") == "install")["run"])


def run_install(temp: Path, lock: Path) -> float:
    # The machine's own settings (certificates, proxies, index mirrors) stay; its caches do not.
    env = {**os.environ, "HOME": str(temp / "home"), "RUNNER_TEMP": str(temp),
           "GITHUB_OUTPUT": str(temp / "output"), "ACTION_PATH": str(REPO), "VENV": str(temp / "prodgate-venv"),
           "LOCK": str(lock), "PYTHON": getattr(sys, "_base_executable", sys.executable), "PIP_NO_CACHE_DIR": "1"}
    t0 = time.perf_counter()
    subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", install_script()], env=env, cwd=temp,
                   check=True)
    return time.perf_counter() - t0


def without(lock: Path, name: str, out: Path) -> Path:
    """The lock with one package's entries left out (each entry is a line at column 0 and its indented lines)."""
    kept: list[str] = []
    skipping = False
    for line in lock.read_text().splitlines(keepends=True):
        if line[:1] not in (" ", "#", "\n", ""):
            skipping = line.split("==")[0].strip() == name
        if not skipping:
            kept.append(line)
    out.write_text("".join(kept))
    return out


def size_mb(path: Path) -> float:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return total / 1e6


def packages(venv: Path) -> int:
    return len(list(venv.glob("lib/python*/site-packages/*.dist-info")))


def restore_s(temp: Path, venv: Path) -> float | None:
    if not shutil.which("zstd"):
        return None
    tarball = temp / "venv.tzst"
    subprocess.run(["tar", "--zstd", "-cf", str(tarball), "-C", str(venv.parent), venv.name], check=True)
    shutil.rmtree(venv)
    t0 = time.perf_counter()
    subprocess.run(["tar", "--zstd", "-xf", str(tarball), "-C", str(venv.parent)], check=True)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--locks", default="core,load,all")
    args = parser.parse_args()
    print(f"{'lock':<16} {'packages':>8} {'MB':>7} {'cold s':>7} {'warm s':>7} {'restore s':>9}")
    for name in args.locks.split(","):
        with tempfile.TemporaryDirectory(prefix="prodgate-install-") as tmp:
            temp = Path(tmp)
            lock = REPO / "requirements" / f"{name.removesuffix('-scipy')}.lock"
            if name.endswith("-scipy"):
                lock = without(lock, "scipy", temp / "lock")
            cold = run_install(temp, lock)
            warm = run_install(temp, lock)
            venv = temp / "prodgate-venv"
            restore = restore_s(temp, venv)
            shown = f"{restore:9.2f}" if restore is not None else f"{'-':>9}"
            print(f"{name:<16} {packages(venv):>8} {size_mb(venv):>7.0f} {cold:>7.1f} {warm:>7.2f} {shown}", flush=True)


if __name__ == "__main__":
    main()
