"""JSON paths and `{{var}}` templates for app targets; answers read back from apps."""

from __future__ import annotations

import pytest

from gate.providers.base import Category, ChatMessage, ProviderError, Request, Response
from gate.providers.jsonpath import PathError, find, format_path, parse
from gate.providers.payload import app_answer, case_payload, fill, template_variables


@pytest.mark.parametrize(("path", "steps"), [
    ("$.choices[0].message.content", ("choices", 0, "message", "content")),
    ("choices.0.message.content", ("choices", 0, "message", "content")),
    ("$['a key'][2]", ("a key", 2)), ("$", ()),
])
def test_jsonpath_parse_forms_same_steps(path: str, steps: tuple[str | int, ...]) -> None:
    assert parse(path) == steps


def test_jsonpath_find_missing_names_where_it_stopped() -> None:
    data = {"data": {"items": [{"text": "hi"}]}}
    assert find(data, parse("$.data.items[0].text")) == "hi"
    with pytest.raises(KeyError) as info:
        find(data, parse("$.data.items[3].text"))
    assert info.value.args[0] == "$.data.items[3]"
    assert format_path(("a", 1)) == "$.a[1]"


def test_jsonpath_unreadable_path_error() -> None:
    with pytest.raises(PathError, match="cannot read JSON path"):
        parse("$.a..b")


def test_fill_whole_placeholder_keeps_json_type_partial_is_text() -> None:
    variables = {"question": "Où ?", "tags": ["a", "b"], "n": 3}
    template = {"q": "{{question}}", "tags": "{{tags}}", "line": "n={{n}}, tags={{tags}}", "keep": "{{unknown}}",
                "nested": [{"x": "{{n}}"}], "num": 7}
    assert fill(template, variables) == {"q": "Où ?", "tags": ["a", "b"], "line": 'n=3, tags=["a", "b"]',
                                         "keep": "{{unknown}}", "nested": [{"x": 3}], "num": 7}


def test_template_variables_case_vars_win_over_specials() -> None:
    request = Request(messages=(ChatMessage("user", "hi"),), variables={"repeat": "mine"}, case_id="c9", repeat=2)
    names = template_variables(request)
    assert names["repeat"] == "mine" and names["case_id"] == "c9"
    assert names["messages"] == [{"role": "user", "content": "hi"}]
    assert case_payload(request) == {"id": "c9", "repeat": 2, "vars": {"repeat": "mine"},
                                     "messages": [{"role": "user", "content": "hi"}]}


def test_app_answer_forms_read_and_wrong_shape_rejected() -> None:
    assert app_answer("plain", "app", 0.1, "command").content == "plain"
    r = app_answer({"output": {"label": "refund"}, "usage": {"prompt_tokens": 5, "output_tokens": 2}}, "app", 0.1, "python")
    assert (r.content, r.usage.input_tokens, r.usage.output_tokens) == ('{"label": "refund"}', 5, 2)
    with pytest.raises(ProviderError, match="must answer a string or an object with an `output` key"):
        app_answer([1, 2], "app", 0.1, "python")


def test_app_answer_error_and_answer_lone_surrogates_replaced() -> None:
    r = app_answer({"output": "a \ud800 b", "finish_reason": "stop\udc00"}, "app", 0.1, "command")
    assert (r.content, r.finish_reason) == ("a \ufffd b", "stop\ufffd")
    assert Response("x\udfff").content.encode() == "x\ufffd".encode()
    assert ProviderError(Category.SERVER_ERROR, "HTTP 500: \ud800").message == "HTTP 500: \ufffd"
