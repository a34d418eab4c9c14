"""Makes untrusted text (model outputs, dataset inputs, file contents) inert in GitHub markdown.

This is the single place that knows how: every renderer and every check's `markdown_details`
calls these functions for text it did not write itself.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# C0/C1 controls (except tab and newline), the bidi overrides that can disguise text, and lone
# surrogates (valid in JSON as "\ud800", yet no UTF-8 file or request can carry them).
# Control characters, every bidirectional control (U+061C, U+200E/F, U+202A-E, U+2066-9), and the invisible
# characters that can hide text or split a word a reader sees whole (zero-width space, soft hyphen, word joiner
# and invisible operators, line and paragraph separators, a byte-order mark inside text). U+200C/D stay: scripts
# and emoji need them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2064"
                      r"\u2066-\u2069\ufeff\ud800-\udfff]")
# GitHub links @user, @org/team, #123, owner/repo#123 and GH-123 in text nodes after markdown
# rendering, so a markdown backslash does not stop them; a zero-width joiner after the sigil does,
# and stays invisible. (`&#39;` is an entity this module writes, not a reference.)
_MENTION = re.compile(r"@(?=[A-Za-z0-9])")
_REFERENCE = re.compile(r"(?<!&)#(?=\d)|(?i:\bgh\\?-)(?=\d)")
ZWJ = "\u200d"
# In one pass, so an entity we emit is never escaped again (`&#x27;` must not become `&\#x27;`).
_INLINE = re.compile(r"[\\`*_{}\[\]()#+\-.!|<>~$&\"]")
_ENTITIES = {"<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;"}
_HTML = re.compile(r"[<>&\"']")
_HTML_ENTITIES = {**_ENTITIES, "'": "&#39;"}


# The runner takes a line whose trimmed text starts with `::`, or that holds `##[` anywhere (the
# old form), as a workflow command; it splits lines at \r as well as \n.
_COMMAND_LINE = re.compile(r"(^|[\r\n])([^\S\r\n]*)::")


def strip_control(text: str) -> str:
    return _CONTROL.sub("", text)


def terminal_text(text: str) -> str:
    """For a terminal or a CI log: no escape sequences, no carriage return rewriting a line."""
    return strip_control(text.replace("\r\n", "\n").replace("\r", "\n"))


def no_workflow_commands(text: str) -> str:
    """Output in which no line is a workflow command (`::add-mask::`, `::error::`, `##[…]`), yet reads the same.

    Applied to a whole rendered text, since a table may wrap a cell so that `::` starts a line."""
    text = _COMMAND_LINE.sub(lambda m: m.group(1) + m.group(2) + ZWJ + "::", text)
    return text.replace("##[", "#" + ZWJ + "#[")


def cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(limit - 1, 0)] + "…"


def neutralise_mentions(text: str) -> str:
    """@user and #123 that ping or cross-reference no one, yet read the same."""
    return _REFERENCE.sub(lambda m: m.group(0) + ZWJ, _MENTION.sub("@" + ZWJ, text))


def _one_line(text: str, limit: int) -> str:
    text = strip_control(cap(text, limit))
    return " ".join(text.replace("\r", "\n").split("\n"))


def inline(text: str, limit: int = 300) -> str:
    """For a table cell or a sentence: one line, HTML-escaped, markdown-escaped, no @mentions."""

    def sub(m: re.Match[str]) -> str:
        ch = m.group(0)
        return _ENTITIES.get(ch) or "\\" + ch

    return neutralise_mentions(_INLINE.sub(sub, _one_line(text, limit)))


def html_text(text: str, limit: int = 300) -> str:
    """For text inside raw HTML (a <summary>): markdown is not parsed there, so only HTML-escape."""
    escaped = _HTML.sub(lambda m: _HTML_ENTITIES[m.group(0)], _one_line(text, limit))
    return neutralise_mentions(escaped)


def _longest_run(text: str, char: str) -> int:
    return max((len(m) for m in re.findall(re.escape(char) + "+", text)), default=0)


def code_block(text: str, limit: int = 2000, lang: str = "") -> str:
    """A fenced block longer than any backtick run inside, so the text cannot close it.

    Markdown renderers HTML-escape a code block's content themselves (so `</details>` inside is
    shown, not obeyed); mentions are neutralised anyway in case the text is ever shown elsewhere."""
    text = strip_control(cap(text, limit).replace("\r\n", "\n").replace("\r", "\n"))
    fence = "`" * max(3, _longest_run(text, "`") + 1)
    lang = re.sub(r"[^A-Za-z0-9_+-]", "", lang)
    return f"{fence}{lang}\n{neutralise_mentions(text)}\n{fence}"


def code_span(text: str, limit: int = 200, *, in_table: bool = False) -> str:
    """Inline code; in a table cell `|` must still be escaped, since GFM splits cells first."""
    text = _one_line(text, limit)
    ticks = "`" * (_longest_run(text, "`") + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    body = neutralise_mentions(text)
    if in_table:
        body = body.replace("|", "\\|")
    return f"{ticks}{pad}{body}{pad}{ticks}"


def url_path(path: str) -> str:
    """A repository path as it goes into a URL: every character that could end the link encoded."""
    return quote(strip_control(path), safe="/")


def link(text: str, url: str, limit: int = 300) -> str:
    """A markdown link whose text is untrusted; the URL must be one the gate built itself."""
    if not url.startswith(("https://", "http://")) or any(c in url for c in " <>()\n\r"):
        return inline(text, limit)
    return f"[{inline(text, limit)}]({url})"


# The gate's own prose marks commands and keys with backticks; a code span is inert whatever it holds.
_SPAN = re.compile(r"`([^`\n]+)`")


def prose(text: str, limit: int = 300, *, in_table: bool = False) -> str:
    """For a sentence the gate wrote (it may quote names from the checkout): `spans` render as code, the rest
    is escaped as inline() does."""
    text = cap(text, limit)
    out, last = [], 0
    for m in _SPAN.finditer(text):
        out.append(inline(text[last:m.start()], limit))
        out.append(code_span(m.group(1), limit, in_table=in_table))
        last = m.end()
    out.append(inline(text[last:], limit))
    return "".join(out)


def html_prose(text: str, limit: int = 300) -> str:
    """prose() for raw HTML (a <summary>), where markdown is not parsed: `spans` become <code>."""
    text = cap(text, limit)
    out, last = [], 0
    for m in _SPAN.finditer(text):
        out.append(html_text(text[last:m.start()], limit))
        out.append(f"<code>{html_text(m.group(1), limit)}</code>")
        last = m.end()
    out.append(html_text(text[last:], limit))
    return "".join(out)
