"""Redaction: which shapes and variables count as secrets, and which ordinary text stays as it is."""

from __future__ import annotations

import pytest

from gate.redact import (
    REDACTED,
    clip,
    find_secrets,
    is_secret_name,
    looks_like_env_name,
    redact,
    redact_text,
    secret_env_values,
)

# Built from parts, so no literal credential shape sits in the repository.
SHAPES = {
    "Slack token": "xoxb-" + "1234567890-" + "AbCdEfGhIjKl",
    "Slack webhook URL": "https://hooks.slack.com/services/" + "T0AAAAAAA/B0BBBBBBB/" + "x" * 24,
    "Stripe live key": "sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc",
    "Google API key": "AIza" + "SyD" + "x" * 32,
    "Hugging Face token": "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz01234567",
    "GitLab token": "glpat-" + "xY7" * 7,
    "Slack app token": "xapp-" + "1-A0123456789-" + "0123456789012",
    "npm token": "npm_" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789",
    "PyPI token": "pypi-" + "AgEIcHlwaS5vcmc" + "x" * 48,
    "Discord webhook URL": "https://discord.com/api/webhooks/" + "123456789012345678/" + "AbC_dEf-" * 4,
    "basic auth credential": "Basic " + "YWxpY2U6aHVudGVyMnBhc3M=",
    "JSON Web Token": "eyJ" + "hbGciOiJIUzI1NiJ9" + ".eyJ" + "zdWIiOiIxMjM0NSJ9" + "." + "s1gN4tur3" * 3,
}
PEM = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nq83kdf==\n-----END RSA " + "PRIVATE KEY-----"


@pytest.mark.parametrize("kind", sorted(SHAPES))
def test_redact_text_new_token_shape_redacted_and_found(kind: str) -> None:
    secret = SHAPES[kind]
    assert redact_text(f"call failed ({secret}) twice") == f"call failed ({REDACTED}) twice"
    assert [k.name for k, _ in find_secrets(f"x = {secret}")] == [kind]


def test_redact_text_private_key_block_whole_or_cut_off() -> None:
    assert redact_text(f"key:\n{PEM}\nnext line") == f"key:\n{REDACTED}\nnext line"
    cut = PEM[:60]  # a log tail or a cap that ends inside the block
    assert redact_text(f"log: {cut}") == f"log: {REDACTED}"


def test_redact_text_url_password_redacted_scheme_and_host_kept() -> None:
    text = 'GET https://bot:s3cr3t-Pa55@api.example.com/v1 and "postgres://app:hunter22@db:5432/x"'
    assert redact_text(text) == f'GET https://{REDACTED}@api.example.com/v1 and "postgres://{REDACTED}@db:5432/x"'


@pytest.mark.parametrize("text", [
    "The session expired; reset your password from the settings page.",
    "risk-assessment-of-the-large-language-model-outputs",
    "ssh://git@github.com/org/repo.git and mailto:someone@example.com",
    "http://localhost:8080/path?next=a@b and https://example.com:443/x#y@z",
    '{"url": "http://host:80", "owner": "a@b.c"}',
    "hf_hub_download and sk-learn and eyJ alone",
    "basic authentication is not supported; npm_config and pypi-server are names",
])
def test_redact_text_ordinary_text_unchanged(text: str) -> None:
    assert redact_text(text, ["hunter2-correct-horse"]) == text


@pytest.mark.parametrize("name", ["DB_PASS", "MYSQL_PWD", "HTTP_AUTH", "SENTRY_DSN", "GPG_PRIVATE", "SIGNING_SALT",
                                  "COOKIE_SALT", "SESSION_SECRET", "SLACK_WEBHOOK", "DB_PASSWD", "api_key",
                                  "PROXY_AUTHORIZATION", "AUTHORIZATION"])
def test_is_secret_name_credential_words_true(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["PWD", "OLDPWD", "GIT_AUTHOR_NAME", "BYPASS_CACHE", "PASSENGER_COUNT",
                                  "XDG_SESSION_TYPE", "SSH_AUTH_SOCK", "DESKTOP_SESSION", "HOME", "AUTHOR"])
