"""A replay keeps only what it answers from: the recorded requests of a large cassette are not held."""

from __future__ import annotations

import json
from pathlib import Path

from gate.providers.base import ChatMessage, Request, Response, Usage
from gate.providers.cassette import Answer, Recorder, ReplayProvider, entry, read_lines, write_cassette
from gate.providers.keys import request_key


def test_replay_provider_large_cassette_keeps_answers_not_requests(tmp_path: Path) -> None:
    asks = [Request(messages=(ChatMessage("user", f"question {i} " + "context " * 200),), case_id=f"s/c{i}")
            for i in range(3)]
    write_cassette(tmp_path / "c.jsonl", [entry(r, Response(f"answer {i}", Usage(5, 2), 0.25, "m", "stop"), "m")
                                          for i, r in enumerate(asks)])
    replay = ReplayProvider(tmp_path / "c.jsonl")
    assert [replay.complete(r).content for r in asks] == ["answer 0", "answer 1", "answer 2"]
    assert replay.complete(asks[1]).producer == {"model": "m"} and replay.recorded("s")
    assert all(isinstance(e, Answer) for e in replay.entries.values())
    assert replay.entries[next(iter(replay.entries))].producer is replay.complete(asks[2]).producer  # held once
    # Readers that rewrite a cassette (re-recording, merging) still get whole lines.
    full, defects = read_lines(tmp_path / "c.jsonl")
    assert not defects and all(e["request"]["messages"][0]["content"].startswith("question") for e in full.values())


class _Model:
    """A provider answering as one named model (what a Recorder records from)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def identity(self) -> dict[str, object]:
        return {"kind": "openai", "model": self.name, "url": "https://api.openai.com/v1", "params": {}}

    def complete(self, request: Request) -> Response:
        return Response(f"{self.name} says {request.messages[0].content}", Usage(3, 4), 0.1, self.name, "stop")


def _ask(text: str) -> Request:
    return Request(messages=(ChatMessage("user", text),), case_id=f"s/{text}")


def test_cassette_same_request_two_producers_keeps_a_line_each_and_replay_chooses(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    with Recorder(_Model("a"), path) as rec:
        rec.complete(_ask("q1"))
        rec.keep(entry(_ask("q1"), _Model("b").complete(_ask("q1")), "b"))  # a second judge, same request
        rec.complete(_ask("q2"))
    lines, defects = read_lines(path)
    assert not defects and len(list(lines.every())) == 3 and len(lines) == 2
    replay = ReplayProvider(path)
    # In file order (sorted by case, repeat, key and producer, so a re-recording diffs line by line).
    assert [a.content for a in replay.entries.candidates(request_key(_ask("q1")))] == ["a says q1", "b says q1"]
    wants = {"a": replay.choosing(lambda who, _by: (who or {}).get("model") == "a"),
             "b": replay.choosing(lambda who, _by: (who or {}).get("model") == "b")}
    assert wants["a"].complete(_ask("q1")).content == "a says q1"
    assert wants["b"].complete(_ask("q1")).content == "b says q1"
    # None acceptable: the last line, whose producer the caller then names as not its target's.
    assert replay.choosing(lambda who, _by: False).complete(_ask("q2")).content == "a says q2"


def test_cassette_rerecorded_with_another_model_drops_the_old_models_lines_of_those_requests(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    with Recorder(_Model("a"), path) as rec:
        rec.complete(_ask("q1"))
        rec.complete(_ask("q2"))
    with Recorder(_Model("b"), path, merge=True) as rec:
        rec.complete(_ask("q1"))  # q2 is not re-recorded in this run: its line stays
    lines, _ = read_lines(path)
    assert sorted(x["response"]["content"] for x in lines.every()) == ["a says q2", "b says q1"]


def test_cassette_same_producer_twice_last_line_wins(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    first = entry(_ask("q1"), Response("old", Usage(1, 1), 0.1, "m", "stop"), "m")
    second = entry(_ask("q1"), Response("new", Usage(1, 1), 0.1, "m", "stop"), "m")
    path.write_text(json.dumps(first) + "\n" + json.dumps(second) + "\n", encoding="utf-8")
    lines, _ = read_lines(path)
    assert [x["response"]["content"] for x in lines.every()] == ["new"] and not lines.several
