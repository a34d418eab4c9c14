"""Cassettes: recorded answers in JSONL, written by Recorder from a live run and replayed by ReplayProvider.

One object per line: {"key", "case_id", "repeat", "producer": {"provider", "model", "host", "params" (as sent)},
"request": {"model", "messages", "params", "variables"},
"response": {"content", "usage": {"input_tokens", "output_tokens"}, "latency_s", "model", "finish_reason"}}.
`key` is keys.request_key(request): the request alone; `producer` (keys.producer) says which model answered,
so the regression check can refuse an answer recorded from another model than the target's. One line per
key and producer: two judges (or suites) sending the same request to different models each keep their own
answer, and a replay takes the one its target could have produced.
Readers ignore keys they do not know. A defective line is a Defect at its line number, never a crash.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from gate.files import MAX_DATA_BYTES, FileError, lines, loads_json, read_bytes, write_atomic
from gate.providers.base import Category, ChatMessage, Provider, ProviderError, Request, Response, Usage
from gate.providers.keys import as_sent, canonical, plain, producer, request_key
from gate.providers.spec import TargetError
from gate.redact import clip

T = TypeVar("T")


@dataclass(frozen=True)
class Defect:
    """A cassette line the replay cannot use: a finding at that line of the file."""

    line: int
    message: str


class NotRecorded(ProviderError):
    """The cassette holds no answer for this request: a stale or missing recording, not a provider failure."""

    def __init__(self, message: str) -> None:
        super().__init__(Category.CLIENT_ERROR, message)


def entry(request: Request, response: Response, made_by: Mapping[str, Any] | str) -> dict[str, Any]:
    """A cassette line; `made_by` is the producer (keys.producer), or a bare model name for hand-made lines.
    A model's parameters are written as it was called with them: the request's (a prompt's) on top of its own."""
    who = plain(as_sent(made_by, request.params)) if isinstance(made_by, Mapping) else {"model": made_by}
    usage: dict[str, int] = {}
    for name in USAGE_KEYS:
        value = getattr(response.usage, name)
        if value is not None:
            usage[name] = value
    return {
        "key": request_key(request),
        "case_id": request.case_id,
        "repeat": request.repeat,
        "producer": who,
        "request": {"model": who.get("model"),
                    "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                    "params": plain(request.params), "variables": plain(request.variables)},
        "response": {"content": response.content, "usage": usage, "latency_s": round(response.latency_s, 4),
                     "model": response.model, "finish_reason": response.finish_reason,
                     "answered_by": response.answered_by},
    }


class Recorded(dict[str, T]):
    """Lines by key, the last line of a key as its value. A request recorded from several producers keeps
    each producer's last line (in file order) in `several`, for a reader that takes the one it can use."""

    def __init__(self) -> None:
        super().__init__()
        self.several: dict[str, list[T]] = {}

    def candidates(self, key: str) -> list[T]:
        """Every line kept for key, the last recorded last."""
        if key in self.several:
            return self.several[key]
        return [self[key]] if key in self else []

    def every(self) -> Iterable[T]:
        """Every line kept: one per key and producer."""
        for key, value in self.items():
            yield from self.several.get(key, (value,))


def read_cassette(path: Path, display: str | None = None) -> Recorded[dict[str, Any]]:
    """key -> entry (see Recorded). Raises TargetError at the first defect."""
    out, defects = read_lines(path, display)
    if defects:
        raise TargetError(f"{display or path}:{defects[0].line}: {defects[0].message}")
    return out


def read_lines(path: Path, display: str | None = None) -> tuple[Recorded[dict[str, Any]], list[Defect]]:
    """(key -> entry, the defective lines). Only a file that is missing or unreadable raises TargetError."""
    return _read(path, display, lambda item: item, lambda item: item.get("producer"))


class Answer(NamedTuple):
    """What a replay answers from. The recorded request is most of a line and a replay never reads it, and a
    tuple holds the rest in a quarter of the room of the line's dicts: 200,000 of them stay in memory."""

    case_id: str
    producer: Mapping[str, Any] | None
    content: str
    input_tokens: int | None
    output_tokens: int | None
    cached_input_tokens: int | None
    latency_s: float
    model: str | None
    finish_reason: str | None
    answered_by: str | None


def read_answers(path: Path, display: str | None = None) -> tuple[Recorded[Answer], list[Defect]]:
    """(key -> answer, the defective lines), as read_lines reads them."""
    seen: dict[str, Any] = {}
    return _read(path, display, lambda item: _answer(item, seen), lambda answer: answer.producer)


def _answer(item: Mapping[str, Any], seen: dict[str, Any]) -> Answer:
    r = item["response"]
    u = r.get("usage") if isinstance(r.get("usage"), dict) else {}
    who = item.get("producer") if isinstance(item.get("producer"), dict) else None
    if who is not None and who == seen.get("producer"):
        who = seen["producer"]  # lines of one recording share their producer: held once, not once per answer
    elif who is not None:
        seen["producer"] = who
    return Answer(str(item.get("case_id")), who, r["content"], _int(u.get("input_tokens")),
                  _int(u.get("output_tokens")), _int(u.get("cached_input_tokens")), float(r.get("latency_s") or 0.0),  # _line_problem made sure it is a number
                  _name(r.get("model")), _name(r.get("finish_reason")), _name(r.get("answered_by")))


def _name(value: Any) -> str | None:
    return sys.intern(value) if isinstance(value, str) else None


def _read(path: Path, display: str | None, keep: Callable[[dict[str, Any]], T],
          who: Callable[[T], Any]) -> tuple[Recorded[T], list[Defect]]:
    shown = display or str(path)
    if not path.exists():
        raise TargetError(f"replay: cassette {shown} does not exist (record it with gate check --record)")
    try:
        raw = read_bytes(path, shown, max_bytes=MAX_DATA_BYTES)
    except FileError as exc:
        raise TargetError(f"replay: cannot read cassette {exc}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Recorded(), [Defect(raw.count(b"\n", 0, exc.start) + 1, f"not UTF-8 (byte {exc.start}): {exc.reason}")]
    del raw  # the text alone from here: a large cassette is not held twice while its lines are read
    out: Recorded[T] = Recorded()
    defects: list[Defect] = []
    if text.startswith("\ufeff"):
        defects.append(Defect(1, "starts with a byte-order mark: save the cassette as UTF-8 without one"))
        text = text[1:]
    for number, line in lines(text):
        if not line.strip():
            continue
        try:
            item = loads_json(line)
        except json.JSONDecodeError as exc:
            defects.append(Defect(number, f"not a JSON object ({exc.msg})"))
            continue
        problem = _line_problem(item)
        if problem:
            defects.append(Defect(number, problem))
            continue
        key, value = item["key"], keep(item)
        prior = out.get(key)
        if prior is not None:  # the same request again: another producer's answer, or a newer one of the same
            made_by = who(value)
            group = out.several.get(key, [prior])
            kept = [v for v in group if who(v) != made_by]
            if kept:
                out.several[key] = [*kept, value]
            else:
                out.several.pop(key, None)
        out[key] = value
    return out, defects


USAGE_KEYS = ("input_tokens", "output_tokens", "cached_input_tokens")
# More tokens than any model reads or writes in one call (context windows are some millions).
MAX_TOKENS = 1_000_000_000


def _line_problem(item: Any) -> str | None:
    response = item.get("response") if isinstance(item, dict) else None
    if not isinstance(item, dict) or not isinstance(item.get("key"), str) or not isinstance(response, dict) \
            or not isinstance(response.get("content"), str):
        return "a cassette line needs a string `key` and `response.content`"
    latency = response.get("latency_s")
    if latency is not None and (isinstance(latency, bool) or not isinstance(latency, (int, float))
                                or not math.isfinite(latency) or latency < 0):
        return clip(f"response.latency_s must be a number of seconds, not {latency!r}", 300)
    if "producer" in item and not isinstance(item["producer"], dict):
        return "producer must be an object (provider, model, host, params)"
    usage = response.get("usage")
    if usage is not None and not isinstance(usage, dict):
        return "response.usage must be an object of token counts"
    for name in USAGE_KEYS:
        count = (usage or {}).get(name)
        # The cost check prices these counts and sums them: an absurd one is a defect here, not a figure there.
        if count is not None and (isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_TOKENS):
            shown = repr(count)
            shown = f"a {len(shown)}-digit number" if isinstance(count, int) and len(shown) > 40 else clip(shown, 60)
            return f"response.usage.{name} must be a whole number of tokens from 0 to {MAX_TOKENS:,}, not {shown}"
    return None


def write_cassette(path: Path, entries: Iterable[Mapping[str, Any]]) -> None:
    """Sorted by case and repeat so a re-recording diffs line by line; atomic, so no reader sees half of it."""
    ordered = sorted(entries, key=lambda e: (str(e.get("case_id") or ""), int(e.get("repeat") or 0), str(e["key"]),
                                             canonical(e.get("producer"))))
    write_atomic(path, (json.dumps(plain(e), ensure_ascii=False, sort_keys=True) + "\n" for e in ordered))


class ReplayProvider:
    """Answers from a cassette by request key; a request it does not hold is a clear error naming the case."""

    def __init__(self, path: Path, display: str | None = None) -> None:
        self.path = path
        self.display = display or str(path)
        self.entries, self.defects = read_answers(path, display)
        self.case_ids = {e.case_id for e in self.entries.values()}

    def recorded(self, suite: str, inputs: Iterable[Mapping[str, Any]] = ()) -> bool:
        """Whether the cassette holds any answer for the suite: a line labelled with one of its case ids
        ("suite/case"), else a line asked with one of `inputs` (its requests' variables), whatever prompt and
        parameters it was asked with. A request two suites share is labelled with one suite's id only, and a
        changed prompt changes every key: the inputs tell a suite recorded before from one never recorded. A
        replay keeps no request, so they are read again from the file, and only when the labels do not tell."""
        if any(c.startswith(f"{suite}/") for c in self.case_ids):
            return True
        wanted = {canonical(v) for v in inputs if v}
        if not wanted:
            return False
        try:
            raw = read_bytes(self.path, self.display, max_bytes=MAX_DATA_BYTES)
        except FileError:
            return False
        for line in raw.split(b"\n"):
            if b'"variables"' not in line:
                continue
            try:
                item = loads_json(line)
            except ValueError:
                continue  # a defective line is the replay's finding
            request = item.get("request") if isinstance(item, dict) else None
            if isinstance(request, dict) and canonical(request.get("variables")) in wanted:
                return True
        return False

    def identity(self) -> Mapping[str, Any]:
        return {"kind": "replay", "cassette": self.display}

    def complete(self, request: Request) -> Response:
        return self.answer(request)

    def answer(self, request: Request, accept: Accept | None = None) -> Response:
        """The recorded answer to request: of the lines recorded for it (one per producer), the last that
        `accept` takes, else the last (whose producer the caller then reports as not its target's)."""
        found = self.entries.candidates(request_key(request))
        if not found:
            case = f"case {request.case_id!r}" if request.case_id is not None else "a request"
            repeat = f" (repeat {request.repeat})" if request.repeat else ""
            raise NotRecorded(f"{case}{repeat} is not in cassette {self.display}: the request changed since it was "
                              "recorded, or it was never recorded; re-record with gate check --record")
        item = found[-1]
        if accept is not None and len(found) > 1:
            item = next((a for a in reversed(found) if accept(a.producer, a.answered_by)), item)
        usage = Usage(item.input_tokens, item.output_tokens, item.cached_input_tokens)
        return Response(content=item.content, usage=usage, latency_s=item.latency_s, model=item.model,
                        finish_reason=item.finish_reason, cached=True, answered_by=item.answered_by,
                        producer=item.producer)

    def choosing(self, accept: Accept) -> Provider:
        """This cassette as one target sees it: of a request's lines, the one its producer could have made."""
        return _Choosing(self, accept)


# Whether a recorded answer's (producer, answered_by) could be the target's own.
Accept = Callable[[Mapping[str, Any] | None, str | None], bool]


class _Choosing:
    def __init__(self, replay: ReplayProvider, accept: Accept) -> None:
        self.replay, self.accept = replay, accept

    def identity(self) -> Mapping[str, Any]:
        return self.replay.identity()

    def complete(self, request: Request) -> Response:
        return self.replay.answer(request, self.accept)


class Recorder:
    """Wraps a provider and keeps every answer for a cassette; `save()` (or leaving the `with`) writes it.

    merge=True keeps the cassette's other entries (recording one suite of several into one file);
    otherwise the cassette holds exactly this run's answers. Failures are not recorded. A line is kept per
    request and producer; a request this run recorded keeps no line of a producer this run did not record
    with (the model a prompt no longer uses)."""

    def __init__(self, provider: Provider, path: Path, *, merge: bool = False) -> None:
        self.provider = provider
        self.path = path
        self.lock = threading.Lock()
        self.entries: dict[tuple[str, str], dict[str, Any]] = {}
        self.recorded: set[str] = set()  # keys this run recorded
        self.producers: set[str] = set()  # producers this run recorded with, canonical
        if merge and path.exists():
            for item in read_lines(path)[0].every():  # a defective line is re-recorded, not kept
                self.entries[(item["key"], canonical(item.get("producer")))] = item
        self.target = dict(provider.identity())

    def identity(self) -> Mapping[str, Any]:
        return self.provider.identity()

    def complete(self, request: Request) -> Response:
        return self.record_from(self.provider, self.target, request)

    def record_from(self, provider: Provider, identity: Mapping[str, Any], request: Request) -> Response:
        """provider's answer to request, kept as a line of this cassette (provider: this recorder's, or another
        target recorded into the same file), with the producer its identity names."""
        response = provider.complete(request)
        self.keep(entry(request, response, producer(identity, response.answered_by)))
        return response

    def keep(self, item: dict[str, Any]) -> None:
        """Record a line (of this provider or another sharing the cassette)."""
        made_by = canonical(item.get("producer"))
        with self.lock:
            self.entries[(item["key"], made_by)] = item
            self.recorded.add(item["key"])
            self.producers.add(made_by)

    def save(self) -> Path:
        with self.lock:
            kept = [item for (key, made_by), item in self.entries.items()
                    if key not in self.recorded or made_by in self.producers]
            write_cassette(self.path, kept)
        return self.path

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        # Only a run that finished replaces the cassette: an interrupted one would leave half of it.
        if exc_type is None:
            self.save()


def messages_of(raw: Any) -> tuple[ChatMessage, ...]:
    """The messages of a recorded request, for tools that rebuild requests from a cassette."""
    if not isinstance(raw, list):
        return ()
    return tuple(ChatMessage(str(m.get("role", "")), str(m.get("content", ""))) for m in raw if isinstance(m, dict))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


__all__ = ["Accept", "Answer", "Defect", "NotRecorded", "Recorded", "Recorder", "ReplayProvider", "read_answers", "read_cassette", "read_lines",
           "write_cassette",
           "entry", "messages_of"]
