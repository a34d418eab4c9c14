"""The `docs` check: failure-mode documentation exists, is complete, and matches the system as configured."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from gate.config import GateConfig
from gate.context import CheckContext
from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity, status_from_findings

from .config import DocsOptions, load_options

if TYPE_CHECKING:  # the reading and the rules are imported by the run: validating gate.yaml reads the section alone
    from .read import BaseDocuments, Documents
    from .rules import ModeRow, ModeSection

MAX_FINDINGS = 500


class DocsCheck:
    name = "docs"
    section = "docs"
    description = "Every failure mode is documented with detection, impact, mitigation, fallback and owner."
    order = 90

    def prepare(self, config: GateConfig) -> None:
        load_options(config)

    def run(self, ctx: CheckContext) -> CheckResult:
        from .read import base_documents, read_documents, required_document_findings
        from .rules import completeness, coverage, mode_rows, mode_sections, waiver_findings

        opts = load_options(ctx.config)
        gate_file = ctx.display(ctx.config.path)
        docs = read_documents(ctx, opts, gate_file)
        base = base_documents(ctx, opts)
        findings = list(docs.findings)
        sections: list[ModeSection] = []
        for doc in docs.parsed:
            found, warnings = mode_sections(doc.file, doc.document.sections, opts)
            sections += found
            findings += warnings
        incomplete: set[int] = set()
        for i, ms in enumerate(sections):
            own = completeness(ms, opts)
            findings += own
            if any(f.severity is Severity.ERROR for f in own):
                incomplete.add(i)
        complete = {id(ms): i not in incomplete for i, ms in enumerate(sections)}
        rows = mode_rows(opts.catalogue, sections, opts, lambda ms: complete[id(ms)])
        anchor_file, anchor_line = docs.anchor
        details: dict[str, Any] = {}
        if docs.parsed and not sections:
            findings.append(Finding(Severity.ERROR, "has no `## ` sections: each failure mode is a `## ` section "
                                    f"(none of the {len(rows)} catalogue modes is documented)", anchor_file, anchor_line))
        elif sections:
            findings += coverage(rows, anchor_file, anchor_line, base.rows if base else ())
            findings += self._system(ctx, opts, rows, sections, docs, details)
        findings += waiver_findings(opts, gate_file)
        findings += docs.link_findings
        findings += required_document_findings(ctx, opts, gate_file)

        status = status_from_findings(findings)
        metrics = _metrics(rows, sections, findings, details)
        if len(findings) > MAX_FINDINGS:
            # A runaway document (thousands of empty sections) must not bloat the report and the PR comment.
            findings = findings[:MAX_FINDINGS] + [Finding(
                Severity.ERROR, f"... and {len(findings) - MAX_FINDINGS} more findings, not listed", anchor_file)]
        headline = {"value": f"{metrics['modes_complete']}/{metrics['modes_required']} modes complete",
                    "change": _change(base, metrics)}
        details.update({"headline": headline, "modes": [_row(r) for r in rows],
                        "documents": [d.file for d in docs.parsed],
                        # Sections of the system's own failure modes, beyond the catalogue.
                        "other_modes": [_other(ms, complete[id(ms)]) for ms in sections if not ms.modes]})
        return CheckResult(self.name, status, _summary(metrics), metrics=metrics, findings=tuple(findings),
                           details=details)

    def _system(self, ctx: CheckContext, opts: DocsOptions, rows: list[ModeRow], sections: list[ModeSection],
                docs: Documents, details: dict[str, Any]) -> list[Finding]:
        from .behaviour import behaviour_findings, observations
        from .system import fallback_findings, observed_categories, observed_findings

        findings: list[Finding] = []
        anchor_file, anchor_line = docs.anchor
        models = None
        if opts.check_fallbacks and ctx.config.models_path is not None:
            from gate.models import load_models

            models_file = ctx.display(ctx.config.models_path)
            models = load_models(ctx.config.models_path, models_file)
            fields = [(ms, f) for ms in sections if ms.waiver is None for f in ms.section.fields if f.name == "fallback"]
            text = " ".join([f.text for _, f in fields] + [h for _, f in fields for h in f.hrefs])
            where = (f"e.g. in the Fallback of '{fields[0][0].title}' at {fields[0][0].file}:{fields[0][1].line}"
                     if fields else f"no section of {anchor_file} has a Fallback field")
            chains, found = fallback_findings(models, text, models_file, where)
            findings += found
            details["fallbacks"] = [{"model": r.model, "chain": list(r.chain), "undocumented": list(r.undocumented)}
                                    for r in chains]
        observed_behaviour = observations(ctx.results)
        if opts.check_fallbacks and observed_behaviour:
            behaviour, found = behaviour_findings(observed_behaviour, sections, opts.catalogue, models)
            findings += found
            details["behaviour"] = behaviour
        if opts.check_observed:
            waivers = {w.mode: w for w in opts.waivers}
            gate_file = ctx.display(ctx.config.path)

            def waiver_at(mode_id: str) -> tuple[str, int | None]:
                if mode_id in waivers:
                    return gate_file, waivers[mode_id].line
                ms = next(ms for ms in sections if mode_id in ms.modes and ms.waiver is not None)
                return ms.file, ms.waiver.line if ms.waiver else ms.section.line

            observed, found = observed_findings(observed_categories(ctx.results), opts.catalogue, rows, sections,
                                                waiver_at, anchor_file, anchor_line)
            findings += found
            details["observed"] = [{"category": o.category, "count": o.count, "checks": list(o.checks),
                                    "covered_by": list(o.covered_by)} for o in observed]
        return findings

    def markdown_details(self, result: CheckResult) -> str:
        from .render import render_details

        return render_details(result)


def _other(ms: ModeSection, complete: bool) -> dict[str, Any]:
    from .text import owners

    state = "not applicable" if ms.waiver else "complete" if complete else "incomplete"
    owner = next((o for f in ms.section.fields if f.name == "owner" for o in owners(f.text, f.hrefs)), None)
    out: dict[str, Any] = {"title": ms.title, "state": state, "file": ms.file, "line": ms.section.line}
    if owner:
        out["owner"] = owner
    return out


def _row(r: ModeRow) -> dict[str, Any]:
    out: dict[str, Any] = {"id": r.id, "title": r.title, "state": r.state}
    for key in ("file", "line", "owner", "reason"):
        if getattr(r, key) is not None:
            out[key] = getattr(r, key)
    if r.missing:
        out["missing_fields"] = list(r.missing)
    return out


def _metrics(rows: list[ModeRow], sections: list[ModeSection], findings: list[Finding],
             details: Mapping[str, Any]) -> dict[str, Any]:
    states = [r.state for r in rows]
    fallbacks = details.get("fallbacks", [])
    observed = details.get("observed", [])
    return {
        "modes_required": sum(s != "not applicable" for s in states),
        "modes_complete": states.count("complete"),
        "modes_incomplete": states.count("incomplete"),
        "modes_missing": states.count("missing"),
        "modes_not_applicable": states.count("not applicable"),
        "sections": len(sections),
        "fallback_models": len({m for f in fallbacks for m in f["chain"]}),
        "fallback_models_undocumented": len({m for f in fallbacks for m in f["undocumented"]}),
        "observed_categories": len(observed),
        "observed_uncovered": sum(not o["covered_by"] for o in observed),
        "errors": sum(f.severity is Severity.ERROR for f in findings),
        "warnings": sum(f.severity is Severity.WARNING for f in findings),
    }


def _summary(m: Mapping[str, Any]) -> str:
    text = f"{m['modes_complete']}/{m['modes_required']} failure modes complete"
    gaps = [f"{m[k]} {label}" for k, label in (("modes_missing", "missing"), ("modes_incomplete", "incomplete"),
                                                ("modes_not_applicable", "not applicable")) if m[k]]
    if gaps:
        text += f" ({', '.join(gaps)})"
    if m["fallback_models"]:
        named = m["fallback_models"] - m["fallback_models_undocumented"]
        text += f", {named}/{m['fallback_models']} fallback models named"
    if m["observed_categories"]:
        text += f", {m['observed_categories'] - m['observed_uncovered']}/{m['observed_categories']} observed failure categories covered"
    if m["errors"] or m["warnings"]:
        text += f": {counted(m['errors'], 'error')}, {counted(m['warnings'], 'warning')}"
    return text


def _change(base: BaseDocuments | None, metrics: Mapping[str, Any]) -> str | None:
    """The headline's comparison with the same documents on the base branch."""
    if base is None:
        return None
    if not base.present:
        return "new document"
    now = f"{metrics['modes_complete']}/{metrics['modes_required']}"
    return None if base.complete() == now else f"was {base.complete()}"
