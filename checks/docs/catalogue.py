"""The default catalogue of LLM failure modes, the fields each needs, and the taxonomy they cover."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache

from gate.taxonomy import Category

# The failure taxonomy the regression and load checks put on their findings.
TAXONOMY = tuple(c.value for c in Category)

DEFAULT_FIELDS = ("detection", "impact", "mitigation", "fallback", "owner")

# What people actually call these fields. Plurals are accepted without listing them.
FIELD_ALIASES: Mapping[str, tuple[str, ...]] = {
    "detection": ("detect", "detected by", "how we detect it", "how it is detected", "how detected",
                  "alerting", "alerts", "monitoring", "signals"),
    "impact": ("user impact", "customer impact", "effect", "blast radius", "consequence"),
    "mitigation": ("mitigate", "handling", "how we handle it", "response", "remediation"),
    "fallback": ("fallback behaviour", "fallback behavior", "degraded mode", "graceful degradation"),
    "owner": ("owned by", "owning team", "on call", "on-call", "contact", "responsible"),
}

# Fields that say something about the section rather than the failure.
ID_FIELD, COVERS_FIELD, WAIVER_FIELD = "id", "covers", "not applicable"
META_ALIASES: Mapping[str, tuple[str, ...]] = {
    ID_FIELD: ("mode id", "failure mode id"),
    COVERS_FIELD: ("categories", "failure categories", "taxonomy"),
    WAIVER_FIELD: ("n/a", "does not apply", "not relevant"),
}

# `##` sections that introduce or close a document rather than describe a failure.
NON_MODE_HEADINGS = frozenset({
    "overview", "introduction", "about", "about this document", "scope", "purpose", "contents",
    "table of contents", "toc", "glossary", "definitions", "references", "see also", "contacts",
    "escalation", "escalation path", "changelog", "change log", "history", "revision history",
    "appendix", "notes", "summary", "how to use this document", "review", "review cadence",
})


@dataclass(frozen=True)
class Mode:
    id: str
    title: str
    # Phrases that, as whole words in a `##` heading, say the section documents this mode.
    match: tuple[str, ...]
    # Failure categories of the taxonomy this mode covers.
    covers: tuple[str, ...] = ()
    builtin: bool = True


CATALOGUE: tuple[Mode, ...] = (
    Mode("provider-outage", "Provider outage",
         ("provider outage", "outage", "provider down", "provider unavailable", "provider unavailability",
          "provider failure", "provider error", "api outage", "model unavailable", "service unavailable",
          "downtime"),
         ("transport.server_error", "transport.connection", "transport.timeout", "transport.client_error")),
    Mode("rate-limiting", "Rate limiting",
         ("rate limiting", "rate limit", "rate limited", "throttling", "throttled", "quota", "429"),
         ("transport.rate_limited",)),
    Mode("latency-slo-breach", "Latency SLO breach",
         ("latency", "slo breach", "slow response", "slowness", "timeout", "time to first token", "ttft"),
         ("transport.timeout", "budget.latency")),
    Mode("malformed-output", "Malformed or schema-violating output",
         ("malformed", "schema violation", "schema violating", "invalid json", "invalid output",
          "parse failure", "parsing failure", "structured output", "truncated output", "empty output",
          "empty response"),
         ("output.empty", "output.invalid_json", "output.schema_violation", "output.truncated")),
    Mode("hallucination", "Hallucination / ungrounded answer",
         ("hallucination", "hallucinated", "ungrounded", "grounding", "factual error", "fabrication",
          "incorrect answer", "wrong answer", "confabulation", "answer quality"),
         ("quality.assertion", "quality.judge", "output.refusal")),
    Mode("prompt-injection", "Prompt injection",
         ("prompt injection", "injection", "jailbreak", "jailbreaking")),
    Mode("sensitive-data-leakage", "Sensitive data leakage",
         ("data leakage", "data leak", "sensitive data", "pii", "personal data", "secret leak",
          "data exposure", "leakage", "privacy")),
    Mode("cost-overrun", "Cost overrun",
         ("cost overrun", "cost", "spend", "overspend", "budget", "token usage"),
         ("budget.cost", "budget.tokens")),
    Mode("retrieval-degradation", "Retrieval degradation",
         ("retrieval", "rag", "search quality", "stale index", "knowledge base", "embedding"),
         ("retrieval.empty", "retrieval.invalid_output", "retrieval.unjudged")),
    Mode("model-change", "Model or version change",
         ("model change", "model version", "version change", "model update", "model upgrade",
          "model deprecation", "deprecation", "model drift", "model retirement", "model or version change"),
         ("transport.client_error",)),
)


@lru_cache(maxsize=4096)  # labels and phrases repeat across sections
def normalise(text: str) -> str:
    """Lower case, words separated by single spaces: how headings, labels and phrases are compared."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", text.lower().replace("'", "").replace("’", "")).split())


def slug(text: str) -> str:
    return normalise(text).replace(" ", "-")


def _contains_phrase(haystack: str, phrase: str) -> bool:
    padded = f" {haystack} "
    return f" {phrase} " in padded or f" {phrase}s " in padded or f" {phrase}es " in padded


@cache
def _phrases(mode: Mode) -> tuple[str, ...]:
    return tuple(p for p in (normalise(mode.title), normalise(mode.id), *map(normalise, mode.match)) if p)


def modes_for_heading(heading: str, catalogue: Iterable[Mode]) -> list[Mode]:
    """Catalogue modes that a `##` heading names (by id, title or one of its phrases)."""
    text = normalise(heading)
    heading_slug = text.replace(" ", "-")
    return [m for m in catalogue if heading_slug == m.id or any(_contains_phrase(text, p) for p in _phrases(m))]


def covering(category: str, catalogue: Iterable[Mode]) -> list[Mode]:
    return [m for m in catalogue if category in m.covers]


@dataclass(frozen=True)
class FieldNames:
    """Turns what a writer labelled a field into the field it is, or None if it is no known field."""

    required: tuple[str, ...]
    aliases: Mapping[str, str]

    @classmethod
    def build(cls, required: Iterable[str], extra: Mapping[str, Iterable[str]] | None = None) -> FieldNames:
        wanted = tuple(normalise(r) for r in required)
        table: dict[str, str] = {}
        for canonical, names in {**FIELD_ALIASES, **META_ALIASES}.items():
            for name in (canonical, *names):
                table[normalise(name)] = canonical
        for canonical, others in (extra or {}).items():
            for name in (canonical, *others):
                table[normalise(name)] = normalise(canonical)
        for name in wanted:
            table.setdefault(name, name)
        return cls(wanted, table)

    def canonical(self, label: str) -> str | None:
        key = normalise(label)
        for candidate in (key, key[:-1] if key.endswith("s") else key, key[:-2] if key.endswith("es") else key):
            if candidate in self.aliases:
                return self.aliases[candidate]
        return None
