"""The `schema` check: prompt files and models.yaml are valid, secrets absent, changed prompts re-versioned."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from gate.config import GateConfig
from gate.context import CheckContext
from gate.models import ModelsFile, load_models
from gate.prompts import load_prompt
from gate.render.words import counted
from gate.report import CheckResult, Finding, Severity, Status, status_from_findings
from gate.yamlfile import YamlError

from .limits import changed_settings
from .markers import covered_lines
from .prompt_rules import prompt_findings
from .rules import BY_NAME, RULES, rule
from .secret_scan import referenced_files, scan_files
from .versions import HeadPrompt, compare_versions

_IGNORE = re.compile(r"gate: ignore\[([^\]]*)\]")


class SchemaCheck:
    name = "schema"
    section = "schema"
    description = "Prompt files and models.yaml are valid, hold no secrets, and changed prompts are re-versioned."
    order = 10
    # Runs whenever gate.yaml names prompts or models; the section only tunes it.
    requires_section = False

    def prepare(self, config: GateConfig) -> None:
        self._extra_files(config)
        self._ignored(config)

    def run(self, ctx: CheckContext) -> CheckResult:
        config = ctx.config
        opts = config.section("schema") or {}
        strict = bool(opts.get("strict", False))
        named = _named_prompts(config)
        settings = changed_settings(config, ctx.base, ctx.display)
        if not config.prompt_files and config.models_path is None and not named:
            if settings:  # nothing else to examine, but the gate itself changed
                return CheckResult(self.name, Status.WARN, f"gate.yaml changed since the base: {settings[0].message}",
                                   findings=tuple(settings))
            return CheckResult(self.name, Status.SKIP, "skipped: gate.yaml names no prompts and no models")

        findings: list[Finding] = []
        models = self._models(ctx, findings)
        model_names = set(models.models) if models else set()
        untargeted = self._untargeted_suites(config)
        examined = (*config.prompt_files, *named)
        ctx.base.prefetch(r for r in map(ctx.base.relpath, (*examined, config.path)) if r)
        head: list[HeadPrompt] = []
        for path in examined:
            display = ctx.display(path)
            try:
                prompt = load_prompt(path, display)
            except YamlError as exc:
                findings.append(Finding(Severity.ERROR, exc.problem, display, exc.line, exc.column, rule="PG100"))
                head.append(HeadPrompt(path, display, None, 1))
                continue
            needs_model = path in untargeted and bool(prompt.test_data)
            findings += prompt_findings(prompt, display, model_names, strict, needs_model)
            data = prompt.data if isinstance(prompt.data, dict) else None
            line = prompt.doc.locate(["version"]).line if data and "version" in data else 1
            head.append(HeadPrompt(path, display, data, line))

        globs = config.data.get("prompts") or []
        globs = [globs] if isinstance(globs, str) else list(globs)
        version_findings, rows = compare_versions(
            head, ctx.base, globs, config.root, bool(opts.get("require_version_bump", True)))
        findings += version_findings
        scanned = self._scanned_files(ctx)
        if opts.get("secrets", True):
            findings += scan_files((p, ctx.display(p)) for p in scanned)
        findings = _unsuppressed(findings, self._ignored(config), {ctx.display(p): p for p in scanned})
        # After the ignores: the change's own `schema.ignore` or markers must not silence a change to the gate.
        findings += settings

        status = status_from_findings(findings, strict=strict)
        changed = [r for r in rows if r["change"] in ("changed", "added", "removed", "renamed")]
        metrics: dict[str, Any] = {
            "prompts": len(examined),
            "models": len(model_names),
            "changed_prompts": len(changed),
            "errors": sum(f.severity is Severity.ERROR for f in findings),
            "warnings": sum(f.severity is Severity.WARNING for f in findings),
        }
        details: dict[str, Any] = {"prompts": rows, "base_compared": ctx.base.available,
                                   "rules": _described(findings)}
        if not ctx.base.available:
            details["base_unavailable_reason"] = ctx.base.reason
        problems = metrics["errors"] + metrics["warnings"]
        value = problem_headline(findings) if problems else f"{counted(metrics['prompts'], 'prompt')} valid"
        change = f"{counted(len(changed), 'prompt')} changed" if changed else None if ctx.base.available else "not compared"
        details["headline"] = {"value": value, "change": change}
        return CheckResult(self.name, status, self._summary(metrics, changed), metrics=metrics,
                           findings=tuple(findings), details=details)

    def markdown_details(self, result: CheckResult) -> str:
        from .render import render_details

        return render_details(result)

    def _models(self, ctx: CheckContext, findings: list[Finding]) -> ModelsFile | None:
        path = ctx.config.models_path
        if path is None:
            return None
        display = ctx.display(path)
        models = load_models(path, display)
        findings += [Finding(Severity.ERROR, p.message, display, p.position.line, p.position.column, rule="PG200")
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
    def _untargeted_suites(config: GateConfig) -> set[Path]:
        """Prompt files whose testData a regression suite runs with no target but the file's own model."""
        section = config.section("regression")
        if section is None or section.get("target"):
            return set()
        suites = section.get("suites")
        if suites is None:  # every prompt file with testData is a suite
            return set(config.prompt_files)
        return {(config.root / s["prompt"]).resolve() for s in suites if isinstance(s, Mapping)
                and isinstance(s.get("prompt"), str) and not s.get("dataset") and not s.get("target")}

    @staticmethod
    def _ignored(config: GateConfig) -> set[str]:
        """The rule ids `schema.ignore` names (by id or name); an unknown one is exit 2 at its line."""
        out = set()
        for i, key in enumerate((config.section("schema") or {}).get("ignore", [])):
            if key not in RULES and key not in BY_NAME:
                close = difflib.get_close_matches(key, [*RULES, *BY_NAME], n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else " (docs/rules.md lists the rules)"
                raise config.error(["schema", "ignore", i], f"unknown rule {key!r}{hint}")
            out.add(rule(key).id)
        return out

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


def _described(findings: Iterable[Finding]) -> dict[str, dict[str, str]]:
    """The rules these findings break, described for the report's readers (SARIF shows them)."""
    fired = sorted({f.rule for f in findings if f.rule in RULES})
    return {r: {"name": RULES[r].name, "severity": RULES[r].severity.value, "meaning": RULES[r].meaning,
                "fix": RULES[r].fix} for r in fired}


def _unsuppressed(findings: Iterable[Finding], ignored: set[str], paths: Mapping[str, Path]) -> list[Finding]:
    """Findings neither `schema.ignore` nor an inline `# gate: ignore[RULE]` at their line suppresses."""
    markers: dict[str, dict[int, set[str]]] = {}
    out = []
    for f in findings:
        if f.rule in ignored:
            continue
        if f.rule and f.file and f.line and f.file in paths:
            if f.file not in markers:
                try:
                    text = paths[f.file].read_text(encoding="utf-8", errors="replace")
                except OSError:
                    text = ""
                markers[f.file] = covered_lines(text, _IGNORE) if "gate: ignore[" in text else {}
            named = {n.strip() for payload in markers[f.file].get(f.line, ()) for n in payload.split(",")}
            if f.rule in named or (f.rule in RULES and RULES[f.rule].name in named):
                continue
        out.append(f)
    return out


PROMPT_SUFFIXES = (".prompt.yml", ".prompt.yaml")


def _named_prompts(config: GateConfig) -> list[Path]:
    """Prompt files gate.yaml names elsewhere (a suite's `prompt:`) that its `prompts:` globs do not match: a
    file the gate runs is examined, and its edits versioned, whatever the globs say (a rename from .prompt.yml
    to .prompt.yaml must not take a prompt out of the rules)."""
    listed = set(config.prompt_files)
    named = {f for name, value in config.data.items() if name not in ("prompts", "models", "version")
             for f in referenced_files(config.root, value)}
    return sorted(f for f in named if f.name.endswith(PROMPT_SUFFIXES) and f not in listed)


def problem_headline(findings: Sequence[Finding]) -> str:
    """The table row's result: what the first problem is and where ('answer.prompt.yml: prompt changed but …'),
    not how many there are."""
    problems = [f for f in findings if f.severity is not Severity.NOTICE]
    if not problems:
        return "valid"
    first = min(problems, key=lambda f: f.severity is not Severity.ERROR)
    where = f"{PurePosixPath(first.file).name}: " if first.file else ""
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}{first.message}{more}"
