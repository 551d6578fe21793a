"""The OpenAI-compatible gateway: a FastAPI app in front of one engine.

Routes: ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST /v1/completions`` (streamed as
server-sent events when asked), ``POST /v1/adapters`` (serve one more workspace adapter at run
time), ``GET /health`` and Prometheus ``GET /metrics``. Errors have OpenAI's body shape: an unknown
model is a 404 that lists the models there are; a bad parameter a 400 naming it; a missing or
wrong key a 401; a body over the limit a 413.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ValidationError

from graftlm.errors import ArtifactNotFoundError, GraftError, InputError
from rag.prompt import fit, query_of, search, token_counter, with_sources
from serving.engines.base import Request as EngineRequest
from serving.launch import free_port
from serving.metrics import Metrics
from serving.protocol import (ChatRequest, Chunk, CompletionRequest, Params, chat_chunk,
                              chat_response, completion_chunk, completion_response, error_body,
                              new_id, usage)
from serving.runtime import Route, Runtime


class ApiError(Exception):
    def __init__(self, status: int, message: str, kind: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None):
        super().__init__(message)
        self.status, self.body = status, error_body(message, kind, code, param)


def create_app(runtime: Runtime, *, manage_engine: bool = True) -> FastAPI:
    """The gateway app. With ``manage_engine``, starting the app starts the engine and stopping
    it stops the engine; ``graft serve`` starts the engine itself, to report failures cleanly."""
    serving = runtime.settings.serving
    rag = runtime.settings.rag
    metrics = Metrics()
    tokenizer = _tokenizer(runtime)
    count_tokens = token_counter(tokenizer)
    max_len = serving.vllm.max_model_len

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        if not manage_engine:
            yield
            return
        await runtime.engine.start()
        try:
            yield
        finally:
            await runtime.engine.stop()

    app = FastAPI(title="graftlm", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return JSONResponse(exc.body, status_code=exc.status)

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        if request.url.path.startswith("/v1/"):
            key = serving.api_key
            if key and request.headers.get("authorization") != f"Bearer {key}":
                return JSONResponse(error_body(
                    "missing or wrong API key; send `Authorization: Bearer <key>`.",
                    "authentication_error", "invalid_api_key"), status_code=401)
            size = request.headers.get("content-length")
            if size and size.isdigit() and int(size) > serving.max_body_bytes:
                return JSONResponse(_too_large(int(size), serving.max_body_bytes).body,
                                    status_code=413)
        return await call_next(request)

    @app.get("/health")
    async def health():
        return {"status": "ok", "engine": runtime.engine.name}

    @app.get("/metrics")
    async def prometheus():
        body, content_type = metrics.render()
        return Response(body, media_type=content_type)

    @app.get("/v1/models")
    async def models():
        created = int(time.time())
        return {"object": "list", "data": [
            {"id": m, "object": "model", "created": created, "owned_by": "graftlm"}
            for m in runtime.models()]}

    @app.post("/v1/adapters")
    async def add_adapter(request: Request):
        body = await _read(request, _AdapterBody, serving.max_body_bytes)
        try:
            version = await runtime.add_adapter(body.name)
        except ArtifactNotFoundError as exc:
            raise ApiError(404, str(exc), code="model_not_found", param="name") from exc
        except GraftError as exc:
            raise ApiError(400, str(exc)) from exc
        return {"object": "adapter", "id": body.name, "version": version,
                "models": runtime.models()}

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await _read(request, ChatRequest, serving.max_body_bytes)
        route = _route(body.model)
        try:
            messages = [{"role": "system" if m.role == "developer" else m.role,
                         "content": m.text()} for m in body.messages]
        except ValueError as exc:
            raise ApiError(400, str(exc), param="messages") from exc
        params = _params(body)
        extra = {}
        if route.index:
            messages, extra = await _augment(route, body, messages, params)
        prompt_tokens = _count_chat(messages)
        _fits(prompt_tokens, params.max_tokens)
        engine_request = EngineRequest(route.adapter, params, messages=messages,
                                       stream=body.stream)
        extra["graft"] = {**runtime.lineage(route), **extra.pop("graft", {})}
        return await _answer(route, body, engine_request, extra, chat=True)

    @app.post("/v1/completions")
    async def complete(request: Request):
        body = await _read(request, CompletionRequest, serving.max_body_bytes)
        route = _route(body.model)
        params = _params(body)
        prompt, extra = body.prompt, {}
        if route.index:
            messages, extra = await _augment(route, body, [{"role": "user", "content": prompt}],
                                             params)
            if messages[0]["role"] == "system":
                prompt = f"{messages[0]['content']}\n\n{prompt}"
        _fits(count_tokens(prompt), params.max_tokens)
        engine_request = EngineRequest(route.adapter, params, prompt=prompt, stream=body.stream)
        extra["graft"] = {**runtime.lineage(route), **extra.pop("graft", {})}
        echo = prompt if body.echo else ""
        return await _answer(route, body, engine_request, extra, chat=False, echo=echo)

    # -- helpers ----------------------------------------------------------------------------

    def _route(model: str) -> Route:
        route = runtime.resolve(model)
        if route is None:
            raise ApiError(404, f"The model '{model}' does not exist; available: "
                           f"{', '.join(runtime.models())}.", code="model_not_found",
                           param="model")
        return route

    def _params(body) -> Params:
        wanted = body.max_completion_tokens or body.max_tokens or serving.default_max_tokens
        if wanted > serving.max_tokens_limit:
            raise ApiError(400, f"max_tokens is {wanted}, above this server's limit of "
                           f"{serving.max_tokens_limit} (serving.max_tokens_limit).",
                           param="max_tokens")
        return Params(wanted, body.temperature, body.top_p, body.stops(), body.seed)

    def _count_chat(messages: list[dict]) -> int:
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                            return_dict=True)
        return len(ids["input_ids"])

    def _fits(prompt_tokens: int, max_tokens: int) -> None:
        if prompt_tokens + max_tokens > max_len:
            raise ApiError(400, f"the prompt has {prompt_tokens} tokens and max_tokens is "
                           f"{max_tokens}: {prompt_tokens + max_tokens} in all, above the "
                           f"context length of {max_len}. Shorten the messages or lower "
                           "max_tokens.", code="context_length_exceeded", param="messages")

    async def _augment(route: Route, body, messages: list[dict], params: Params):
        options = body.retrieval
        k = (options.k if options and options.k else serving.retrieval_k)
        mode = (options.mode if options and options.mode else serving.retrieval_mode)
        started = time.perf_counter()
        try:
            results = await asyncio.to_thread(
                search, runtime.indexes[route.index].index, query_of(messages), k=k,
                mode=mode, source_filter=options.sources if options else None,
                rrf_k=rag.rrf_k, sparse_weight=rag.sparse_weight)
        except InputError as exc:
            raise ApiError(400, str(exc), param="messages") from exc
        retrieval_ms = (time.perf_counter() - started) * 1000
        room = max_len - params.max_tokens - _count_chat(messages) - 16
        block, citations = fit(results, count_tokens, min(serving.context_tokens, room))
        return with_sources(messages, block), {
            "citations": citations,
            "graft": {"retrieval": {"k": k, "mode": mode, "ms": round(retrieval_ms, 2)}}}

    async def _answer(route: Route, body, engine_request, extra: dict, *, chat: bool,
                      echo: str = ""):
        rid = new_id("chatcmpl" if chat else "cmpl")
        started = time.perf_counter()
        stream = runtime.engine.generate(engine_request)
        if body.stream:
            return StreamingResponse(
                _events(rid, route, body, stream, extra, chat, echo, started),
                media_type="text/event-stream")
        pieces: list[str] = []
        last = Chunk()
        try:
            async for piece in stream:
                pieces.append(piece.text)
                last = piece
        except GraftError as exc:
            metrics.observe(route.model, "error", time.perf_counter() - started, 0, 0)
            raise ApiError(503, str(exc), "server_error") from exc
        used = usage(last.prompt_tokens, last.completion_tokens)
        metrics.observe(route.model, "ok", time.perf_counter() - started, last.prompt_tokens,
                        last.completion_tokens)
        text = echo + "".join(pieces)
        build = chat_response if chat else completion_response
        return build(rid, route.model, text, last.finish_reason or "stop", used, extra)

    async def _events(rid, route, body, stream, extra, chat, echo, started):
        first = True
        last = Chunk()
        try:
            if chat:
                yield _sse(chat_chunk(rid, route.model, {"role": "assistant", "content": ""},
                                      None, extra))
            elif echo:
                yield _sse(completion_chunk(rid, route.model, echo, None, extra))
            async for piece in stream:
                last = piece
                if piece.text or piece.finish_reason:
                    more = extra if first and not chat and not echo else {}
                    first = False
                    if chat:
                        delta = {"content": piece.text} if piece.text else {}
                        yield _sse(chat_chunk(rid, route.model, delta, piece.finish_reason, {}))
                    else:
                        yield _sse(completion_chunk(rid, route.model, piece.text,
                                                    piece.finish_reason, more))
            if body.wants_usage_chunk():
                done = {"id": rid, "object": "chat.completion.chunk" if chat
                        else "text_completion", "created": int(time.time()),
                        "model": route.model, "choices": [],
                        "usage": usage(last.prompt_tokens, last.completion_tokens)}
                yield _sse(done)
            metrics.observe(route.model, "ok", time.perf_counter() - started,
                            last.prompt_tokens, last.completion_tokens)
        except GraftError as exc:
            metrics.observe(route.model, "error", time.perf_counter() - started, 0, 0)
            yield _sse(error_body(str(exc), "server_error"))
        yield "data: [DONE]\n\n"

    return app


class _AdapterBody(BaseModel):
    name: str


async def _read(request: Request, model: type[BaseModel], limit: int):
    raw = await request.body()
    if len(raw) > limit:
        raise _too_large(len(raw), limit)
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        problem = exc.errors()[0]
        where = ".".join(str(p) for p in problem["loc"]) or "body"
        raise ApiError(400, f"{where}: {problem['msg']}", param=where) from exc


def _too_large(size: int, limit: int) -> ApiError:
    return ApiError(413, f"the request body has {size:,} bytes, above this server's limit of "
                    f"{limit:,} (serving.max_body_bytes).", code="request_too_large")


def _sse(payload: dict) -> str:
    return f"data: {json.dumps(payload, separators=(',', ':'))}\n\n"


def _tokenizer(runtime: Runtime):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(runtime.base_path)


@contextmanager
def run_in_thread(app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None,
                  startup_timeout: float = 900.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread (notebooks, tests, benchmarks); yield
    its base URL once it is up (its engine started), and stop it on exit."""
    import uvicorn

    port = port or free_port(host)
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="warning",
                                           timeout_graceful_shutdown=10))
    thread = threading.Thread(target=server.run, name="graft-gateway", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive():
            raise GraftError("the gateway stopped while starting; see the messages above.")
        if time.monotonic() > deadline:
            server.should_exit = True
            raise GraftError(f"the gateway did not start within {startup_timeout:.0f} s.")
        time.sleep(0.05)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(60)
