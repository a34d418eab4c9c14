"""Prices kept in the user's cache: the same sheets as genai-prices gives, read by a later process without
importing genai-prices, per genai-prices version and time of day; a broken or unwritable cache is a miss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, time, timezone
from importlib.metadata import version
from pathlib import Path

import pytest

from gate.models import ModelConfig
from gate.price_cache import find_price, sheet_from_json, sheet_json, store_price, window_of
from gate.pricing import PriceError, _lookup_at, _priced, lookup_key, price_of

# The example's models (examples/support-bot/models.yaml), and one whose input price has long-context tiers.
MODELS = [("github-models", "openai/gpt-4o-mini"), ("openai", "gpt-4.1-mini"), ("github-models", "openai/gpt-4.1-nano"),
          ("anthropic", "claude-sonnet-4-5")]
NOON = datetime(2026, 6, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "prodgate" / f"prices-{version('genai-prices')}.json"


@pytest.mark.parametrize(("provider", "model_id"), MODELS)
def test_price_cache_sheet_equals_the_uncached_one(cache: Path, provider: str, model_id: str) -> None:
    key = lookup_key(provider, model_id)
    _, uncached = _priced(*key, NOON)
    assert not isinstance(uncached, str)
    assert find_price(*key, NOON) is None
    assert _lookup_at(*key, NOON) == uncached  # looked up, and stored
    assert cache.is_file() and find_price(*key, NOON) == uncached
    assert _lookup_at(*key, NOON) == uncached  # read back
    assert sheet_from_json(json.loads(json.dumps(sheet_json(uncached)))) == uncached


def test_price_cache_tiers_survive_the_round_trip(cache: Path) -> None:
    _lookup_at("anthropic", "claude-sonnet-4-5", NOON)
    found = find_price("anthropic", "claude-sonnet-4-5", NOON)
    assert found is not None and not isinstance(found, str)
    assert found.standard.input.tiers and all(type(start) is int for start, _ in found.standard.input.tiers)


def test_price_cache_unknown_model_error_kept_word_for_word(cache: Path) -> None:
    with pytest.raises(PriceError) as first:
        _lookup_at("openai", "gpt-4o-mimi", NOON)
    assert "did you mean 'gpt-4o-mini'" in str(first.value)
    assert find_price("openai", "gpt-4o-mimi", NOON) == str(first.value)
    with pytest.raises(PriceError) as again:
        _lookup_at("openai", "gpt-4o-mimi", NOON)
    assert str(again.value) == str(first.value)


SCRIPT = """
import json, sys
from gate.models import ModelConfig
from gate.pricing import PriceError, price_of
out = []
for provider, model_id in json.loads(sys.argv[1]):
    try:
        out.append(repr(price_of(ModelConfig("m", provider, model_id))))
    except PriceError as exc:
        out.append(str(exc))
