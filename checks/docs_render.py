"""The docs check's part of the PR comment: one row per failure mode, fallback chains, observed failures."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate.render.escape import inline
from gate.report import CheckResult

_STATE = {"complete": "✅ complete", "incomplete": "❌ incomplete", "missing": "❌ missing",
          "not applicable": "⏭️ not applicable"}


def render_details(result: CheckResult) -> str:
    d = result.details
    lines: list[str] = []
    modes = d.get("modes") or []
    if modes:
        lines += ["| failure mode | state | where | owner |", "|---|---|---|---|"]
        for m in modes:
            state = _STATE.get(m.get("state", ""), inline(str(m.get("state"))))
            if m.get("missing_fields"):
                state += ": no " + ", ".join(inline(f) for f in m["missing_fields"])
            if m.get("state") == "not applicable":
                state += f": {inline(m['reason'], 120)}" if m.get("reason") else ": no reason given"
            where = f"`{inline(_where(m), 120)}`" if m.get("file") else "—"
            owner = inline(m["owner"], 80) if m.get("owner") else "—"
            lines.append(f"| {inline(m['title'], 80)} | {state} | {where} | {owner} |")
    fallbacks = d.get("fallbacks") or []
    if fallbacks:
        lines += ["", "**Fallback chains** (models.yaml)", ""]
        for f in fallbacks:
            chain = " → ".join(f"`{inline(n, 60)}`" for n in f["chain"])
            missing = ", ".join(f"`{inline(n, 60)}`" for n in f["undocumented"])
            lines.append(f"- {chain}: " + (f"❌ no Fallback field names {missing}" if missing else "documented"))
    observed = d.get("observed") or []
    if observed:
        lines += ["", "**Failures observed in this run**", "", "| category | count | seen by | covered by |",
                  "|---|---|---|---|"]
        for o in observed:
            covered = ", ".join(inline(t, 80) for t in o["covered_by"]) or "❌ no failure mode"
            lines.append(f"| `{inline(o['category'], 60)}` | {int(o['count'])} | "
                         f"{', '.join(inline(c, 40) for c in o['checks'])} | {covered} |")
    return "\n".join(lines)


def _where(m: Mapping[str, Any]) -> str:
    return f"{m['file']}:{m['line']}" if m.get("line") else str(m["file"])
