"""The cost check's details as markdown (PR comment) and as text (`gate cost`): pure functions of the JSON."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from gate.render.escape import inline, no_workflow_commands, terminal_text
from gate.report import Finding

from .money import EPSILON_USD, money, signed_money

_MERMAID_UNSAFE = re.compile(r"[^A-Za-z0-9 _./-]")


def _tokens(value: Mapping[str, Any]) -> str:
    return f"{value.get('value', 0):,.0f}" + ("*" if value.get("estimated") else "")


def _models(route: Mapping[str, Any]) -> str:
    return ", ".join(route.get("models") or [])


def _profile_line(profiles: Sequence[Mapping[str, Any]], chosen: str | None, md: bool) -> str:
    parts = []
    for p in profiles:
        text = f"{p['name']} {money(p['monthly_usd'])}/mo"
        if p.get("p95_usd") is not None:
            text += f" (p50 {money(p['p50_usd'])}, p95 {money(p['p95_usd'])})"
        if md:
            text = inline(text)
            text = f"**{text}**" if p["name"] == chosen else text
        parts.append(text)
    return " · ".join(parts)


def markdown_details(details: Mapping[str, Any], findings: Sequence[Finding] = ()) -> str:
    """The PR comment's cost section: the Infracost-style sentence, the findings, a table by route,
    the profiles and a mermaid pie. Every cell goes through inline(): a route name is file content,
    and a bare `$` pair would render as math."""
    from gate.render.markdown_base import findings_markdown

    profiles: list[Mapping[str, Any]] = list(details.get("profiles") or [])
    chosen = details.get("profile")
    head = next((p for p in profiles if p["name"] == chosen), None)
    if head is None:
        return ""
    diff = details.get("diff")
    base_routes: Mapping[str, float] = {}
    moved = {r["name"]: r.get("moved") or {} for r in (diff or {}).get("routes", [])}
    unlike = {r["name"]: r.get("note") for r in (diff or {}).get("routes", [])}
    lines: list[str] = []
    if diff:
        lines.append(f"**{inline(diff['sentence'], 500)}** (profile {inline(str(chosen))})")
        base_routes = {r["name"]: r["base_usd"] for r in diff["routes"] if r["base_usd"] is not None}
    else:
        reason = (details.get("base") or {}).get("reason") or "no base to compare with"
        text = f"Monthly cost: {money(head['monthly_usd'])} ({reason})"
        lines.append(f"**{inline(text, 500)}** (profile {inline(str(chosen))})")
    if findings:
        lines += ["", findings_markdown(findings)]
    lines += ["", "| route | model | requests/mo | tokens in / out | base | this change | change | per 1k requests |",
              "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in head["routes"]:
        base = base_routes.get(r["name"])
        change = _change(r["monthly_usd"] - base) if base is not None else ("new" if diff else "")
        if unlike.get(r["name"]):  # measured against estimated is no like-for-like change: said beside it
            change += f" ({unlike[r['name']]})"
        m = moved.get(r["name"], {})
        cells = [r["name"], _was(m, "models", _models(r)), _was(m, "requests_month", f"{r['requests_month']:,.0f}"),
                 f"{_was(m, 'input_tokens', _tokens(r['input_tokens']))} / "
                 f"{_was(m, 'output_tokens', _tokens(r['output_tokens']))}",
                 money(base) if base is not None else "–", money(r["monthly_usd"]), change, money(r["per_1k_usd"])]
        lines.append(_row(cells))
    for r in (diff or {}).get("routes", []):
        if r["head_usd"] is None:
            lines.append(_row([r["name"], "", "", "", money(r["base_usd"]), "–", "removed", ""]))
    if diff:
        lines.append(_row(["total", "", f"{head['requests_month']:,.0f}", "", money(diff["base_usd"]),
                           money(diff["head_usd"]), _change(diff["delta_usd"]), ""]))
    lines += ["", "Profiles: " + _profile_line(profiles, chosen, md=True), ""]
    lines += pie(head)
    notes = [f"Prices: {inline(str(details.get('price_data', '')))}."]
    if details.get("estimated"):
        notes.append("\\* estimated from the prompt file (no measured usage yet).")
    lines += ["", "<sub>" + " ".join(notes) + "</sub>"]
    return "\n".join(lines) + "\n"


_LABELS = {"models": "model", "requests_month": "requests/mo", "input_tokens": "input tokens",
           "output_tokens": "output tokens"}


def _shown(key: str, value: Any) -> str:
    return ", ".join(map(str, value)) if key == "models" else f"{value:,.0f}"


def _was(moved: Mapping[str, Any], key: str, now: str) -> str:
    """A cell as "base → head" when that input moved, else as it is."""
    return f"{_shown(key, moved[key][0])} → {now}" if key in moved else now


def moved_lines(details: Mapping[str, Any]) -> list[str]:
    """One line per route whose inputs moved or were counted differently on each side:
    "answer: input tokens 74 → 148; requests/mo 1,200 → 1,500; head tokens estimated, base measured"."""
    out = []
    for r in (details.get("diff") or {}).get("routes", []):
        parts = [f"{_LABELS[k]} {_shown(k, b)} → {_shown(k, h)}" for k, (b, h) in (r.get("moved") or {}).items()]
        if r.get("note"):
            parts.append(str(r["note"]))
        if parts:
            out.append(f"  {r['name']}: {'; '.join(parts)}")
    return out


def _change(delta: float) -> str:
    return signed_money(delta) if abs(delta) >= EPSILON_USD else "–"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(inline(c, 200) for c in cells) + " |"


def pie(profile: Mapping[str, Any]) -> list[str]:
    routes = [r for r in profile["routes"] if r["monthly_usd"] > 0]
    if not routes:
        return []
    title = _MERMAID_UNSAFE.sub("", str(profile["name"]))
    out = ["```mermaid", f"pie title Monthly cost by route ({title}), USD"]
    for r in routes:
        label = _MERMAID_UNSAFE.sub("", str(r["name"])) or "route"
        out.append(f'    "{label}" : {r["monthly_usd"]:.2f}')
    return out + ["```"]


def text_breakdown(details: Mapping[str, Any], only: str | None = None) -> str:
    """What `gate cost` prints: a table per profile, the models, and the change against the base. Route,
    profile and model names are traffic.yaml's and models.yaml's text: made inert as the terminal report is."""
    from tabulate import tabulate

    out: list[str] = []
    diffs: Mapping[str, Any] = details.get("diffs") or {}
    for p in details.get("profiles") or []:
        if only and p["name"] != only:
            continue
        spread = f", p50 {money(p['p50_usd'])}, p95 {money(p['p95_usd'])}" if p.get("p95_usd") is not None else ""
        out.append(f"profile {p['name']} ({p['days_per_month']:g} days/month): {money(p['monthly_usd'])}/mo{spread}")
        rows = []
        for r in p["routes"]:
            p95 = money(r["p95_usd"]) if r.get("p95_usd") is not None else ""
            rows.append([r["name"], _models(r), f"{r['requests_month']:,.0f}", _tokens(r["input_tokens"]),
                         _tokens(r["output_tokens"]), money(r["monthly_usd"]), money(r["per_1k_usd"]), p95])
        out.append(tabulate(rows, headers=["route", "model", "requests/mo", "in tok", "out tok", "USD/mo",
                                           "per 1k req", "p95"], tablefmt="simple",
                            colalign=("left", "left", "right", "right", "right", "right", "right", "right")))
        models = ", ".join(f"{name} {money(v)}" for name, v in sorted(p["by_model"].items(), key=lambda kv: -kv[1]))
        out.append(f"by model: {models}")
        if p["name"] in diffs:
            out.append(diffs[p["name"]]["sentence"])
            if p["name"] == details.get("profile"):
                out += moved_lines(details)
        out.append("")
    base = details.get("base") or {}
    if not base.get("compared"):
        out.append(f"base: not compared ({base.get('reason') or 'unknown reason'})")
    out.append(f"prices: {details.get('price_data', '')}")
    for src in details.get("token_sources") or []:
        out.append(f"tokens: {src}")
    if details.get("estimated"):
        out.append("* estimated: no measured usage (name a suite, {measured: SUITE}, and record it with "
                   "gate check --record; or give numbers in traffic.yaml)")
    return no_workflow_commands(terminal_text("\n".join(out))) + "\n"
