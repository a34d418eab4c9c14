"""Generators of the files the gate examines: valid ones, and mutations of the example's own files."""

from __future__ import annotations

import json
import re
from typing import Any

from hypothesis import strategies as st

# Values that have broken parsers, loaders and arithmetic before: YAML specials, numeric extremes, anchors and
# tags, control characters, paths, template and workflow syntax.
TOKENS = [
    ".nan", ".inf", "-.inf", "1.0e+308", "-1", "0", "1e400", "99999999999999999999999", "~", "null", "[]", "{}",
    "''", "\"\\0\"", "&a x", "*a", "!!binary AAAA", "!!python/object/apply:os.system ['true']", "<<: *a", "? [a]",
    "%00", "x" * 300, "\t", "- - -", "{{q}}", "${{ secrets.X }}", "::error::x", "\u202e", "[[[[[[[[[[", "{a: {b: {c",
    "true", "2026-01-01", "0x1F", "'", "\"", "#", "|", ">", "-", ":", "a: b: c", "😀" * 10, "../../etc/passwd",
]
BYTES = [b"\xff", b"\x00", b"\r", b"\xef\xbb\xbf", b"\xc3", b"\n\n\n", b"\x1b[31m"]

Mutation = tuple[str, int, int]


def mutations(max_size: int = 4) -> st.SearchStrategy[list[Mutation]]:
    ops = st.sampled_from(["value", "delete", "duplicate", "insert", "bytes", "truncate", "indent", "nan"])
    return st.lists(st.tuples(ops, st.integers(0, 10_000), st.integers(0, 10_000)), min_size=1, max_size=max_size)


def mutate(text: str, steps: list[Mutation]) -> bytes:
    """Apply each step at a position chosen by its numbers (modulo the text's size), so any draw applies."""
    data = text.encode("utf-8")
    for op, a, b in steps:
        lines = data.split(b"\n")
        i = a % len(lines)
        token = TOKENS[b % len(TOKENS)].encode("utf-8")
        if op == "value":
            key, sep, _ = lines[i].partition(b": ")
            lines[i] = key + b": " + token if sep else lines[i] + b" " + token
        elif op == "delete":
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "insert":
            lines.insert(i, b" " * (b % 7) + token)
        elif op == "indent":
            lines[i] = b" " * (b % 5 + 1) + lines[i]
        if op == "bytes":
            at = a % (len(data) + 1)
            data = data[:at] + BYTES[b % len(BYTES)] + data[at:]
        elif op == "truncate":
            data = data[:a % (len(data) + 1)]
        else:
            data = b"\n".join(lines)
    return data


def mutate_jsonl(text: str, steps: list[Mutation]) -> bytes:
    """Mutations inside JSON lines: a value replaced by an odd JSON value, or the line's text mutated."""
    lines = text.splitlines()
    odd: list[Any] = [None, [], {}, "", -1, 1e308, 10**30, True, "\x00", "x" * 5000, {"a": [[[[]]]]}, "{{q}}"]
    for op, a, b in steps:
        i = a % len(lines)
        try:
            row = json.loads(lines[i])
        except ValueError:
            row = None
        if op == "value" and isinstance(row, dict) and row:
            key = sorted(row)[b % len(row)]
            row[key] = odd[b % len(odd)]
            lines[i] = json.dumps(row)
        elif op in ("bytes", "truncate", "insert"):
            lines[i] = mutate(lines[i], [(op, a, b)]).decode("utf-8", "replace")
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "delete" and len(lines) > 1:
            del lines[i]
        elif isinstance(row, dict):  # NaN and Infinity: Python's json reads them, strict JSON does not
            row[sorted(row)[b % len(row)] if row else "x"] = [float("nan"), float("inf")][b % 2]
            lines[i] = json.dumps(row)
    return ("\n".join(lines) + "\n").encode("utf-8")


_NAME = st.from_regex(r"[a-z][a-z0-9-]{0,11}", fullmatch=True)
_WORDS = st.lists(st.sampled_from(["refund", "plan", "invoice", "reset", "password", "team", "billing", "the",
                                   "how", "do", "I", "my", "account", "when", "is", "due"]), min_size=1, max_size=12)
_TEXT = _WORDS.map(" ".join)


