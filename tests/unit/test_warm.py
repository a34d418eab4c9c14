"""Modules asked for later are imported at the next wait, a failing one left to the code that needs it."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import sys
from gate import warm
warm.later("prodgate_no_such_module", "wave")
warm.later("wave")
assert "wave" not in sys.modules
warm.now()
warm.now()  # nothing left: no second attempt
print("wave" in sys.modules, "prodgate_no_such_module" in sys.modules)
"""


def test_warm_imports_what_was_asked_and_passes_over_a_failing_import() -> None:
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "False"]
