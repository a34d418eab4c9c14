"""A baseline as `gate baseline update` lays it out is read a line at a time (never held whole); any other layout,
and any broken line, is read by the whole-document reader: the data is the same either way."""

from __future__ import annotations

import json
from typing import Any

import pytest
from prodgate_checks.regression.baseline import _compact_case, _lines, _read_as_written, write_baseline
from prodgate_checks.regression.compare import compact

from gate.files import loads_json
from tests.conftest import EXAMPLE

BASELINE = EXAMPLE / ".gate" / "baseline.json"


def _whole(raw: bytes) -> Any:
    return loads_json(raw.decode("utf-8-sig"), object_hook=_compact_case)


def test_the_example_baseline_read_by_lines_equals_the_whole_document() -> None:
    raw = BASELINE.read_bytes()
    by_lines = _read_as_written(_lines(raw))
    assert by_lines is not None and by_lines == _whole(raw)
    cases = by_lines["suites"]["answers"]["cases"]
    assert len(cases) == 60 and all("repeats" not in c for c in cases.values())  # cut down as they were read


def test_a_baseline_as_written_round_trips(tmp_path: Any) -> None:
    data = {"format": 1, "cached_answers": 3, "suites": {
        "empty": {"cases": {}},
        "s": {"cases": {
            "a": {"pass": True, "scores": {"m": 1.0}, "input_sha": "x", "output": "line one\nline two, with \"}}\"",
                  "repeats": [{"pass": True, "scores": {"m": 1.0}}]},
            "repeats": {"pass": False, "scores": {}, "repeats": [{"pass": True}, {"pass": False}]},  # an odd id
        }}}}
    path = write_baseline(tmp_path / "b.json", data)
    raw = path.read_bytes()
    read = _read_as_written(_lines(raw))
    assert read is not None and read == _whole(raw)
    assert read["suites"]["s"]["cases"]["repeats"]["repeats"] == [{"pass": True}, {"pass": False}]
    assert read["suites"]["s"]["cases"]["a"] == compact(data["suites"]["s"]["cases"]["a"])  # type: ignore[index]


@pytest.mark.parametrize("edit", [
    lambda t: json.dumps(json.loads(t), indent=2),                     # pretty-printed by another tool
    lambda t: t.replace("\n", "\r\n"),                                 # Windows line ends
    lambda t: t.replace('"format": 1,\n', '"format": 1,\n\n'),          # a blank line
    lambda t: t.replace("}},\n", "}}\n", 1) if "}},\n" in t else t + " ",  # a missing comma between suites
    lambda t: t.replace(",\n", "\n", 3),                                # missing commas between cases
    lambda t: "\ufeff" + t,                                            # a byte-order mark
    lambda t: t + "\n{}",                                              # something after the document
    lambda t: t.replace('"pass": true', '"pass": tru', 1),             # a broken case line
])
def test_any_other_layout_reads_the_same_as_the_whole_document_or_fails_as_it(edit: Any) -> None:
    text = edit(BASELINE.read_text(encoding="utf-8"))
    raw = text.encode("utf-8")
    by_lines = _read_as_written(_lines(raw))
    try:
        whole = _whole(raw)
    except ValueError:
        assert by_lines is None  # the whole-document reader then says where the file is broken
        return
    assert by_lines is None or by_lines == whole
