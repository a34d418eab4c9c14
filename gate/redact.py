"""Keeps credentials out of every output: known token shapes and the values of secret variables."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SecretKind:
    name: str
    pattern: re.Pattern[str]
    # Lower-case text that every match contains one of: a text holding none is skipped without a regex.
    markers: tuple[str, ...] = ()


def _kind(name: str, pattern: str, *markers: str) -> SecretKind:
    return SecretKind(name, re.compile(pattern), markers)


# Flags are inline and scoped, so that every kind can also be one branch of the single pattern below.
SECRET_KINDS: tuple[SecretKind, ...] = (
    _kind("Anthropic API key", r"\bsk-ant-[A-Za-z0-9_-]{20,}", "sk-"),
    _kind("OpenAI API key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}", "sk-"),
    _kind("GitHub token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})",
          "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    _kind("AWS access key id", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", "akia", "asia"),
    _kind("bearer token", r"\b(?i:bearer)\s+[A-Za-z0-9._~+/-]{20,}=*", "bearer"),
    _kind("Slack token", r"\bxox[a-z]-[A-Za-z0-9-]{10,}", "xox"),
    _kind("Slack webhook URL", r"\b(?:https?://)?hooks\.slack(?:-gov)?\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/+-]{8,}",
          "hooks.slack"),
    _kind("Stripe live key", r"\b[rs]k_live_[A-Za-z0-9]{16,}", "k_live_"),
    _kind("Google API key", r"\bAIza[A-Za-z0-9_-]{35}", "aiza"),
    _kind("Hugging Face token", r"\bhf_[A-Za-z0-9]{30,}", "hf_"),
    _kind("GitLab token", r"\bgl(?:pat|ptt|dt|rt|cbt)-[A-Za-z0-9_-]{20,}", "glpat-", "glptt-", "gldt-", "glrt-", "glcbt-"),
    _kind("Slack app token", r"\bxapp-[A-Za-z0-9-]{10,}", "xapp-"),
    _kind("npm token", r"\bnpm_[A-Za-z0-9]{36}\b", "npm_"),
    _kind("PyPI token", r"\bpypi-AgE[A-Za-z0-9_-]{50,}", "pypi-"),
    _kind("Discord webhook URL", r"\b(?:https?://)?(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_-]{20,}",
          "discord"),
    # An HTTP Basic credential (a URL's user:password as requests sends it, echoed back by a server).
    # A digit or + / = in it tells base64 from prose ("basic authentication").
    _kind("basic auth credential", r"\b(?i:basic)\s+(?=[A-Za-z+/]*[0-9+/=])[A-Za-z0-9+/]{12,}={0,2}", "basic"),
    # Starts only where a run of base64url characters starts: "-eyJ-eyJ…" would otherwise be retried at each
    # eyJ, each time to the end of the run (quadratic).
    _kind("JSON Web Token", r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]*", "eyj"),
    # To its END line, or (a block cut off, or a key pasted without one) to the end of the text.
    _kind("private key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----(?s:.*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----|.*)",
          "private key-----"),
)

# The `user:password` of a URL (https://u:p@host, postgres://u:p@host): redacted, but not a finding of the
# secret scan, where example DSNs are common. Quotes and brackets end it, so text around a URL stays intact.
_USERINFO = r"(?<=://)[^\s/?#@:\"'`<>\\]*:[^\s/?#\"'`<>\\]*(?=@)"
# Everything redaction replaces, as one pattern (compiled once, one pass over a text). Self-contained,
# so the load generator can take it as text and redact in its own process before it caps a message.
SECRETS = re.compile("|".join([*(k.pattern.pattern for k in SECRET_KINDS), _USERINFO]))
_MARKERS = tuple(sorted({"://", *(m for k in SECRET_KINDS for m in k.markers)}, key=len))

# Variable names that hold credentials. Most words count anywhere in a name; PASS, PWD and AUTH only
# as a whole word (DB_PASS, MYSQL_PWD, HTTP_AUTH), not inside BYPASS, OLDPWD or GIT_AUTHOR_NAME.
_SECRET_NAME = re.compile(r"(?i)KEY|TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIAL|PRIVATE|SIGNING|COOKIE|"
                          r"SESSION|WEBHOOK|DSN|AUTHORIZATION|(?<![A-Z])(?:PASS|PWD|AUTH)(?![A-Z])")
# Variables of the shell and the desktop whose names look secret and whose values are paths and words.
_NOT_SECRET_NAME = re.compile(r"(?i)PWD|SSH_AUTH_SOCK|DESKTOP_SESSION|SESSION_MANAGER|DBUS_SESSION_BUS_ADDRESS|"
                              r"XDG_SESSION_\w+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
MIN_SECRET_LEN = 8
REDACTED = "[redacted]"
_ELLIPSIS = "…"


def find_secrets(text: str) -> list[tuple[SecretKind, int]]:
    """(kind, offset) of every credential-shaped string; one hit per position, most specific kind first."""
    hits: dict[int, SecretKind] = {}
    for kind in SECRET_KINDS:
        for m in kind.pattern.finditer(text):
            hits.setdefault(m.start(), kind)
    # An Anthropic key also matches the OpenAI shape one character later: keep the first.
    out = sorted(hits.items())
    kept: list[tuple[SecretKind, int]] = []
    last_end = -1
    for start, kind in out:
        if start < last_end:
            continue
        match = kind.pattern.match(text, start)
        last_end = match.end() if match else start + 1
        kept.append((kind, start))
    return kept


def is_secret_name(name: str) -> bool:
    """Whether a variable of this name holds a credential (DB_PASSWORD, SENTRY_DSN; not PWD or XDG_SESSION_TYPE)."""
    return _SECRET_NAME.search(name) is not None and _NOT_SECRET_NAME.fullmatch(name) is None


def secret_env_names(env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> list[str]:
    """The variables whose values are redacted: secret-looking names, and the names given (redact_env, *_env)."""
    env = os.environ if env is None else env
    return sorted(set(names) | {k for k in env if is_secret_name(k)})


def secret_env_values(env: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> list[str]:
    env = os.environ if env is None else env
    values = {env[k] for k in secret_env_names(env, names) if k in env and len(env[k]) >= MIN_SECRET_LEN}
    return sorted(values, key=lambda v: (-len(v), v))  # longest first: a value inside another goes after it


def looks_like_env_name(text: str) -> bool:
    """Whether an `*_env` field holds a variable's name, not a credential pasted in its place.

    A name is an identifier with no credential shape; mixed case with digits over 20 characters is a key."""
    if _ENV_NAME.fullmatch(text) is None or SECRETS.search(text) is not None:
        return False
    mixed = any(c.islower() for c in text) and any(c.isupper() for c in text) and any(c.isdigit() for c in text)
    return not (mixed and len(text) >= 20)


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def redact_text(text: str, values: Iterable[str] = ()) -> str:
    """Credentials out, and lone surrogates (valid in JSON, not in UTF-8) replaced so the text can be written."""
    if not text.isascii():
        text = _LONE_SURROGATE.sub("\ufffd", text)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return SECRETS.sub(REDACTED, text) if may_hold_secret(text) else text


def may_hold_secret(text: str) -> bool:
    """False when text cannot hold a credential shape: most texts hold no marker at all, and a few substring
    searches cost far less than the one regex (which has no literal prefix to skip ahead with)."""
    lower = text.lower()
    return any(marker in lower for marker in _MARKERS)


def clip(text: str, limit: int, values: Iterable[str] | None = None) -> str:
    """text redacted, then cut to about `limit` characters. Redacting first matters: a cut key no longer
    matches its shape or value. A word the cut falls into is dropped whole, so no part of a credential
    that nothing here knows of is left either. values: those of secret variables (default: os.environ's)."""
    text = redact_text(text, secret_env_values() if values is None else values)
    if len(text) <= limit:
        return text
    cut = text[:limit]
    if not cut[-1].isspace() and not text[limit].isspace():
        cut = cut[:len(cut) - len(cut.split()[-1])] if cut.split() else ""
    return cut.rstrip() + _ELLIPSIS


def redact(obj: Any, values: Iterable[str] = ()) -> Any:
    """A JSON-like value with every string redacted, dictionary keys included (tuples become lists).

    Only what changes is copied: a dict or list with nothing to redact is returned itself, so scrubbing a
    report of 200,000 cases does not hold it twice."""
    return _redact(obj, tuple(values))


def _redact(obj: Any, values: tuple[str, ...]) -> Any:
    if isinstance(obj, str):
        text = redact_text(obj, values)
        return obj if text == obj else text
    if isinstance(obj, dict):
        return _redact_dict(obj, values)
    if isinstance(obj, list):
        items = [_redact(v, values) for v in obj]
        return obj if all(a is b for a, b in zip(obj, items, strict=True)) else items
    if isinstance(obj, tuple):
        return [_redact(v, values) for v in obj]
    return obj


def _redact_dict(obj: dict[Any, Any], values: tuple[str, ...]) -> dict[Any, Any]:
    out: dict[Any, Any] = {}
    same = True
    for key, value in obj.items():
        new_key, new_value = _redact(key, values), _redact(value, values)
        # Two keys that redact alike (two secrets as keys) must not lose one entry: the report keeps all.
        n = 1
        while new_key in out:
            n += 1
            new_key = f"{_redact(key, values)} ({n})"
        same = same and new_key is key and new_value is value
        out[new_key] = new_value
    return obj if same else out