# Numbers are written in fixed notation: YAML 1.1 reads `1e-06` (no dot) as text, not as a number.
@st.composite
def models_yaml(draw: st.DrawFn, base: str) -> str:
    """The example's models plus extra ones whose fallbacks only point back to earlier extras (acyclic)."""
    names = draw(st.lists(_NAME.filter(lambda n: n not in ("primary", "backup", "router")), max_size=8, unique=True))
    out = [base.rstrip("\n")]
    for i, name in enumerate(names):
        provider = draw(st.sampled_from(["openai", "github-models", "anthropic"]))
        model = draw(st.sampled_from(["gpt-4o-mini", "openai/gpt-4.1-nano", "claude-3-5-haiku-latest"]))
        fallback = draw(st.lists(st.sampled_from(names[:i]), unique=True)) if i else []
        out += [f"  {json.dumps(name)}:", f"    provider: {provider}", f"    model: {model}",
                f"    timeout: {draw(st.floats(0.5, 600, allow_nan=False)):.6f}",
                f"    params: {{temperature: {draw(st.floats(0, 2, allow_nan=False)):.6f}}}"]
        if fallback:
            out.append(f"    fallback: {json.dumps(fallback)}")  # quoted: `on`, `no`, `y` are booleans in YAML
    return "\n".join(out) + "\n"


@st.composite
def prompt_yaml(draw: st.DrawFn) -> str:
    rows = draw(st.lists(_TEXT, min_size=1, max_size=4))
    params = draw(st.fixed_dictionaries({}, optional={"temperature": st.floats(0, 1, allow_nan=False),
                                                      "maxTokens": st.integers(1, 4000),
                                                      "topP": st.floats(0.01, 1, allow_nan=False)}))
    doc: dict[str, Any] = {
        "name": draw(_TEXT), "description": draw(_TEXT),
        "version": f"{draw(st.integers(0, 9))}.{draw(st.integers(0, 9))}.{draw(st.integers(0, 9))}",
        "model": draw(st.sampled_from(["primary", "backup", "router", "openai/gpt-4o-mini"])),
        "messages": [{"role": "system", "content": draw(_TEXT)}, {"role": "user", "content": "{{question}}"}],
        "testData": [{"question": r, "expected": r.split()[0]} for r in rows],
        "evaluators": [{"name": "mentions", "string": {"contains": "{{expected}}"}}],
    }
    if params:
        doc["modelParameters"] = params
    return json.dumps(doc, indent=2)  # JSON is YAML: the prompt loader reads it as written


@st.composite
def traffic_yaml(draw: st.DrawFn) -> str:
    """Profiles the gate.yaml of the example can use: `expected` and a route `answer` always exist."""
    def route(name: str) -> str:
        model = draw(st.sampled_from(["primary", "backup", "router"]))
        volume = draw(st.one_of(
            st.integers(1, 1_000_000).map(str),
            st.tuples(st.integers(1, 100_000), st.integers(0, 100_000)).map(lambda t: f"{{p50: {t[0]}, p95: {t[0] + t[1]}}}"),
            st.tuples(st.integers(1, 100_000), st.integers(0, 10_000)).map(lambda t: f"{{mean: {t[0]}, sd: {t[1]}}}")))
        lines = [f"  {json.dumps(name)}:", f"    model: {model}", f"    requests_per_day: {volume}",
                 f"    input_tokens: {draw(st.integers(1, 20_000))}", f"    output_tokens: {draw(st.integers(1, 4_000))}"]
        for key in ("retry_rate", "response_cache_hit_rate"):
            if draw(st.booleans()):
                lines.append(f"    {key}: {draw(st.floats(0, 0.9, allow_nan=False)):.6f}")
        if draw(st.booleans()):
            lines.append(f"    growth: {draw(st.floats(-0.5, 1, allow_nan=False)):.6f}")
        return "\n".join(lines)

    extra = draw(st.lists(_NAME.filter(lambda n: n != "answer"), max_size=3, unique=True))
    profiles = ["expected", *draw(st.lists(_NAME.filter(lambda n: n != "expected"), max_size=2, unique=True))]
    out = ["version: 1", "routes:", route("answer"), *(route(n) for n in extra), "profiles:"]
    for p in profiles:
        out += [f"  {json.dumps(p)}:", f"    days_per_month: {draw(st.integers(1, 31))}",
                f"    volume_scale: {draw(st.floats(0.1, 10, allow_nan=False)):.6f}"]
    return "\n".join(out) + "\n"


def sections(markdown: str) -> tuple[str, list[str]]:
    """The failure-mode document split into its preamble and its `## ` sections."""
    parts = re.split(r"(?m)^(?=## )", markdown)
    return parts[0], parts[1:]
