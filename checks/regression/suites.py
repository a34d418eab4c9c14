"""Suites: a prompt file's testData and evaluators, or a gate.yaml suite (dataset + metrics) -> cases to run."""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gate.context import CheckContext
from gate.prompts import BUILTIN_EVALUATORS, PromptFile, load_prompt, render_template
from gate.providers.base import ChatMessage, Request
from gate.report import Finding, Severity
from gate.yamlfile import Position, YamlError, format_path

from ..schema.prompt_evaluators import evaluator_kinds, string_criteria
from .config import MetricSpec, RegressionConfig, SuiteSpec, default_pass_at
from .dataset import Case, load_dataset, null_rows, test_data_cases
from .metrics import pattern_problem

# The keys of a prompt file every suite reads (testData and evaluators only when it uses them).
_READ_KEYS = frozenset({"model", "modelParameters", "responseFormat", "jsonSchema", "messages"})
# gh-models' modelParameters -> the request parameters of the provider layer.
_PARAMS = {"maxTokens": "max_tokens", "temperature": "temperature", "topP": "top_p"}


@dataclass(frozen=True)
class Suite:
    name: str
    file: str  # the file cases come from, as findings name it
    cases: tuple[Case, ...]
    prompt: PromptFile | None
    target: Mapping[str, Any] | None
    metrics: tuple[MetricSpec, ...]
    repeats: int
    pass_at: int
    thresholds: Mapping[str, float] = field(default_factory=dict)

    def requests_for(self, case: Case) -> list[Request]:
        """One request per repeat. The model sees the rendered messages; an app target also gets the
        case's variables (but not `expected`, which must never leak into the answer)."""
        messages: tuple[ChatMessage, ...] = ()
        if self.prompt is not None:
            messages = tuple(ChatMessage(m.role, m.content) for m in self.prompt.render(case.variables))
        variables = {k: v for k, v in case.variables.items() if k != "expected"}
        params = request_params(self.prompt)
        return [Request(messages=messages, params=params, variables=variables, case_id=f"{self.name}/{case.id}",
                        repeat=r) for r in range(self.repeats)]


def request_params(prompt: PromptFile | None) -> dict[str, Any]:
    if prompt is None:
        return {}
    # As gh-models sends them: a null parameter is not sent, a fractional maxTokens is truncated.
    out = {_PARAMS[k]: int(v) if k == "maxTokens" and isinstance(v, float) else v
           for k, v in prompt.parameters.items() if k in _PARAMS and v is not None}
    fmt = prompt.data.get("responseFormat")
    if fmt == "json_object":
        out["response_format"] = {"type": "json_object"}
    elif fmt == "json_schema" and prompt.json_schema is not None:
        out["response_format"] = {"type": "json_schema", "json_schema": prompt.json_schema}
    return out


def prompt_defects(prompt: PromptFile, keys: Collection[str]) -> list[tuple[Position, str]]:
    """Where the prompt's `keys` (those a suite reads) are wrong-typed or name an unknown built-in
    evaluator: read as they are, they would crash the check or be silently misread. A null testData row is
    not one: the suite skips it (null_rows), the schema check reports it."""
    skipped = {("testData", i) for i in null_rows(prompt)}
    out = [(v.position, f"{format_path(v.path)}: {v.message}")
           for v in prompt.violations() if v.path[:1] and v.path[0] in keys and tuple(v.path) not in skipped]
    evaluators = prompt.data.get("evaluators")
    if "evaluators" in keys and isinstance(evaluators, list):
        for i, ev in enumerate(evaluators):
            uses = ev.get("uses") if isinstance(ev, dict) and _kind(ev) == "uses" else None
            if isinstance(uses, str) and uses not in BUILTIN_EVALUATORS:
                out.append((prompt.doc.locate(("evaluators", i, "uses")), f"unknown built-in evaluator {uses!r} "
                            f"(known: {', '.join(BUILTIN_EVALUATORS)})"))
    return sorted(out, key=lambda d: (d[0].line, d[0].column))


def _bad_pattern(metrics: list[MetricSpec], case: Case) -> str | None:
    """A regex metric that is not a regular expression once the case's variables are substituted."""
    for m in metrics:
        if m.kind in ("regex", "not_regex"):
            if problem := pattern_problem(render_template(str(m.value), case.variables)):
                return f"case {case.id}: {m.name}: {problem}"
    return None


def _kind(evaluator: dict[str, Any]) -> str | None:
    kinds = evaluator_kinds(evaluator)
    return kinds[0] if kinds else None


def _spec(prompt: PromptFile, i: int, kind: str, value: Any) -> Any:
    """An evaluator's value as gh-models reads it: a string criterion is text as written (`equals: 0` is "0",
    `contains: false` is "false", `equals: 3.10` is "3.10") and only the first non-empty one counts; null llm
    keys are absent."""
    if kind == "string" and isinstance(value, dict):
        return {k: prompt.as_text(("evaluators", i, "string", k), value[k]) for k in string_criteria(value)[:1]}
    if kind == "llm" and isinstance(value, dict):
        return {k: v for k, v in value.items() if v is not None}
    return value


def evaluator_metrics(prompt: PromptFile) -> list[MetricSpec]:
    """A prompt file's evaluators as metrics (string, llm, uses), in the order written."""
    out = []
    raw = prompt.data.get("evaluators")
    for i, ev in enumerate(raw if isinstance(raw, list) else []):
        if not isinstance(ev, dict):
            continue  # the schema check's finding; its index still names the others' positions
        name = prompt.as_text(("evaluators", i, "name"), ev.get("name")) or f"evaluator {i + 1}"
        kind = _kind(ev)
        if kind is not None:
            out.append(MetricSpec(name, kind, _spec(prompt, i, kind, ev[kind])))
    return out


