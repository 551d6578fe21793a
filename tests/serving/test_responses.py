"""Engine chunks into whole OpenAI responses and event streams, with the metrics they record."""

import asyncio
import json

import pytest

from graftlm.core.errors import BackendUnavailableError
from graftlm.serving.metrics import Metrics
from graftlm.serving.protocol import ApiError, Chunk
from graftlm.serving.responses import DONE, Reply, events, whole

EXTRA = {"citations": [{"index": 1}], "graft": {"engine": "fake"}}


async def engine(*items):
    for item in items:
        if isinstance(item, BaseException):
            raise item
        yield item


def stream(reply, *items, metrics=None):
    async def collect():
        return [e async for e in events(reply, engine(*items), metrics or Metrics())]

    lines = asyncio.run(collect())
    assert lines[-1] == DONE
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def counted(metrics: Metrics, model: str, status: str) -> bool:
    return f'graft_requests_total{{model="{model}",status="{status}"}} 1.0' in \
        metrics.render()[0].decode()


def test_a_whole_chat_answer_joins_the_chunks_and_carries_the_extras():
    metrics = Metrics()
    reply = Reply("terse", chat=True, extra=EXTRA)
    answer = asyncio.run(whole(reply, engine(Chunk("Hel"), Chunk("lo", "length", 3, 2)),
                               metrics))
    assert answer["object"] == "chat.completion" and answer["model"] == "terse"
    assert answer["id"].startswith("chatcmpl-")
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "Hello"}
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert answer["citations"] == EXTRA["citations"] and answer["graft"] == EXTRA["graft"]
    assert counted(metrics, "terse", "ok")
    assert 'graft_tokens_total{kind="prompt",model="terse"} 3.0' in metrics.render()[0].decode()


def test_a_whole_completion_starts_with_the_echo_and_defaults_to_stop():
    reply = Reply("base", chat=False, echo="play ")
    answer = asyncio.run(whole(reply, engine(Chunk("jazz")), Metrics()))
    assert answer["object"] == "text_completion" and answer["id"].startswith("cmpl-")
    assert answer["choices"][0]["text"] == "play jazz"
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_an_engine_failure_is_a_503_and_counted():
    metrics = Metrics()
    with pytest.raises(ApiError) as caught:
        asyncio.run(whole(Reply("base", chat=True),
                          engine(Chunk("a"), BackendUnavailableError("vLLM went away")), metrics))
    assert caught.value.status == 503
    assert caught.value.body["error"] == {"message": "vLLM went away", "type": "server_error",
                                          "param": None, "code": "engine_unavailable"}
    assert counted(metrics, "base", "error")


def test_a_chat_stream_opens_with_the_role_and_the_extras_and_can_end_with_usage():
    reply = Reply("base", chat=True, extra=EXTRA, usage_chunk=True)
    metrics = Metrics()
    got = stream(reply, Chunk("a"), Chunk(""), Chunk("b", "stop", 4, 2), metrics=metrics)
    assert got[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert got[0]["citations"] == EXTRA["citations"]
    assert [e["choices"][0]["delta"] for e in got[1:3]] == [{"content": "a"}, {"content": "b"}]
    assert [e["choices"][0]["finish_reason"] for e in got[1:3]] == [None, "stop"]
    assert "citations" not in got[1]
    assert got[3]["choices"] == [] and got[3]["usage"]["total_tokens"] == 6
    assert {e["id"] for e in got} == {reply.rid}
    assert counted(metrics, "base", "ok")


def test_a_completion_stream_carries_the_extras_on_its_first_text():
    got = stream(Reply("base", chat=False, extra=EXTRA), Chunk("a"), Chunk("b", "stop"))
    assert [e["choices"][0]["text"] for e in got] == ["a", "b"]
    assert got[0]["graft"] == EXTRA["graft"] and "graft" not in got[1]
    echoed = stream(Reply("base", chat=False, extra=EXTRA, echo="Q: "), Chunk("a", "stop"))
    assert echoed[0]["choices"][0]["text"] == "Q: " and echoed[0]["graft"] == EXTRA["graft"]
    assert "graft" not in echoed[1]


def test_a_failure_mid_stream_is_an_error_event_before_done():
    metrics = Metrics()
    got = stream(Reply("base", chat=True), Chunk("a"), BackendUnavailableError("gone"),
                 metrics=metrics)
    assert got[-1] == {"error": {"message": "gone", "type": "server_error", "param": None,
                                 "code": "engine_unavailable"}}
    assert counted(metrics, "base", "error")


def test_any_failure_mid_stream_ends_it_with_an_error_event_and_done():
    metrics = Metrics()
    events_ = stream(Reply("base", chat=True), Chunk("Hel"), RuntimeError("CUDA fell over"),
                     metrics=metrics)  # stream() checks the last line is [DONE]
    assert events_[-1]["error"]["code"] == "internal_error"
    assert "CUDA" not in events_[-1]["error"]["message"]  # the log has it, the client not
    assert counted(metrics, "base", "error")