print(json.dumps({"sheets": out, "imported": "genai_prices" in sys.modules}))
"""


def test_price_cache_second_process_prices_without_genai_prices(tmp_path: Path) -> None:
    models = json.dumps([*MODELS, ("openai", "no-such-model-2099")])
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}

    def run() -> dict[str, object]:
        proc = subprocess.run([sys.executable, "-c", SCRIPT, models], env=env, capture_output=True, text=True,
                              check=True, timeout=120)
        result: dict[str, object] = json.loads(proc.stdout)
        return result

    first, second = run(), run()
    assert first["imported"] is True and second["imported"] is False
    assert first["sheets"] == second["sheets"]
    assert "no price for 'no-such-model-2099'" in str(second["sheets"])


@pytest.mark.parametrize("text", [
    "not json", "[]", '{"sheets": []}', '{"sheets": {"openai\\tgpt-4.1-mini\\t2026-06-01": 5}}',
    '{"sheets": {"openai\\tgpt-4.1-mini\\t2026-06-01": [{"window": [0, 86400], "sheet": {"source": "x", '
    '"standard": {"input": {"base": "1", "tiers": []}}}}]}}',
    '{"sheets": {"openai\\tgpt-4.1-mini\\t2026-06-01": [{"window": [90000, 0], "error": "planted"}]}}',
    '{"sheets": {"openai\\tgpt-4.1-mini\\t2026-06-01": [{"window": [0, 86400], "error": 7}]}}',
])
def test_price_cache_corrupt_file_is_a_miss_then_rewritten(cache: Path, text: str) -> None:
    _, uncached = _priced("openai", "gpt-4.1-mini", NOON)
    cache.parent.mkdir(parents=True)
    cache.write_text(text)
    assert find_price("openai", "gpt-4.1-mini", NOON) is None
    assert _lookup_at("openai", "gpt-4.1-mini", NOON) == uncached
    assert find_price("openai", "gpt-4.1-mini", NOON) == uncached


@pytest.mark.parametrize("rate", [{"base": True, "tiers": []}, {"base": -0.5, "tiers": []},
                                  {"base": 1.0, "tiers": [[1.5, 2.0]]}, {"base": 1.0, "tiers": [[1000, "2"]]}])
def test_price_cache_planted_values_of_the_wrong_type_are_refused(cache: Path, rate: dict[str, object]) -> None:
    store_price("openai", "gpt-4.1-mini", NOON, (0.0, 86400.0), "a reason")
    data = json.loads(cache.read_text())
    [entry] = data["sheets"]["openai\tgpt-4.1-mini\t2026-06-01"]
    entry.pop("error")
    entry["sheet"] = {"source": "s", "batch": None, "standard": {k: rate for k in ("input", "cached_input", "output")}}
    cache.write_text(json.dumps(data))
    assert find_price("openai", "gpt-4.1-mini", NOON) is None  # no price: the sheet is looked up again


def test_price_cache_unwritable_folder_still_prices(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker / "cache"))  # no folder can be made under a file
    _, uncached = _priced("openai", "gpt-4.1-mini", NOON)
    assert _lookup_at("openai", "gpt-4.1-mini", NOON) == uncached
    assert price_of(ModelConfig("m", "openai", "gpt-4.1-mini")).source == "genai-prices openai/gpt-4.1-mini"


def test_price_cache_relative_xdg_cache_home_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gate.usercache import cache_dir

    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cache_dir() == tmp_path / ".cache" / "prodgate"


def test_price_cache_off_peak_price_holds_only_within_its_hours(cache: Path) -> None:
    # deepseek-chat is cheaper outside 00:30-16:30 UTC in the price data.
    day, night = NOON.replace(hour=10), NOON.replace(hour=17)
    window, sheet = _priced("deepseek", "deepseek-chat", day)
    assert window == (1800.0, 59400.0)
    _lookup_at("deepseek", "deepseek-chat", day)
    assert find_price("deepseek", "deepseek-chat", day) == sheet
    assert find_price("deepseek", "deepseek-chat", night) is None  # not the daytime price
    _, night_sheet = _priced("deepseek", "deepseek-chat", night)
    assert _lookup_at("deepseek", "deepseek-chat", night) == night_sheet != sheet
    assert find_price("deepseek", "deepseek-chat", day) == sheet  # both kept


def test_price_cache_window_between_the_boundaries_around_the_moment() -> None:
    marks = [time(0, 30), time(16, 30, tzinfo=timezone.utc)]
    assert window_of(marks, NOON) == (1800.0, 59400.0)
    assert window_of(marks, NOON.replace(hour=0, minute=10)) == (0.0, 1800.0)
    assert window_of(marks, NOON.replace(hour=20)) == (59400.0, 86400.0)
    assert window_of([], NOON) == (0.0, 86400.0)


def test_price_cache_earlier_days_dropped_on_write(cache: Path) -> None:
    _lookup_at("openai", "gpt-4.1-mini", NOON)
    _lookup_at("openai", "gpt-4.1-mini", NOON.replace(day=2))
    assert list(json.loads(cache.read_text())["sheets"]) == ["openai\tgpt-4.1-mini\t2026-06-02"]
