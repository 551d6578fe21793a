"""Shaping answers: an engine's chunks into one OpenAI response or a server-sent event stream.

The gateway decides what to ask the engine; this module only turns what comes back into OpenAI's
shapes and records every answer (outcome, time and tokens) in the metrics. It knows nothing about
routes, tokenizers or retrieval: what a response carries besides the text (citations, lineage)
arrives ready-made in :attr:`Reply.extra`.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from graftlm.errors import GraftError
from serving.metrics import Metrics
from serving.protocol import (ApiError, Chunk, chat_chunk, chat_response, completion_chunk,
                              completion_response, error_body, new_id, usage)

DONE = "data: [DONE]\n\n"


@dataclass
class Reply:
    """One answer in the making: its id, model and kind, and what it carries besides the text.

    Attributes:
        model: The model name the client asked for, echoed in every chunk.
        chat: A chat completion (else a text completion).
        extra: Top-level fields added to the response (``citations``, ``graft`` lineage).
        echo: Text sent before the generated text (``echo`` on completions: the prompt).
        usage_chunk: Whether a stream ends with a usage chunk (``stream_options.include_usage``).
    """

    model: str
    chat: bool
    extra: dict = field(default_factory=dict)
    echo: str = ""
    usage_chunk: bool = False
    rid: str = ""
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self):
        self.rid = self.rid or new_id("chatcmpl" if self.chat else "cmpl")

    def seconds(self) -> float:
        return time.perf_counter() - self.started


async def whole(reply: Reply, chunks: AsyncIterator[Chunk], metrics: Metrics) -> dict:
    """The whole answer as one OpenAI response, once the engine has finished.

    Raises:
        ApiError: 503 if the engine fails (the failure is counted in the metrics).
    """
    pieces: list[str] = []
    last = Chunk()
    try:
        async for piece in chunks:
            pieces.append(piece.text)
            last = piece
    except GraftError as exc:
        metrics.observe(reply.model, "error", reply.seconds(), 0, 0)
        raise ApiError(503, str(exc), "server_error") from exc
    used = usage(last.prompt_tokens, last.completion_tokens)
    metrics.observe(reply.model, "ok", reply.seconds(), last.prompt_tokens,
                    last.completion_tokens)
    build = chat_response if reply.chat else completion_response
    return build(reply.rid, reply.model, reply.echo + "".join(pieces),
                 last.finish_reason or "stop", used, reply.extra)


async def events(reply: Reply, chunks: AsyncIterator[Chunk],
                 metrics: Metrics) -> AsyncIterator[str]:
    """The answer as server-sent events, ending with ``data: [DONE]``.

    A chat stream opens with the assistant role and carries ``extra`` on that first event; a
    completion stream carries it on its first text. The status line has gone out by the time
    the engine can fail, so a failure is an error event, not an HTTP error.
    """
    first = True
    last = Chunk()
    try:
        if reply.chat:
            yield sse(chat_chunk(reply.rid, reply.model, {"role": "assistant", "content": ""},
                                 None, reply.extra))
        elif reply.echo:
            yield sse(completion_chunk(reply.rid, reply.model, reply.echo, None, reply.extra))
        async for piece in chunks:
            last = piece
            if piece.text or piece.finish_reason:
                more = reply.extra if first and not reply.chat and not reply.echo else {}
                first = False
                if reply.chat:
                    delta = {"content": piece.text} if piece.text else {}
                    yield sse(chat_chunk(reply.rid, reply.model, delta, piece.finish_reason, {}))
                else:
                    yield sse(completion_chunk(reply.rid, reply.model, piece.text,
                                               piece.finish_reason, more))
        if reply.usage_chunk:
            yield sse({"id": reply.rid, "object": "chat.completion.chunk" if reply.chat
                       else "text_completion", "created": int(time.time()),
                       "model": reply.model, "choices": [],
                       "usage": usage(last.prompt_tokens, last.completion_tokens)})
        metrics.observe(reply.model, "ok", reply.seconds(), last.prompt_tokens,
                        last.completion_tokens)
    except GraftError as exc:
        metrics.observe(reply.model, "error", reply.seconds(), 0, 0)
        yield sse(error_body(str(exc), "server_error"))
    yield DONE


def sse(payload: dict) -> str:
    """One server-sent event carrying ``payload`` as compact JSON."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
