"""Helpers for the load check's tests: a gate repository around a load section, and process liveness by pid."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

MESSAGES = [
    [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "How do I reset my password?"}],
    [{"role": "user", "content": "What is the API rate limit?"}],
    [{"role": "user", "content": "Can I get a refund?"}],
]


def write_load_repo(root: Path, load: Mapping[str, Any], files: Mapping[str, str] | None = None) -> Path:
    """gate.yaml with only a load section (and messages.jsonl for the chat scenario) in root."""
    root.mkdir(parents=True, exist_ok=True)
    section = dict(load)
    if section.get("scenario", "openai-chat") == "openai-chat":
        section.setdefault("chat", {"dataset": "messages.jsonl"})
        (root / "messages.jsonl").write_text("".join(json.dumps({"messages": m}) + "\n" for m in MESSAGES),
                                             encoding="utf-8")
    for rel, text in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    path = root / "gate.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "load": section}, sort_keys=False), encoding="utf-8")
    return path



def load_result(report_path: Path) -> dict[str, Any]:
    report = json.loads(report_path.read_text(encoding="utf-8"))
    check: dict[str, Any] = next(c for c in report["checks"] if c["name"] == "load")
    return check
