"""Documented fallbacks held to what the resilience check saw the service do in the same run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gate.models import ModelsFile
from gate.report import CheckResult, Finding, Severity

from .catalogue import Mode
from .rules import ModeSection
from .text import names_model


def observations(results: Mapping[str, CheckResult]) -> list[Mapping[str, Any]]:
    """The resilience check's observations of this run, if it ran before."""
    result = results.get("resilience")
    found = result.details.get("observations") if result is not None else None
    return [o for o in found if isinstance(o, Mapping)] if isinstance(found, list) else []


def _names(names: Sequence[str]) -> str:
    quoted = [f"`{n}`" for n in names]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " and " + quoted[-1]


def behaviour_findings(observed: Sequence[Mapping[str, Any]], sections: Sequence[ModeSection],
                       catalogue: Sequence[Mode], models: ModelsFile | None) -> tuple[list[dict[str, Any]], list[Finding]]:
    """For each failure mode a scenario exercised, is the fallback its section documents what the service did?"""
    titles = {m.id: m.title for m in catalogue}
    rows: list[dict[str, Any]] = []
    findings: list[Finding] = []
    for obs in observed:
        scenario, went = str(obs.get("scenario")), [str(m) for m in obs.get("called_after_failure") or []]
        called = [str(m) for m in obs.get("called") or []]
        for mode in obs.get("modes") or []:
            for ms in sections:
                if mode not in ms.modes or ms.waiver is not None:
                    continue
                field = next((f for f in ms.section.fields if f.name == "fallback"), None)
                if field is None:
                    continue
                text = " ".join([field.text, *field.hrefs])
                for failed in [str(m) for m in obs.get("faulted") or []]:
                    documented = _documented(text, failed, models, called + went)
                    if not documented:
                        continue
                    confirmed = [n for n in documented if n in went]
                    rows.append({"scenario": scenario, "mode": mode, "section": ms.title, "file": ms.file,
                                 "line": field.line, "failed": failed, "documented": documented, "observed": went,
                                 "confirmed": bool(confirmed)})
                    said = (f"the failure-mode document says {_names(documented)} "
                            f"{'takes' if len(documented) == 1 else 'take'} over on {titles.get(mode, mode).lower()}")
                    if confirmed:
                        findings.append(Finding(Severity.NOTICE, f"{said}; the resilience check confirmed it: during "
                                                f"the {scenario} scenario, after `{failed}` failed, the service called "
                                                f"{_names(confirmed)}", ms.file, field.line))
                        continue
                    did = (f"after `{failed}` failed, the service's calls went to {_names(went)}" if went
                           else f"the service called only {_names(called or [failed])}")
                    findings.append(Finding(Severity.ERROR, f"{said}; during the {scenario} scenario (resilience "
                                            f"check) {did}", ms.file, field.line))
    return rows, findings


def _documented(text: str, failed: str, models: ModelsFile | None, seen: Sequence[str]) -> list[str]:
    """The models the fallback text names as taking over from `failed`: in its models.yaml chain when it has one."""
    if models is not None and models.models:
        if failed not in models.models or not models.models[failed].fallback:
            return []  # models.yaml gives it no fallback: the document cannot say one takes over from it
        chain = models.chain(failed)[1:]
        return [n for n in chain if names_model(text, [n, models.models[n].model])]
    return [n for n in dict.fromkeys(seen) if n != failed and names_model(text, [n])]
