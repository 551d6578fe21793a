"""Shaping answers: an engine's chunks into one OpenAI response or a server-sent event stream.

The gateway decides what to ask the engine; this module only turns what comes back into OpenAI's
shapes and records every answer (outcome, time and tokens) in the metrics. It knows nothing about
routes, tokenizers or retrieval: what a response carries besides the text (citations, lineage)
arrives ready-made in :attr:`Reply.extra`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field

from graftlm.core.errors import GraftError, InputError
from graftlm.serving.metrics import Metrics
from graftlm.serving.protocol import (ApiError, Chunk, chat_chunk, chat_response, completion_chunk,
                              completion_response, new_id, usage)

logger = logging.getLogger(__name__)
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
        deadline: When the answer must be whole (``loop.time()``), if ever: past it the
            generation is stopped, and the client gets a 504 or, in a stream, an error event.
    """

    model: str
    chat: bool
    extra: dict = field(default_factory=dict)
    echo: str = ""
    usage_chunk: bool = False
    rid: str = ""
    started: float = field(default_factory=time.perf_counter)
    deadline: float | None = None

    def __post_init__(self):
        self.rid = self.rid or new_id("chatcmpl" if self.chat else "cmpl")

    def seconds(self) -> float:
        return time.perf_counter() - self.started


class DeadlineExceeded(GraftError):
    """The answer was not whole by the request's deadline (``serving.request_timeout_s``)."""


async def within(chunks: AsyncIterator[Chunk], deadline: float | None) -> AsyncIterator[Chunk]:
    """``chunks`` until ``deadline``; then the engine's generator is closed (which stops the
    generation) and :class:`DeadlineExceeded` raised. However this ends — finished, failed, or
    dropped by a client that left — the engine's generator is closed here."""
    loop = asyncio.get_running_loop()
    pending = aiter(chunks)
    try:
        while True:
            try:
                if deadline is None:
                    chunk = await anext(pending)
                else:
                    chunk = await asyncio.wait_for(anext(pending),
                                                   max(0.0, deadline - loop.time()))
            except StopAsyncIteration:
                return
            except TimeoutError:
                raise DeadlineExceeded("the answer took longer than this server allows "
                                       "(serving.request_timeout_s); ask for fewer tokens or "
                                       "retry later.") from None
            yield chunk
    finally:
        if hasattr(pending, "aclose"):
            await pending.aclose()


def _failure(exc: GraftError) -> ApiError:
    """What the client hears of an engine's failure: the request's fault (400), the deadline
    (504), or the engine's (503)."""
    if isinstance(exc, InputError):
        return ApiError(400, str(exc))
    if isinstance(exc, DeadlineExceeded):
        return ApiError(504, str(exc), "timeout_error", "timeout")
    return ApiError(503, str(exc), "server_error", "engine_unavailable")


async def whole(reply: Reply, chunks: AsyncIterator[Chunk], metrics: Metrics) -> dict:
    """The whole answer as one OpenAI response, once the engine has finished.

    Raises:
        ApiError: 503 if the engine fails, 504 past the deadline, 400 if the engine refused
            the request (each counted in the metrics).
    """
    pieces: list[str] = []
    last = Chunk()
    try:
        async with aclosing(within(chunks, reply.deadline)) as pieces_of:
            async for piece in pieces_of:
                pieces.append(piece.text)
                last = piece
    except GraftError as exc:
        metrics.observe(reply.model, "error", reply.seconds(), 0, 0)
        raise _failure(exc) from exc
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
        async with aclosing(within(chunks, reply.deadline)) as pieces:
            async for piece in pieces:
                last = piece
                if not (piece.text or piece.finish_reason):
                    continue
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
        yield sse(_failure(exc).body)
    except Exception:  # noqa: BLE001 - the status line is out: a failure must still end the stream
        logger.exception("a stream failed")
        metrics.observe(reply.model, "error", reply.seconds(), 0, 0)
        yield sse(ApiError(500, "the engine failed while answering; the error is in the "
                           "server's log.", "server_error", "internal_error").body)
    yield DONE


def sse(payload: dict) -> str:
    """One server-sent event carrying ``payload`` as compact JSON."""
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"
