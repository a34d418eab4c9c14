"""SARIF 2.1.0 from the report: every finding with a file and line, so code scanning shows it on the diff."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import quote

from gate.report import CheckResult, Finding, Report, Severity

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.NOTICE: "note"}


def _uri(file: str) -> tuple[str, bool]:
    """(uri, relative): a path relative to the working folder stays relative to the checkout root."""
    path = file.replace("\\", "/")
    if PurePosixPath(path).is_absolute():
        return "file://" + quote(path), False
    return quote(path.removeprefix("./")), True


def _rule_id(check: CheckResult, finding: Finding) -> str:
    # A finding without a rule of its own is filed under its check, so every result has a rule.
    return finding.rule or check.name


def _descriptor(rule_id: str, check: CheckResult, finding: Finding) -> dict[str, Any]:
    """A rule's description, from the check's own `details.rules` (id -> name, meaning, fix) when it gives one."""
    described: Mapping[str, Any] = (check.details.get("rules") or {}).get(rule_id) or {}
    meaning = str(described.get("meaning") or f"A finding of the {check.name} check.")
    out: dict[str, Any] = {"id": rule_id, "shortDescription": {"text": meaning}, "fullDescription": {"text": meaning},
                           "defaultConfiguration": {"level": _LEVELS[Severity(described.get("severity", finding.severity))]},
                           "properties": {"tags": ["prodgate", check.name]}}
    if described.get("name"):
        out["name"] = str(described["name"])
    if described.get("fix"):
        out["help"] = {"text": str(described["fix"])}
    return out


def render_sarif(report: Report) -> str:
    rules: dict[str, dict[str, Any]] = {}
    index: dict[str, int] = {}
    results = []
    for check in report.checks:
        for f in check.findings:
            if not f.file or not f.line:
                continue
            rule_id = _rule_id(check, f)
            if rule_id not in rules:
                index[rule_id] = len(rules)
                rules[rule_id] = _descriptor(rule_id, check, f)
            uri, relative = _uri(f.file)
            artifact: dict[str, Any] = {"uri": uri}
            if relative:
                artifact["uriBaseId"] = "%SRCROOT%"
            region: dict[str, Any] = {"startLine": f.line}
            if f.column:
                region["startColumn"] = f.column
            result: dict[str, Any] = {
                "ruleId": rule_id, "ruleIndex": index[rule_id], "level": _LEVELS[f.severity],
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {"artifactLocation": artifact, "region": region}}],
                "properties": {"check": check.name},
            }
            if f.case_id:
                result["properties"]["case_id"] = f.case_id
            results.append(result)
    run = {
        "tool": {"driver": {"name": report.tool_name, "version": report.tool_version, "rules": list(rules.values())}},
        "automationDetails": {"id": "prodgate/"},
        "results": results,
    }
    sarif = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(sarif, indent=2, ensure_ascii=False) + "\n"