def shard_of(suite: str, case_id: str, count: int) -> int:
    """Which of `count` shards (0-based) runs a case: a stable hash of its id, the same on every runner."""
    digest = hashlib.sha256(f"{suite}\0{case_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


@dataclass
class SuiteLoader:
    ctx: CheckContext
    cfg: RegressionConfig
    findings: list[Finding] = field(default_factory=list)  # defects: nothing runs
    notices: list[Finding] = field(default_factory=list)  # what was skipped, and why: the rest runs

    def load(self) -> list[Suite]:
        specs = self.cfg.suites
        if specs is None:
            specs = tuple(SuiteSpec(i, None, p, None, None, (), True, None, None, {})
                          for i, p in enumerate(self.ctx.config.prompt_files))
            implicit = True
        else:
            implicit = False
        suites: list[Suite] = []
        for spec in specs:
            suite = self._suite(spec, implicit)
            if suite is None:
                continue
            if any(s.name == suite.name for s in suites):
                self._problem(suite.file, 1, f"two suites are named {suite.name!r}: give one a `name:` in gate.yaml")
                continue
            suites.append(suite)
        if not implicit:
            self._unrun({spec.prompt for spec in specs if spec.prompt is not None})
        return suites

    def _unrun(self, used: set[Path]) -> None:
        """A notice per prompt file with testData that no suite of an explicit `suites:` runs: its rows would
        otherwise be left out without a word (a prompt file added in the change, say)."""
        for path in self.ctx.config.prompt_files:
            if path in used:
                continue
            display = self.ctx.display(path)
            try:
                prompt = load_prompt(path, display)
            except YamlError:
                continue  # the schema check reports the file
            if isinstance(prompt.data, dict) and prompt.data.get("testData"):
                self.notices.append(Finding(
                    Severity.NOTICE, "has testData, but no suite in gate.yaml's `suites:` runs it: its rows are "
                    "not run (add a suite whose `prompt:` names this file)", display,
                    prompt.doc.locate(["testData"], key=True).line))

    def _problem(self, file: str, line: int, message: str, column: int | None = None) -> None:
        finding = Finding(Severity.ERROR, message, file, line, column)
        if finding not in self.findings:  # two suites may read one prompt file
            self.findings.append(finding)

    def _suite(self, spec: SuiteSpec, implicit: bool) -> Suite | None:
        prompt = None
        if spec.prompt is not None:
            display = self.ctx.display(spec.prompt)
            try:
                prompt = load_prompt(spec.prompt, display)
            except YamlError as exc:
                self._problem(display, exc.line or 1, exc.problem, exc.column)
                return None
            if not isinstance(prompt.data, dict):
                self._problem(display, 1, "a prompt file must be a mapping")
                return None
            keys = _READ_KEYS | ({"evaluators"} if spec.evaluators else set()) | (
                {"testData"} if spec.dataset is None else set())
            defects = prompt_defects(prompt, keys)
            for pos, message in defects:
                self._problem(display, pos.line, message, pos.column)
            if defects:
                return None
        metrics = list(spec.metrics)
        if spec.dataset is not None:
            file = self.ctx.display(spec.dataset)
            cases, problems = load_dataset(spec.dataset, file, self.ctx.config.repo,
                                           max_cases=self.cfg.max_cases)
            for p in problems:
                self._problem(file, p.line, p.message, p.column)
            if problems:
                return None
        else:
            assert prompt is not None  # parse_config requires a prompt or a dataset
            file = prompt.doc.display
            for i in null_rows(prompt):
                notice = Finding(Severity.NOTICE, f"testData row {i + 1} is null: skipped (give it its variables, or "
                                 "remove it)", file, prompt.doc.locate(("testData", i)).line)
                if notice not in self.notices:  # two suites may read one prompt file
                    self.notices.append(notice)
            cases = test_data_cases(prompt)
            if not cases:
                if not implicit:
                    self._problem(file, 1, "the suite has no dataset and the prompt file has no testData")
                return None
            first: dict[str, int] = {}
            for case in cases:
                if case.id in first:  # two rows would share one result and one baseline entry
                    self._problem(file, case.line, f"duplicate case id {case.id!r} (first on line {first[case.id]})")
                first.setdefault(case.id, case.line)
            if len(first) < len(cases):
                return None
        if prompt is not None and spec.evaluators:
            taken = {m.name for m in metrics}
            metrics += [m for m in evaluator_metrics(prompt) if m.name not in taken]
        bad = [(case.line, why) for case in cases if (why := _bad_pattern([*metrics, *case.asserts], case))]
        for line, why in bad:
            self._problem(file, line, why)
        if bad:
            return None
        name = spec.name or (prompt.name if prompt is not None else Path(file).stem)
        repeats = spec.repeats or self.cfg.repeats
        pass_at = spec.pass_at or self.cfg.pass_at or default_pass_at(repeats)
        target = spec.target or self.cfg.target
        if target is None and prompt is not None and prompt.model:
            target = {"model": prompt.model}
        return Suite(name, file, tuple(cases), prompt, target, tuple(metrics), repeats, min(pass_at, repeats),
                     dict(spec.thresholds))
