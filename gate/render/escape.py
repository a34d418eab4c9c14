"""Makes untrusted text (model outputs, dataset inputs, file contents) inert in GitHub markdown."""

from __future__ import annotations

import html
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u202a-\u202e\u2066-\u2069]")
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
# Characters with meaning in GFM inline syntax or tables.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")


def strip_control(text: str) -> str:
    return _CONTROL.sub("", text)


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def inline(text: str, limit: int = 300) -> str:
    """For a table cell or a sentence: one line, HTML-escaped, markdown-escaped, no @mentions."""
    text = strip_control(cap(text, limit)).replace("\r", " ").replace("\n", " ")
    text = html.escape(text, quote=True)
    text = _MD_SPECIAL.sub(r"\\\1", text)
    # A zero-width joiner after @ keeps the text readable but pings no one.
    return _MENTION.sub("@\u200d", text)


def code_block(text: str, limit: int = 2000, lang: str = "") -> str:
    """A fenced block longer than any backtick run inside, so the text cannot close it."""
    text = strip_control(cap(text, limit)).replace("\r\n", "\n")
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{lang}\n{text}\n{fence}"