def test_is_secret_name_ordinary_variables_false(name: str) -> None:
    assert not is_secret_name(name)


def test_secret_env_values_new_names_and_redact_env_only_long_values() -> None:
    env = {"DB_PASS": "pa55-w0rd-long", "PWD": "/home/runner/work/app", "SHORT_PWD": "abc1234",
           "XDG_SESSION_TYPE": "wayland-session", "LLM_UPSTREAM": "zq-91-private-value", "OTHER": "not-a-secret-x"}
    assert secret_env_values(env) == ["pa55-w0rd-long"]
    assert secret_env_values(env, names=["LLM_UPSTREAM"]) == ["zq-91-private-value", "pa55-w0rd-long"]
    text = "cwd /home/runner/work/app, session wayland-session, auth pa55-w0rd-long"
    assert redact_text(text, secret_env_values(env)) == f"cwd /home/runner/work/app, session wayland-session, auth {REDACTED}"


def test_redact_dictionary_keys_too() -> None:
    key = SHAPES["GitLab token"]
    assert redact({key: {"pa55-w0rd-long": 1}, "n": [key]}, ["pa55-w0rd-long"]) == {
        REDACTED: {REDACTED: 1}, "n": [REDACTED]}


def test_redact_keys_that_redact_alike_all_kept() -> None:
    keys = {SHAPES["GitLab token"]: 1, SHAPES["Hugging Face token"]: 2, "ok": 3}
    assert redact(keys) == {REDACTED: 1, f"{REDACTED} (2)": 2, "ok": 3}


def test_redact_nothing_to_redact_returns_the_same_tree_uncopied() -> None:
    tree = {"suites": {"s": {"cases": [{"id": "a", "scores": {"m": 0.5}, "repeats": [{"output": "fine"}]}]}}}
    assert redact(tree, ["pa55-w0rd-long"]) is tree


def test_redact_one_secret_copies_only_its_path_and_leaves_the_input_unchanged() -> None:
    key = SHAPES["GitLab token"]
    clean, dirty = {"id": "a", "scores": {"m": 0.5}}, {"id": "b", "output": f"token {key}"}
    tree = {"cases": [clean, dirty], "notes": ["ok"]}
    out = redact(tree)
    assert out == {"cases": [clean, {"id": "b", "output": f"token {REDACTED}"}], "notes": ["ok"]}
    assert out["cases"][0] is clean and out["notes"] is tree["notes"]
    assert dirty["output"] == f"token {key}"  # the caller's tree is never written to


def test_redact_tuples_become_lists() -> None:
    assert redact({"pair": (1, "x")}) == {"pair": [1, "x"]}


def test_clip_key_at_the_cut_leaves_no_part_of_it() -> None:
    key = "Zq81-uT5v-Lm30-Pe77-Xa4k"  # 24 characters, no known shape: only its value says it is secret
    body = '{"error": "invalid key ' + key + '"}'
    limit = body.index(key) + 17  # a cap that ends 17 characters into the key
    old_order = redact_text(body[:limit], [key])
    assert key[:17] in old_order  # capping first leaves the part that no longer matches
    out = clip(body, limit, [key])
    assert REDACTED in out and not any(key[i:i + 4] in out for i in range(len(key) - 3))


def test_clip_unknown_secret_cut_in_half_is_dropped_whole() -> None:
    out = clip("rejected token Qw3rTy-Uiop-Asdf-Ghjk-Lzxc and more", 30, [])
    assert out == "rejected token…"
    assert clip("short text", 30, []) == "short text"
    assert clip("one two three", 8, []) == "one two…"


@pytest.mark.parametrize(("text", "is_name"), [
    ("OPENAI_API_KEY", True), ("my_llm_key", True), ("X", True),
    ("sk-proj-" + "A1b2C3d4" * 4, False), ("sk_" + "live_" + "4eC39HqLyjWDarjtT1zdp7dc", False),
    ("not a name", False), ("abc-def-ghi-jkl", False), ("Zq81uT5vLm30Pe77Xa4kQ", False),
])
def test_looks_like_env_name_tells_names_from_pasted_values(text: str, is_name: bool) -> None:
    assert looks_like_env_name(text) is is_name
