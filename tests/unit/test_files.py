"""gate.files: the bounded reader, the safe JSON loader and line splitting, on real files."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from gate.files import FileError, lines, loads_json, read_bytes, read_text
from gate.providers.base import valid_unicode


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo.yaml"
    os.mkfifo(path)
    return path


def _dev_zero(tmp_path: Path) -> Path:
    path = tmp_path / "zero.yaml"
    path.symlink_to("/dev/zero")
    return path


def _folder(tmp_path: Path) -> Path:
    path = tmp_path / "folder.yaml"
    path.mkdir()
    return path


@pytest.mark.parametrize(("make", "problem"), [
    (_fifo, "is not a regular file"),  # opening must not wait for a writer
    (_dev_zero, "is not a regular file"),  # a size of 0 must not let it read forever
    (_folder, "is a directory, not a file"),
    (lambda p: p / "missing.yaml", "file not found"),
])
def test_read_bytes_not_a_regular_file_refused(tmp_path: Path, make: Callable[[Path], Path], problem: str) -> None:
    path = make(tmp_path)
    with pytest.raises(FileError) as info:
        read_bytes(path, "x.yaml")
    assert str(info.value).startswith(f"x.yaml: {problem}")


def test_read_bytes_one_byte_over_the_cap_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 101)
    with pytest.raises(FileError, match=r"^big.json: file is 0.0 MB, larger than the 100 bytes limit$"):
        read_bytes(path, "big.json", max_bytes=100)
    path.write_bytes(b"x" * 100)
    assert read_bytes(path, "big.json", max_bytes=100) == b"x" * 100


def test_read_text_bad_utf8_names_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"id": 1}\n{"q": "\xff"}\n')
    with pytest.raises(FileError) as info:
        read_text(path, "d.jsonl")
    assert (info.value.line, info.value.column, info.value.problem) == (2, 8, "not valid UTF-8 (byte 0xff)")


@pytest.mark.parametrize(("text", "message", "column"), [
    ("[" * 100_000 + "]" * 100_000, "nested deeper than 100 levels", 101),
    ('{"a": ' * 101 + "1" + "}" * 101, "nested deeper than 100 levels", 601),
    ('{"score": NaN}', "NaN is not a finite number", 11),
    ('[1, Infinity]', "Infinity is not a finite number", 5),
    ('[1, -Infinity]', "-Infinity is not a finite number", 5),
    ('{"x": 1e999}', "1e999 is not a finite number", 7),
    ("9" * 5000, "Exceeds the limit", 1),
])
def test_loads_json_hostile_text_is_a_decode_error_at_its_position(text: str, message: str, column: int) -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        loads_json(text)
    assert info.value.msg.startswith(message)
    assert (info.value.lineno, info.value.colno) == (1, column)


def test_loads_json_brackets_and_constants_inside_strings_are_text() -> None:
    text = json.dumps({"a": "[" * 500 + "NaN Infinity \\\" {{{", "b": [[1.5, -2e10]]})
    assert loads_json(text) == json.loads(text)
    assert loads_json(("[" * 100 + "]" * 100).encode()) == json.loads("[" * 100 + "]" * 100)


def test_lines_split_at_newline_only() -> None:
    text = '{"a": "x\u2028y"}\r\n{"b": "\u2029\x85"}\n\n{"c": 1}'
    assert list(lines(text)) == [(1, '{"a": "x\u2028y"}'), (2, '{"b": "\u2029\x85"}'), (3, ""), (4, '{"c": 1}')]


def test_valid_unicode_value_nested_thousands_deep_scrubbed() -> None:
    value: list[object] = ["\ud800"]
    for _ in range(5000):
        value = [value, {"k\udc00": "ok"}]
    out = valid_unicode(value)
    for _ in range(5000):
        assert out[1] == {"k\ufffd": "ok"}
        out = out[0]
    assert out == ["\ufffd"]


def test_valid_unicode_nothing_to_replace_returns_the_value_uncopied() -> None:
    value = {"suites": {"s": {"cases": {"a": {"pass": True, "output": "café ✓", "repeats": [{"scores": {"m": 1}}]}}}}}
    assert valid_unicode(value) is value
    broken = {"ok": ["fine"], "bad": ["x\ud800"]}
    assert valid_unicode(broken) == {"ok": ["fine"], "bad": ["x\ufffd"]} and broken["bad"] == ["x\ud800"]


def test_loads_json_answers_from_services_keep_nan_but_not_depth() -> None:
    assert math.isnan(loads_json('{"usage": {"in": NaN}}', finite=False)["usage"]["in"])
    with pytest.raises(json.JSONDecodeError, match="nested deeper than 100 levels"):
        loads_json("[" * 5000 + "]" * 5000, finite=False)


def test_file_error_message_is_one_line_whatever_the_source_wrote() -> None:
    error = FileError("m.yaml", "unacceptable character\r\n  in \"<unicode string>\"\u2028position 64\x85", 3, 4)
    assert str(error) == 'm.yaml:3:4: unacceptable character   in "<unicode string>" position 64'
