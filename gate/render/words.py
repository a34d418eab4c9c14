"""Counts as words: '1 case', '3 cases', never 'case(s)'."""

from __future__ import annotations


def counted(n: int, word: str, plural: str | None = None) -> str:
    return f"{n} {word if n == 1 else plural or word + 's'}"
