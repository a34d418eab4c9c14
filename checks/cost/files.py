"""Where the cost check reads its files: the work tree, or the base commit through git."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from gate.files import read_text
from gate.gitref import BaseRef
from gate.models import ModelsFile, models_from_text
from gate.prompts import PromptFile, parse_prompt
from gate.report import Finding, Severity
from gate.yamlfile import YamlError


class Files(Protocol):
    """Reads a file the projection needs, from the work tree or from the base commit."""

    def read(self, path: Path, display: str) -> str | None: ...

    def local(self, path: Path, display: str) -> AbstractContextManager[Path | None]:
        """The file as a path on this machine, for readers that take one (None: it does not exist)."""
        ...


class WorkTree:
    def read(self, path: Path, display: str) -> str | None:
        return read_text(path, display) if path.exists() else None

    @contextmanager
    def local(self, path: Path, display: str) -> Iterator[Path | None]:
        yield path if path.is_file() else None


class BaseTree:
    def __init__(self, base: BaseRef) -> None:
        self.base = base

    def read(self, path: Path, display: str) -> str | None:
        rel = self.base.relpath(path)
        data = self.base.read(rel) if rel is not None else None
        if data is None:
            return None
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise YamlError(display, "not valid UTF-8") from None

    @contextmanager
    def local(self, path: Path, display: str) -> Iterator[Path | None]:
        """The base's blob in a temporary file of the same name: the readers take paths (and suffixes)."""
        rel = self.base.relpath(path)
        data = self.base.read(rel) if rel is not None else None
        if data is None:
            yield None
            return
        with tempfile.TemporaryDirectory(prefix="prodgate-cost-") as tmp:
            copy = Path(tmp) / path.name
            copy.write_bytes(data)
            yield copy


def defect(exc: YamlError) -> Finding:
    """A defect of a file the schema check examines: the cost check fails at it rather than guess."""
    return Finding(Severity.ERROR, f"{exc.problem} (the cost cannot be projected; the schema check lists every "
                   "problem of this file)", exc.file, exc.line, exc.column)


def read_prompt(files: Files, path: Path, display: str) -> PromptFile | None:
    """The prompt file as gh-models reads it (its first document), tolerantly: None when it is absent or unreadable, or
    not a mapping (the schema check reports it)."""
    try:
        text = files.read(path, display)
        prompt = parse_prompt(text, display, path) if text is not None else None
    except YamlError:
        return None
    return prompt if prompt is not None and isinstance(prompt.data, dict) else None


def read_models(files: Files, path: Path | None, display: str, defects: list[Finding]) -> ModelsFile | None:
    if path is None:
        return ModelsFile(display, None, {}, None, ())
    try:
        text = files.read(path, display)
    except YamlError as exc:
        defects.append(defect(exc))
        return None
    if text is None:
        return ModelsFile(display, None, {}, None, ())
    models = models_from_text(text, display)
    if models.problems:  # a model it drops or half-reads would be priced wrongly, or blamed on traffic.yaml
        p = models.problems[0]
        defects.append(defect(YamlError(display, p.message, p.position.line, p.position.column)))
        return None
    return models
