"""A replay keeps only what it answers from: the recorded requests of a large cassette are not held."""

from __future__ import annotations

from pathlib import Path

from gate.providers.base import ChatMessage, Request, Response, Usage
from gate.providers.cassette import Answer, ReplayProvider, entry, read_lines, write_cassette


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
