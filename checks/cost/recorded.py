"""Measured tokens from a commit's own files: the usage recorded in the cassette each suite replays from.

`gate cost` runs no regression, and the base commit is never run at all; both still read the same
recording `gate check` replays. The requests are built exactly as the regression check builds them and
looked up by their cassette key, so a stale line (an old prompt's answer, a judge's grade) never counts
and the mean is the one the regression run measures from the same file."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gate.config import GateConfig
from gate.errors import GateError
from gate.models import ModelsFile, models_from_text
from gate.prompts import PromptFile
from gate.providers.keys import request_key
from gate.yamlfile import YamlError

from .files import Files, read_prompt
from .tokens import Measured

if TYPE_CHECKING:
    from gate.providers.cassette import Recorded

MeasureKey = tuple[str, str]
KEYS = ("input_tokens", "output_tokens")


@dataclass(frozen=True)
class _Spec:
    name: str | None
    prompt: Path | None
    dataset: Path | None
    target: Any
    repeats: int


def recorded_usage(files: Files, config: GateConfig, display: Callable[[Path], str], root: Path | None,
                   beneath: Mapping[MeasureKey, Measured] | None = None) -> Mapping[MeasureKey, Measured]:
    """(suite, key) -> the mean recorded usage of the suite's requests, for every suite that replays
    from a cassette holding them. Anything unreadable is left out: the regression check reports it.
    root: the repository a dataset's json_schema files must be in. beneath: what counts for a suite whose
    recording holds nothing (this run's own measurement).

    Worked out a suite at a time, when a route first asks for it: a suite's usage means building every
    request it sends and hashing it, and traffic.yaml usually names one or two suites of several."""
    return RecordedUsage(files, config, display, root, beneath or {})


class RecordedUsage(Mapping[MeasureKey, Measured]):
    def __init__(self, files: Files, config: GateConfig, display: Callable[[Path], str],
                 root: Path | None, beneath: Mapping[MeasureKey, Measured]) -> None:
        self._beneath = beneath
        self._files, self._config, self._display = files, config, display
        self._root = root or config.root
        self._specs: list[_Spec] | None = None
        self._models: list[ModelsFile | None] = []
        self._cassettes: dict[Path, tuple[str, Recorded[dict[str, Any]]] | None] = {}
        # What each spec gave (its suite's name and usage), by its place in the list; None: nothing.
        self._found: dict[int, tuple[str, dict[str, Measured]] | None] = {}
        self._names: dict[int, tuple[str, PromptFile | None] | None] = {}

    def __getitem__(self, key: MeasureKey) -> Measured:
        usage = self._suite(key[0])
        return usage[key[1]] if key[1] in usage else self._beneath[key]

    def __iter__(self) -> Iterator[MeasureKey]:
        return iter(self._everything())

    def __len__(self) -> int:
        return len(self._everything())

    def _everything(self) -> dict[MeasureKey, Measured]:
        out: dict[MeasureKey, Measured] = dict(self._beneath)
        for i in range(len(self._all_specs())):
            found = self._spec_usage(i)
            if found is not None:
                out.update({(found[0], key): m for key, m in found[1].items()})
        return out

    def _suite(self, name: str) -> dict[str, Measured]:
        usage: dict[str, Measured] = {}
        for i in range(len(self._all_specs())):
            named = self._named(i)
            if named is None or named[0] != name:
                continue
            found = self._spec_usage(i)
            if found is not None:
                usage = found[1]  # the last suite of a name counts, as in the regression check
        return usage

    def _named(self, i: int) -> tuple[str, PromptFile | None] | None:
        """The name the regression check gives the spec's suite (SuiteLoader: its own, its prompt's, its
        dataset's stem) and its prompt, read when the name is the prompt's; None: the prompt is unreadable."""
        if i not in self._names:
            spec = self._all_specs()[i]
            prompt = read_prompt(self._files, spec.prompt, self._display(spec.prompt)) if spec.prompt is not None else None
            if spec.prompt is not None and prompt is None:
                self._names[i] = None
            else:
                self._names[i] = (spec.name or (prompt.name if prompt is not None
                                                else Path(self._display(spec.dataset or Path("suite"))).stem), prompt)
        return self._names[i]

    def _all_specs(self) -> list[_Spec]:
        if self._specs is None:
            self._specs = _specs(self._config)
        return self._specs

    def _spec_usage(self, i: int) -> tuple[str, dict[str, Measured]] | None:
        if i in self._found:
            return self._found[i]
        spec, named = self._all_specs()[i], self._named(i)
        self._found[i] = None
        if named is None:
            return None
        target = spec.target if isinstance(spec.target, dict) else {}
        if not isinstance(target.get("replay"), str):
            return None
        path = (self._config.root / target["replay"]).resolve()
        if not path.is_relative_to(self._root.resolve()):
            return None  # evidence is a file of the repository under review, nothing else
        if path not in self._cassettes:
            self._cassettes[path] = _cassette(self._files, path, self._display(path))
        cassette = self._cassettes[path]
        if not self._models:
            self._models.append(_models(self._files, self._config, self._display))
        if cassette is not None:
            name, prompt = named
            usage = _suite_usage(self._files, spec, name, prompt, cassette, self._display, self._root, self._models[0])
            self._found[i] = (name, usage) if usage is not None else None
        return self._found[i]


def _specs(config: GateConfig) -> list[_Spec]:
    if config.section("regression") is None:
        return []
    from ..regression.config import parse_config

    try:
        cfg = parse_config(_unscored(config))
    except GateError:
        return []
    if cfg.suites is not None:
        return [_Spec(s.name, s.prompt, s.dataset, s.target or cfg.target, s.repeats or cfg.repeats)
                for s in cfg.suites]
    return [_Spec(None, p, None, cfg.target, cfg.repeats) for p in config.prompt_files]


def _unscored(config: GateConfig) -> GateConfig:
    """config without its suites' metrics: usage needs the requests a suite sends, not how its answers are scored; and a
    metric's file (a json_schema) would be read from the work tree, where a base commit's may not be (a moved folder)."""
    section = config.section("regression")
    suites = section.get("suites") if section is not None else None
    if section is None or not isinstance(suites, list):
        return config
    unscored = [{k: v for k, v in s.items() if k != "metrics"} if isinstance(s, Mapping) else s for s in suites]
    data = {**config.data, "regression": {**section, "suites": unscored}}
    return replace(config, doc=replace(config.doc, data=data))


def _cassette(files: Files, path: Path, shown: str) -> tuple[str, Recorded[dict[str, Any]]] | None:
    from gate.providers.cassette import read_cassette
    from gate.providers.spec import TargetError

    try:
        with files.local(path, shown) as local:
            return (shown, read_cassette(local, shown)) if local is not None else None
    except (TargetError, YamlError):
        return None


def _models(files: Files, config: GateConfig, display: Callable[[Path], str]) -> ModelsFile | None:
    """The commit's models.yaml, to tell which recordings its prompts' models made; None when unreadable."""
    if config.models_path is None:
        return None
    shown = display(config.models_path)
    try:
        text = files.read(config.models_path, shown)
    except (GateError, YamlError, OSError):
        return None
    return models_from_text(text, shown) if text is not None else None


def _links(prompt: PromptFile | None, models: ModelsFile | None) -> list[tuple[str, dict[str, Any]]] | None:
    """Who may have answered the suite, as the regression check decides it (the prompt's model and its
    fallbacks); None when no live model can be named, where the regression check does not compare either."""
    from gate.providers.factory import model_links
    from gate.providers.spec import TargetError

    if prompt is None or not prompt.model:
        return None
    try:
        return model_links(str(prompt.model), models)
    except TargetError:
        return None


def _suite_usage(files: Files, spec: _Spec, name: str, prompt: PromptFile | None,
                 cassette: tuple[str, Recorded[dict[str, Any]]], display: Callable[[Path], str], root: Path,
                 models: ModelsFile | None) -> dict[str, Measured] | None:
    from ..regression.suites import Suite

    cases = _cases(files, spec, prompt, display, root)
    if not cases:
        return None
    shown, entries = cassette
    suite = Suite(name, "", tuple(cases), prompt, spec.target, (), spec.repeats, 1)
    values: dict[str, list[int]] = {key: [] for key in KEYS}
    # A recording is evidence only for the model that made it: another model's tokens are not this one's.
    links = _links(prompt, models)
    recorded_cases = 0
    for case in cases:
        hit = False
        for request in suite.requests_for(case):
            found = entries.candidates(request_key(request))
            if links is not None:  # of the lines recorded for the request (one per producer), the suite model's
                found = [x for x in found if _answered_for(x, links, request.params)]
            if not found:
                continue
            item = found[-1]
            usage = _usage(item)
            for key in KEYS:
                if isinstance(usage.get(key), int) and not isinstance(usage.get(key), bool):
                    values[key].append(usage[key])
                    hit = True
        recorded_cases += hit
    # statistics.fmean's arithmetic, without importing statistics (fractions, decimal) to validate gate.yaml.
    return {key: Measured(math.fsum(v) / len(v), recorded_cases, shown) for key, v in values.items() if v}


def _answered_for(item: dict[str, Any] | None, links: list[tuple[str, dict[str, Any]]],
                  sent: Mapping[str, Any]) -> bool:
    from gate.providers.keys import answered_for

    response = (item or {}).get("response")
    by = response.get("answered_by") if isinstance(response, dict) else None
    who = (item or {}).get("producer")
    return answered_for(who if isinstance(who, dict) else None, by if isinstance(by, str) else None, links, sent)


def _usage(item: dict[str, Any] | None) -> dict[str, Any]:
    response = (item or {}).get("response")
    usage = response.get("usage") if isinstance(response, dict) else None
    return usage if isinstance(usage, dict) else {}


def _cases(files: Files, spec: _Spec, prompt: PromptFile | None, display: Callable[[Path], str],
           root: Path) -> list[Any]:
    from ..regression.dataset import load_dataset, test_data_cases

    if spec.dataset is None:
        if prompt is None:
            return []
        return test_data_cases(prompt)
    shown = display(spec.dataset)
    try:
        with files.local(spec.dataset, shown) as local:
            return load_dataset(local, shown, root)[0] if local is not None else []
    except YamlError:
        return []
