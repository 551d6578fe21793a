"""Talking to vLLM's OpenAI server: a request's body, and what its answers and statuses mean.

The gateway forwards requests as OpenAI requests; vLLM's answers come back as a JSON body or a
server-sent event stream. A 4xx is the request's fault (:class:`InputError`, a 400 to the
client), a 5xx, an error event or a stream cut short the server's
(:class:`BackendUnavailableError`, a 503 or an error event).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from graftlm.core.errors import BackendUnavailableError, InputError

from graftlm.serving.engines.base import Request
from graftlm.serving.protocol import Chunk


class Unreachable(BackendUnavailableError):
    """The server could not be reached or stopped answering (a transport failure), as opposed
    to a server that answered with an error about one request."""


async def forward(client, request: Request, served: str, what: str) -> AsyncIterator[Chunk]:
    """``request``'s answer from the vLLM OpenAI server ``client`` talks to (an
    ``httpx.AsyncClient``), whose base model is named ``served``; ``what`` names the server in
    errors.

    Raises:
        BackendUnavailableError: The server stopped answering or failed the request.
        InputError: The server refused the request (4xx).
    """
    import httpx

    route, body = request_body(request, served)
    try:
        if not request.stream:  # one JSON answer: far less work than parsing a stream
            reply = await client.post(route, json=body)
            check_status(reply.status_code, reply.text)
            answer = reply.json()
            choice, used = answer["choices"][0], answer["usage"]
            text = choice["text"] if "text" in choice else choice["message"]["content"]
            yield Chunk(text or "", choice.get("finish_reason") or "stop",
                        used["prompt_tokens"], used["completion_tokens"])
            return
        async with client.stream("POST", route, json=body) as reply:
            if reply.status_code != 200:
                check_status(reply.status_code, (await reply.aread()).decode(errors="replace"))
            async for chunk in stream_chunks(reply.aiter_lines()):
                yield chunk
    except httpx.HTTPError as exc:
        raise Unreachable(f"{what} stopped answering ({type(exc).__name__}); "
                          "retry shortly.") from exc


def request_body(request: Request, served: str) -> tuple[str, dict]:
    """The route and JSON body of ``request`` for vLLM's OpenAI server; ``served`` is the name
    the server gives its model."""
    p = request.params
    body = {"model": request.adapter or served, "max_tokens": p.max_tokens,
            "temperature": p.temperature, "top_p": p.top_p, "stream": request.stream}
    if request.stream:
        body["stream_options"] = {"include_usage": True}
    if p.stop:
        body["stop"] = p.stop
    if p.seed is not None:
        body["seed"] = p.seed
    if p.choice:
        body["structured_outputs"] = {"choice": p.choice}
    if p.json_format:
        body["response_format"] = p.json_format
    if request.messages is not None:
        body["messages"] = request.messages
        return "/v1/chat/completions", body
    body["prompt"] = request.prompt
    return "/v1/completions", body


async def stream_chunks(lines: AsyncIterator[str]) -> AsyncIterator[Chunk]:
    """A vLLM event stream's chunks; the last carries the finish reason and the token counts.

    Raises:
        BackendUnavailableError: An error event, or a stream that ends before its usage event.
    """
    finish = None
    async for line in lines:
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if "error" in event:
            error = event["error"]
            message = error.get("message") if isinstance(error, dict) else error
            raise BackendUnavailableError(f"vLLM failed while answering: {message}")
        if event.get("usage") and not event.get("choices"):
            u = event["usage"]
            yield Chunk("", finish or "stop", u["prompt_tokens"], u["completion_tokens"])
            return
        for choice in event.get("choices", []):
            text = choice.get("text") if "text" in choice else \
                (choice.get("delta") or {}).get("content")
            finish = choice.get("finish_reason") or finish
            if text:
                yield Chunk(text)
    raise BackendUnavailableError("vLLM's stream ended before the answer did.")


def check_status(status: int, text: str) -> None:
    """Raise what a vLLM status means: 4xx the request's fault, 5xx the server's."""
    if status == 200:
        return
    detail = text[:500]
    try:
        detail = json.loads(text)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        pass
    if 400 <= status < 500:
        raise InputError(f"vLLM refused the request: {detail}")
    raise BackendUnavailableError(f"vLLM answered {status}: {detail}")


def httpx_errors() -> type[Exception]:
    import httpx

    return httpx.HTTPError
