"""The gateway's HTTP routes: read the body, call the :class:`~serving.gateway.Gateway`, reply.

Each handler is a few lines: the serving logic is the gateway's, the shapes are
:mod:`serving.protocol`'s. The gateway is a dependency read from ``app.state.gateway``, so a test
can swap it with ``app.dependency_overrides[gateway_of]``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from contextlib import suppress
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from graftlm.serving import openapi as api
from graftlm.serving.gateway import Answer, Gateway
from graftlm.serving.protocol import (AdapterRequest, ChatRequest, CompletionRequest, model_list,
                              parse)

router = APIRouter()
DISCONNECT_POLL_S = 0.25  # how often a waiting request checks that its client is still there


def gateway_of(request: Request) -> Gateway:
    """The gateway of the app serving ``request``."""
    return request.app.state.gateway


Served = Annotated[Gateway, Depends(gateway_of)]


@router.get("/health", responses={
    200: {"model": api.Health, "description": "the engine can answer"},
    503: {"model": api.Health, "description": "the engine is down (restarting)"}})
async def health(gateway: Served):
    """200 while the engine can answer; 503 while it is down (a vLLM server restarting)."""
    engine = gateway.runtime.engine
    if not engine.healthy():
        return JSONResponse({"status": "unavailable", "engine": engine.name}, status_code=503)
    return {"status": "ok", "engine": engine.name}


@router.get("/metrics", response_class=Response, responses={
    200: {"content": {"text/plain": {"schema": {"type": "string"}}},
          "description": "Prometheus text format"}})
async def prometheus(gateway: Served):
    body, content_type = gateway.metrics.render()
    return Response(body, media_type=content_type)


@router.get("/v1/models", response_model=api.ModelList, responses=api.errors(401))
async def models(gateway: Served):
    return model_list(gateway.runtime.models())


@router.post("/v1/adapters", response_model=api.AdapterAdded,
             openapi_extra=api.json_body(AdapterRequest),
             responses=api.errors(400, 401, 404, 413, 415))
async def add_adapter(request: Request, gateway: Served):
    body = parse(AdapterRequest, await request.body(), gateway.serving.max_body_bytes)
    return await gateway.add_adapter(body.name)


@router.post("/v1/chat/completions", openapi_extra=api.json_body(ChatRequest),
             responses={**api.streamed(api.ChatCompletion), **api.errors(*api.GENERATING)})
async def chat(request: Request, gateway: Served):
    body = parse(ChatRequest, await request.body(), gateway.serving.max_body_bytes)
    return await _reply(request, gateway.chat(body), body.stream)


@router.post("/v1/completions", openapi_extra=api.json_body(CompletionRequest),
             responses={**api.streamed(api.Completion), **api.errors(*api.GENERATING)})
async def complete(request: Request, gateway: Served):
    body = parse(CompletionRequest, await request.body(), gateway.serving.max_body_bytes)
    return await _reply(request, gateway.complete(body), body.stream)


async def _reply(request: Request, work: Awaitable[Answer], stream: bool):
    """The answer ``work`` gives, unless the client leaves first: then ``work`` is cancelled,
    which stops its generation (or takes it out of the queue). A stream that has begun is
    stopped the same way when its client leaves, by the response closing it."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=DISCONNECT_POLL_S)
            if done:
                break
            if await request.is_disconnected():
                task.cancel()
                with suppress(asyncio.CancelledError):
                    await task
                return Response(status_code=499)  # nobody is there to read it
    except asyncio.CancelledError:
        task.cancel()
        raise
    answer = task.result()
    return StreamingResponse(answer, media_type="text/event-stream") if stream else answer
