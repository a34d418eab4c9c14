"""The Action's check of the outputs `gate check --github-output` wrote, before it hands them to the runner.

Code the gate runs (a service, a target, a locustfile) is the step's own user and can find the file the gate writes
its outputs to. So the Action takes them only as the gate writes them: one `verdict` that agrees with the exit
code, one `report-path`, in the delimited form, and nothing else in the file. Run as
`python -I -m gate.action_guard OUTPUTS EXIT_CODE`: prints the verdict and the report path (a line each; the path
empty when the gate wrote none), or exits 1 when the file was written to by anything else."""

from __future__ import annotations

import re
import sys
from pathlib import Path

# The verdicts each exit code of `gate check` can carry (docs: exit codes).
AGREES = {"0": {"pass", "warn", "skip"}, "1": {"fail"}, "2": {"error"}, "3": {"error"}}
_ENTRY = re.compile(r"(?P<name>[a-z-]+)<<(?P<delim>ghadelimiter_[0-9a-f-]{36})\n(?P<value>[^\n]*)\n(?P=delim)\n")
MAX_BYTES = 64 * 1024


def outputs_of(text: str, code: str) -> tuple[str, str] | None:
    """The verdict and report path the gate wrote, or None when the text is not exactly the gate's two outputs."""
    entries: dict[str, str] = {}
    at = 0
    while at < len(text):
        m = _ENTRY.match(text, at)
        if m is None or m["name"] in entries:
            return None
        entries[m["name"]] = m["value"]
        at = m.end()
    if set(entries) != {"verdict", "report-path"} or entries["verdict"] not in AGREES.get(code, set()):
        return None
    return entries["verdict"], entries["report-path"]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -I -m gate.action_guard OUTPUTS EXIT_CODE", file=sys.stderr)
        return 2
    path, code = Path(argv[0]), argv[1]
    try:
        raw = path.read_bytes()[:MAX_BYTES + 1]
        text = raw.decode("utf-8") if len(raw) <= MAX_BYTES else ""
    except (OSError, UnicodeDecodeError):
        text = ""
    # A gate that stopped before writing its outputs (exit 2, or killed) leaves the file empty: nothing forged.
    if text == "" and code != "0" and code != "1":
        print("error\n")
        return 0
    found = outputs_of(text, code)
    if found is None:
        return 1
    print(f"{found[0]}\n{found[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
