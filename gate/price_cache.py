"""genai-prices' answers kept between runs: a model's PriceSheet (or why it has none) for a UTC day, so a later
run prices its models without importing genai-prices (its price data alone takes a fifth of a second to load).

One file per installed genai-prices version (an upgrade brings other prices, so it starts a new file). An
entry holds for the part of its day between the price's time-of-day boundaries (off-peak prices), or all day."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import date, datetime, time, timezone
from functools import cache
from typing import Any

from gate.installed import version
from gate.pricing import PriceSheet, Rate, Rates
from gate.usercache import read_cache, safe_name, write_cache

DAY_SECONDS = 86_400
# (from, until): seconds of the UTC day in which an entry holds.
Window = tuple[float, float]
WHOLE_DAY: Window = (0.0, float(DAY_SECONDS))


@cache
def _file() -> str | None:
    """The cache file of the installed genai-prices; None when it is not installed (nothing is cached)."""
    installed = version("genai-prices")
    return f"prices-{safe_name(installed)}.json" if installed else None


def utc_moment(when: datetime) -> tuple[str, float]:
    """(UTC day, seconds into it) of a timestamp; a naive one is UTC, as genai-prices reads it."""
    utc = when.astimezone(timezone.utc) if when.tzinfo is not None else when
    return utc.date().isoformat(), utc.hour * 3600 + utc.minute * 60 + utc.second + utc.microsecond / 1e6


def find_price(provider: str | None, model_ref: str, when: datetime) -> PriceSheet | str | None:
    """The cached sheet, or the cached reason there is none; None when not cached."""
    name = _file()
    if name is None:
        return None
    day, second = utc_moment(when)
    entries = read_cache(name).get("sheets", {})
    found = entries.get(_key(provider, model_ref, day)) if isinstance(entries, dict) else None
    for entry in found if isinstance(found, list) else []:
        window = _window(entry.get("window")) if isinstance(entry, dict) else None
        if window is not None and window[0] <= second < window[1]:
            if isinstance(entry.get("error"), str):
                return str(entry["error"])
            return sheet_from_json(entry.get("sheet"))
    return None


def store_price(provider: str | None, model_ref: str, when: datetime, window: Window, value: PriceSheet | str) -> None:
    """Keep a lookup's answer; entries of earlier days are dropped, so the file stays a day's worth."""
    name = _file()
    if name is None:
        return
    day, _ = utc_moment(when)
    data = read_cache(name)
    sheets = _since(data.get("sheets"), day, _day_of)
    key = _key(provider, model_ref, day)
    entry: dict[str, Any] = {"window": list(window)}
    entry.update({"error": value} if isinstance(value, str) else {"sheet": sheet_json(value)})
    old = sheets.get(key)
    sheets[key] = [*(e for e in (old if isinstance(old, list) else []) if isinstance(e, dict)
                     and e.get("window") != entry["window"]), entry]
    write_cache(name, {"sheets": sheets, "labels": _since(data.get("labels"), day, str)})


def find_label(today: date) -> str | None:
    """The cached price_data_label() of the day."""
    name = _file()
    labels = read_cache(name).get("labels") if name else None
    label = labels.get(today.isoformat()) if isinstance(labels, dict) else None
    return label if isinstance(label, str) else None


def store_label(today: date, label: str) -> None:
    name = _file()
    if name is None:
        return
    data = read_cache(name)
    day = today.isoformat()
    labels = {**_since(data.get("labels"), day, str), day: label}
    write_cache(name, {"sheets": _since(data.get("sheets"), day, _day_of), "labels": labels})


def _since(table: Any, day: str, day_of: Callable[[str], str]) -> dict[str, Any]:
    """A table's entries of day and later: yesterday's prices are never asked for again."""
    return {k: v for k, v in table.items() if day_of(k) >= day} if isinstance(table, dict) else {}


def window_of(boundaries: list[time], when: datetime) -> Window:
    """The stretch of when's UTC day between the time-of-day boundaries around it, in which the price
    genai-prices gave for `when` holds."""
    _, second = utc_moment(when)
    marks = sorted({_second_of(t) for t in boundaries})
    start = max((m for m in marks if m <= second), default=0.0)
    until = min((m for m in marks if m > second), default=float(DAY_SECONDS))
    return start, until


def _second_of(t: time) -> float:
    if t.tzinfo is not None:  # a time with a zone: its UTC time of day
        t = datetime.combine(date(1970, 1, 1), t).astimezone(timezone.utc).time()
    return t.hour * 3600 + t.minute * 60 + t.second + t.microsecond / 1e6


def _key(provider: str | None, model_ref: str, day: str) -> str:
    return f"{provider or ''}\t{model_ref}\t{day}"


def _day_of(key: str) -> str:
    return key.rsplit("\t", 1)[-1]


def _window(value: Any) -> Window | None:
    if (isinstance(value, list) and len(value) == 2 and all(_number(v) for v in value)
            and 0 <= value[0] < value[1] <= DAY_SECONDS):
        return float(value[0]), float(value[1])
    return None


# -- PriceSheet as plain JSON -----------------------------------------------------------------------------------

def sheet_json(sheet: PriceSheet) -> dict[str, Any]:
    return {"standard": _rates_json(sheet.standard), "batch": _rates_json(sheet.batch) if sheet.batch else None,
            "source": sheet.source}


def sheet_from_json(value: Any) -> PriceSheet | None:
    """The sheet a cache entry holds; None for anything not shaped exactly as sheet_json writes it."""
    if not isinstance(value, dict) or not isinstance(value.get("source"), str):
        return None
    standard = _rates_from(value.get("standard"))
    batch = _rates_from(value.get("batch")) if value.get("batch") is not None else None
    if standard is None or (value.get("batch") is not None and batch is None):
        return None
    return PriceSheet(standard, batch, value["source"])


def _rates_json(rates: Rates) -> dict[str, Any]:
    return {k: {"base": r.base, "tiers": [list(t) for t in r.tiers]}
            for k, r in (("input", rates.input), ("cached_input", rates.cached_input), ("output", rates.output))}


def _rates_from(value: Any) -> Rates | None:
    if not isinstance(value, Mapping):
        return None
    parts = [_rate_from(value.get(k)) for k in ("input", "cached_input", "output")]
    inp, cached, out = parts
    return Rates(inp, cached, out) if inp and cached and out else None


def _rate_from(value: Any) -> Rate | None:
    if not isinstance(value, Mapping) or not _number(value.get("base")) or not isinstance(value.get("tiers"), list):
        return None
    tiers = value["tiers"]
    if not all(isinstance(t, list) and len(t) == 2 and type(t[0]) is int and _number(t[1]) for t in tiers):
        return None
    return Rate(float(value["base"]), tuple((int(s), float(p)) for s, p in tiers))


def _number(value: Any) -> bool:
    """A price, a token count or a second of the day: a finite number, never negative (no price data has one)."""
    return type(value) in (int, float) and math.isfinite(value) and value >= 0
