"""Talking to the runner: step outputs, the job summary, annotations and warnings (workflow commands)."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from gate.render.escape import strip_control
from gate.report import Finding, Report, Severity

# GitHub shows at most 10 error and 10 warning annotations per step and 50 per job.
MAX_ANNOTATIONS = 50
SUMMARY_MAX_BYTES = 1024 * 1024
_ORDER = {Severity.ERROR: 0, Severity.WARNING: 1, Severity.NOTICE: 2}


def _data(text: str) -> str:
    # A newline would end the command and let the rest of the text issue commands of its own.
    return strip_control(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(finding: Finding, check: str) -> str | None:
    """`::error file=…,line=…::message` for a finding with a repository-relative file."""
    if not finding.file or finding.file.startswith(("/", "../")):
        return None
    props = [f"file={_prop(finding.file)}"]
    if finding.line:
        props.append(f"line={int(finding.line)}")
        if finding.column:
            props.append(f"col={int(finding.column)}")
    props.append(f"title={_prop(f'prodgate {check}')}")
    return f"::{finding.severity.value} {','.join(props)}::{_data(finding.message)}"


def annotation_lines(report: Report, limit: int = MAX_ANNOTATIONS) -> tuple[list[str], int]:
    """(command lines, how many findings with a file were left out), errors first."""
    pairs = [(f, c.name) for c in report.checks for f in c.findings if f.file]
    pairs.sort(key=lambda p: _ORDER[p[0].severity])
    lines = [line for f, name in pairs if (line := annotation(f, name))]
    return lines[:limit], max(len(lines) - limit, 0)


def warning(message: str, *, in_actions: bool, stream: TextIO | None = None) -> None:
    """A warning the run page shows (as a workflow command in Actions, else on stderr)."""
    out = stream or (sys.stdout if in_actions else sys.stderr)
    out.write(f"::warning title=prodgate::{_data(message)}\n" if in_actions else f"warning: {message}\n")
    out.flush()


def write_outputs(path: Path, values: Mapping[str, str]) -> None:
    """Step outputs in the multi-line form, with a delimiter no value can contain."""
    with path.open("a", encoding="utf-8") as fh:
        for name, value in values.items():
            delimiter = f"ghadelimiter_{uuid.uuid4()}"
            fh.write(f"{name}<<{delimiter}\n{value}\n{delimiter}\n")


def append_summary(path: Path, parts: Iterable[str]) -> int:
    """Append to the job summary without passing GitHub's 1 MiB; returns the bytes written."""
    try:
        used = path.stat().st_size
    except OSError:
        used = 0
    written = 0
    with path.open("a", encoding="utf-8") as fh:
        for text in parts:
            data = text if text.endswith("\n") else text + "\n"
            size = len(data.encode("utf-8"))
            if used + written + size > SUMMARY_MAX_BYTES:
                break
            fh.write(data)
            written += size
    return written
