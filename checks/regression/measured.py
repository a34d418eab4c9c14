"""The metric names the suites score, and the gates of gate.yaml that name none of them (a typo applies to nothing)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gate.config import GateConfig
from gate.errors import ConfigError
from gate.files import FileError

from .config import SECTION, MetricSpec, RegressionConfig, SuiteSpec

SCORED = "llm, uses or deepeval"


@dataclass(frozen=True)
class Measured:
    """A suite's metrics by name (True: scored, False: pass/fail) as far as gate.yaml and its files tell;
    None when a file that would tell cannot be read (the run reports that file's defect, and runs nothing)."""

    names: Mapping[str, bool] | None


def check_gate_names(config: GateConfig, cfg: RegressionConfig) -> None:
    """A ConfigError (exit 2) at the first gate that names a metric no suite scores: `gates.metrics` gates the
    scores of the suites' own metrics and their prompts' evaluators; a suite's `thresholds` the judged scores of
    its metrics, evaluators and dataset rows' asserts. The suites' files are read only when gate.yaml's own
    metrics do not name it, and a dataset only for a suite's thresholds."""
    specs = cfg.suites if cfg.suites is not None else tuple(
        SuiteSpec(i, None, p, None, None, (), True, None, None, {}) for i, p in enumerate(config.prompt_files))
    prompts: dict[Path, Measured] = {}
    implicit = cfg.suites is None
    for name in cfg.gates.metrics:
        if any(_scored(spec.metrics).get(name) for spec in specs):
            continue
        each = [_with_prompt(spec, prompts, implicit) for spec in specs]
        if any(m.names is None for m in each):
            continue  # a prompt file that cannot be read: its defect fails the run
        scored = sorted({n for m in each for n, s in (m.names or {}).items() if s})
        if name in scored:
            continue
        what = _pass_fail(name, [m.names or {} for m in each]) or (
            f"no suite scores a metric named {name!r}{_close(name, scored)}: a gate applies to the {SCORED} metrics "
            "of the suites' `metrics:` and of their prompts' evaluators")
        raise _error(config, [SECTION, "gates", "metrics", name], f"gates.metrics.{name}: {what}")
    for spec in specs:
        for name in spec.thresholds:
            if _scored(spec.metrics).get(name):
                continue
            own = _with_prompt(spec, prompts, implicit)
            if own.names is None or own.names.get(name):
                continue
            own = _with_dataset(config, cfg, spec, own) if name not in own.names else own
            if own.names is None or own.names.get(name):
                continue
            scored = sorted(n for n, s in own.names.items() if s)
            what = _pass_fail(name, [own.names]) or (
                f"the suite scores no metric named {name!r}{_close(name, scored)}: a threshold applies to the {SCORED} "
                "metrics of the suite's `metrics:`, its prompt's evaluators and its dataset rows' asserts")
            raise _error(config, [SECTION, "suites", spec.index, "thresholds", name], f"thresholds.{name}: {what}")


def _error(config: GateConfig, at: list[str | int], message: str) -> ConfigError:
    pos = config.doc.locate(at, key=True)  # the name, where the typo is
    return ConfigError(f"{config.display}:{pos.line}:{pos.column}: {message}")


def _scored(metrics: Iterable[MetricSpec]) -> dict[str, bool]:
    return {m.name: m.scored for m in metrics}


def _with_prompt(spec: SuiteSpec, prompts: dict[Path, Measured], implicit: bool) -> Measured:
    """The suite's gate.yaml metrics and, where it uses them, its prompt's evaluators (gate.yaml's win a name).
    Without `suites:`, a prompt file without testData is no suite, and scores nothing."""
    names = _scored(spec.metrics)
    if spec.prompt is None or not spec.evaluators:
        return Measured(names)
    if spec.prompt not in prompts:
        prompts[spec.prompt] = _evaluators(spec.prompt, implicit)
    evaluators = prompts[spec.prompt].names
    return Measured(None if evaluators is None else {**evaluators, **names})


def _evaluators(path: Path, implicit: bool) -> Measured:
    """A prompt file's evaluators by name; None when it cannot be read, or its evaluators are defective (the
    run reports them)."""
    from gate.prompts import YamlError, load_prompt

    from .suites import evaluator_metrics, prompt_defects

    try:
        prompt = load_prompt(path, str(path))
    except (YamlError, FileError, ValueError):
        return Measured(None)
    if not isinstance(prompt.data, dict) or prompt_defects(prompt, {"evaluators"}):
        return Measured(None)
    if implicit and not prompt.test_rows:
        return Measured({})
    return Measured(_scored(evaluator_metrics(prompt)))


def _with_dataset(config: GateConfig, cfg: RegressionConfig, spec: SuiteSpec, known: Measured) -> Measured:
    """`known` and the metrics the suite's dataset rows assert (their own names, if two rows differ)."""
    if spec.dataset is None or known.names is None:
        return known
    from .dataset import load_dataset

    cases, problems = load_dataset(spec.dataset, str(spec.dataset), config.repo, max_cases=cfg.max_cases)
    if problems:
        return Measured(None)  # the run reports the dataset's defects
    asserted: dict[str, bool] = {}
    for case in cases:
        for m in case.asserts:
            asserted[m.name] = asserted.get(m.name, False) or m.scored
    return Measured({**asserted, **known.names})


def _pass_fail(name: str, suites: Iterable[Mapping[str, bool]]) -> str | None:
    if any(names.get(name) is False for names in suites):
        return (f"{name!r} passes or fails by itself, it has no score: its failures count in the pass rate "
                f"(gates.min_pass_rate, max_pass_rate_drop); only {SCORED} metrics are scored")
    return None


def _close(name: str, known: list[str]) -> str:
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
    if close:
        return f" (did you mean {', '.join(repr(c) for c in close)}?)"
    return f" (scored: {', '.join(repr(k) for k in known)})" if known else " (no suite has a scored metric)"

