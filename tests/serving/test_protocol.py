"""Request bodies into request models (and their refusals), and the shapes built from them."""

import json

import pytest

from graftlm.serving.protocol import (AdapterRequest, ApiError, ChatRequest, CompletionRequest,
                              model_list, parse)

LIMIT = 1_000


def body(**fields) -> bytes:
    return json.dumps({"model": "base", **fields}).encode()


def test_a_valid_body_parses_into_its_model():
    chat = parse(ChatRequest, body(messages=[{"role": "user", "content": "hi"}], stop="x"),
                 LIMIT)
    assert chat.messages[0].text() == "hi" and chat.stops() == ["x"]
    assert parse(AdapterRequest, b'{"name": "terse"}', LIMIT).name == "terse"


def test_a_body_over_the_limit_is_a_413_naming_the_setting():
    with pytest.raises(ApiError) as caught:
        parse(ChatRequest, b" " * (LIMIT + 1), LIMIT)
    assert caught.value.status == 413
    error = caught.value.body["error"]
    assert error["code"] == "request_too_large"
    assert "1,001 bytes" in error["message"] and "serving.max_body_bytes" in error["message"]


def test_malformed_json_is_a_400_about_the_body():
    with pytest.raises(ApiError) as caught:
        parse(ChatRequest, b"{not json", LIMIT)
    assert caught.value.status == 400
    assert caught.value.body["error"]["param"] == "body"
    assert caught.value.body["error"]["type"] == "invalid_request_error"


@pytest.mark.parametrize("fields, param", [
    ({"messages": [{"role": "user", "content": "hi"}], "temperature": 5}, "temperature"),
    ({"messages": [{"role": "user", "content": "hi"}], "stop": list("abcde")}, "stop"),
    ({"messages": [{"role": "robot", "content": "hi"}]}, "messages.0.role"),
])
def test_a_bad_field_is_a_400_naming_it(fields, param):
    with pytest.raises(ApiError) as caught:
        parse(ChatRequest, body(**fields), LIMIT)
    assert caught.value.status == 400 and caught.value.body["error"]["param"] == param
    assert caught.value.body["error"]["message"].startswith(f"{param}: ")


def test_completions_take_one_prompt():
    assert parse(CompletionRequest, body(prompt=["only"]), LIMIT).text() == "only"
    with pytest.raises(ApiError) as caught:
        parse(CompletionRequest, body(prompt=["one", "two"]), LIMIT)
    assert "one prompt per request" in caught.value.body["error"]["message"]


def test_model_list_names_every_model():
    listed = model_list(["base", "base+docs"])
    assert listed["object"] == "list"
    assert [m["id"] for m in listed["data"]] == ["base", "base+docs"]
    assert all(m["owned_by"] == "graftlm" for m in listed["data"])


@pytest.mark.parametrize("fields, param", [
    ({"max_tokens": "5"}, "max_tokens"),  # a string is not a number
    ({"stream": 1}, "stream"),  # nor a number a boolean
    ({"stop": ["a", "b", "c", "d", "e"]}, "stop"),
])
def test_request_fields_are_strictly_typed_as_the_schema_says(fields, param):
    with pytest.raises(ApiError) as caught:
        parse(ChatRequest, body(**fields), LIMIT)
    assert caught.value.body["error"]["param"] == param


HI = [{"role": "user", "content": "hi"}]


def test_a_whole_number_written_as_a_float_is_a_whole_number():
    # JSON Schema's integer takes 60.0; 60.5 stays a 400.
    parsed = parse(ChatRequest, body(messages=HI, max_tokens=60.0, seed=7.0,
                                     retrieval={"k": 3.0}), LIMIT)
    assert parsed.max_tokens == 60 and parsed.seed == 7 and parsed.retrieval.k == 3
    with pytest.raises(ApiError) as caught:
        parse(ChatRequest, body(messages=HI, max_tokens=60.5), LIMIT)
    assert caught.value.body["error"]["param"] == "max_tokens"


@pytest.mark.parametrize("fields, accepted", [
    ({"user": "u-1", "metadata": {"a": "b"}}, True),  # bookkeeping, whatever it holds
    ({"logprobs": False, "frequency_penalty": 0.0, "tools": []}, True),  # no-op values
    ({"frequency_penalty": 0}, True),  # 0 and 0.0 are one JSON number
    ({"logprobs": 0}, False),  # but 0 is not false
    ({"best_of": True}, False),  # nor true 1
    ({"logprobs": True}, False),
    ({"colour": "red"}, False),
])
def test_fields_beyond_the_model_are_bookkeeping_no_ops_or_refused_by_name(fields, accepted):
    if accepted:
        parse(ChatRequest, body(messages=HI, **fields), LIMIT)
        return
    with pytest.raises(ApiError) as caught:
        parse(ChatRequest, body(messages=HI, **fields), LIMIT)
    assert caught.value.body["error"]["param"] == next(iter(fields))
    assert caught.value.body["error"]["code"] == "unsupported_parameter"


def test_a_text_part_holds_text():
    parts = [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]
    assert parse(ChatRequest, body(messages=[{"role": "user", "content": parts}]),
                 LIMIT).messages[0].text() == "ab"
    odd = parse(ChatRequest, body(messages=[{"role": "user", "content": [
        {"type": "text", "text": None}]}]), LIMIT)
    with pytest.raises(ValueError, match="must be a string"):
        odd.messages[0].text()
