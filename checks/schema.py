"""The `schema` check: prompt files and models.yaml are valid, secrets absent, changed prompts re-versioned."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gate.config import GateConfig
from gate.context import CheckContext
from gate.models import ModelsFile, load_models
from gate.prompts import load_prompt
from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity, Status, status_from_findings
from gate.yamlfile import YamlError

from .prompt_rules import prompt_findings
from .schema_render import problem_headline
from .secret_scan import referenced_files, scan_files
from .versions import HeadPrompt, compare_versions


class SchemaCheck:
    name = "schema"
    section = "schema"
    description = "Prompt files and models.yaml are valid, hold no secrets, and changed prompts are re-versioned."
    order = 10
    # Runs whenever gate.yaml names prompts or models; the section only tunes it.
    requires_section = False

    def prepare(self, config: GateConfig) -> None:
        self._extra_files(config)

    def run(self, ctx: CheckContext) -> CheckResult:
        config = ctx.config
        opts = config.section("schema") or {}
        strict = bool(opts.get("strict", False))
        if not config.prompt_files and config.models_path is None:
            return CheckResult(self.name, Status.SKIP, "skipped: gate.yaml names no prompts and no models")

        findings: list[Finding] = []
        models = self._models(ctx, findings)
        model_names = set(models.models) if models else set()
        head: list[HeadPrompt] = []
        for path in config.prompt_files:
            display = ctx.display(path)
            try:
                prompt = load_prompt(path, display)
            except YamlError as exc:
                findings.append(Finding(Severity.ERROR, exc.problem, display, exc.line, exc.column))
                head.append(HeadPrompt(path, display, None, 1))
                continue
            findings += prompt_findings(prompt, display, model_names, strict)
            data = prompt.data if isinstance(prompt.data, dict) else None
            line = prompt.doc.locate(["version"]).line if data and "version" in data else 1
            head.append(HeadPrompt(path, display, data, line))

        globs = config.data.get("prompts") or []
        globs = [globs] if isinstance(globs, str) else list(globs)
        version_findings, rows = compare_versions(
            head, ctx.base, globs, config.root, bool(opts.get("require_version_bump", True)))
        findings += version_findings
        if opts.get("secrets", True):
            findings += scan_files((p, ctx.display(p)) for p in self._scanned_files(ctx))

        status = status_from_findings(findings, strict=strict)
        changed = [r for r in rows if r["change"] in ("changed", "added", "removed", "renamed")]
        metrics: dict[str, Any] = {
            "prompts": len(config.prompt_files),
            "models": len(model_names),
            "changed_prompts": len(changed),
            "errors": sum(f.severity is Severity.ERROR for f in findings),
            "warnings": sum(f.severity is Severity.WARNING for f in findings),
        }
        details: dict[str, Any] = {"prompts": rows, "base_compared": ctx.base.available}
        if not ctx.base.available:
            details["base_unavailable_reason"] = ctx.base.reason
        problems = metrics["errors"] + metrics["warnings"]
        value = problem_headline(findings) if problems else f"{counted(metrics['prompts'], 'prompt')} valid"
        change = f"{counted(len(changed), 'prompt')} changed" if changed else None if ctx.base.available else "not compared"
        details["headline"] = {"value": value, "change": change}
        return CheckResult(self.name, status, self._summary(metrics, changed), metrics=metrics,
                           findings=tuple(findings), details=details)

    def markdown_details(self, result: CheckResult) -> str:
        from .schema_render import render_details

        return render_details(result)

    def _models(self, ctx: CheckContext, findings: list[Finding]) -> ModelsFile | None:
        path = ctx.config.models_path
        if path is None:
            return None
        display = ctx.display(path)
        models = load_models(path, display)
        findings += [Finding(Severity.ERROR, p.message, display, p.position.line, p.position.column)
                     for p in models.problems]
        return models

    def _scanned_files(self, ctx: CheckContext) -> list[Path]:
        config = ctx.config
        files = {config.path, *config.prompt_files}
        if config.models_path:
            files.add(config.models_path)
        for name, value in config.data.items():
            if name not in ("prompts", "models", "version"):
                files.update(referenced_files(config.root, value))
        files.update(self._extra_files(config))
        return sorted(files)

    @staticmethod
    def _extra_files(config: GateConfig) -> list[Path]:
        """Files the `extra_files` globs match; a glob that is unusable or matches nothing is exit 2."""
        found: list[Path] = []
        for i, pattern in enumerate((config.section("schema") or {}).get("extra_files", [])):
            found += config.glob(pattern, "schema", "extra_files", i, required=True)
        return found

    @staticmethod
    def _summary(metrics: dict[str, Any], changed: list[dict[str, Any]]) -> str:
        base = f"{counted(metrics['prompts'], 'prompt')}, {counted(metrics['models'], 'model')}"
        if metrics["errors"] or metrics["warnings"]:
            return f"{base}: {counted(metrics['errors'], 'error')}, {counted(metrics['warnings'], 'warning')}"
        moved = ", ".join(f"{Path(r['file']).name} {r['old'] or '-'} -> {r['new'] or '-'}" for r in changed[:3])
        more = f" (+{len(changed) - 3} more)" if len(changed) > 3 else ""
        return f"{base} valid" + (f"; versions: {moved}{more}" if changed else "")
