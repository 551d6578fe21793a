"""The OpenAI-compatible gateway: a FastAPI app in front of one engine.

Routes (:mod:`serving.routes`): ``GET /v1/models``, ``POST /v1/chat/completions``, ``POST
/v1/completions`` (streamed as server-sent events when asked), ``POST /v1/adapters`` (serve one
more workspace adapter at run time), ``GET /health`` and Prometheus ``GET /metrics``. Errors have
OpenAI's body shape: an unknown model is a 404 that lists the models there are; a bad parameter a
400 naming it; a missing or wrong key a 401; a body over the limit a 413; a body that is not
JSON a 415; anything unexpected a logged 500.

This module only assembles the app — the engine's life cycle, the checks that come before any
route (:mod:`serving.guard`), the error handlers — and runs it in a thread; what a request means is
:class:`~serving.gateway.Gateway`'s.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from graftlm.core.errors import GraftError
from graftlm.core.settings import secret
from graftlm.serving import openapi
from graftlm.serving.gateway import Gateway
from graftlm.serving.guard import Guard
from graftlm.serving.launch import free_port
from graftlm.serving.protocol import ApiError, error_body
from graftlm.serving.routes import router
from graftlm.serving.runtime import Runtime

log = logging.getLogger("graftlm.serving")


def create_app(runtime: Runtime, *, manage_engine: bool = True) -> FastAPI:
    """The gateway app. With ``manage_engine``, starting the app starts the engine and stopping
    it stops the engine; ``graft serve`` starts the engine itself, to report failures cleanly."""
    serving = runtime.settings.serving

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
    app.state.gateway = Gateway(runtime)

    @app.exception_handler(ApiError)
    async def _api_error(_request, exc: ApiError):
        return JSONResponse(exc.body, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(Exception)
    async def _unexpected(_request, exc: Exception):
        # The last resort: logged with its traceback, answered in OpenAI's shape.
        log.error("unexpected error while answering a request", exc_info=exc)
        return JSONResponse(error_body(f"internal error ({type(exc).__name__}); the gateway's "
                                       "log has the details.", "server_error"),
                            status_code=500)

    app.add_middleware(Guard, api_key=secret(serving.api_key),
                       admin_key=secret(serving.admin_key),
                       max_body_bytes=serving.max_body_bytes,
                       allowed_hosts=tuple(serving.allowed_hosts),
                       body_read_s=serving.body_read_s)
    app.include_router(router)
    openapi.install(app, serving.max_tokens_limit)
    return app


@contextmanager
def run_in_thread(app: FastAPI, *, host: str = "127.0.0.1", port: int | None = None,
                  startup_timeout: float = 900.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn in a background thread (notebooks, tests, benchmarks); yield
    its base URL once it is up (its engine started), and stop it on exit."""
    import uvicorn

    port = port or free_port(host)
    server = uvicorn.Server(server_config(app, host, port))
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


# Idle client connections are kept longer than clients keep them (httpx, and so the OpenAI SDK:
# 5 s), so a client never sends a request on a connection the server is closing (measured under
# load with uvicorn's default of 5 s: a few requests in a thousand failed with a read error).
KEEP_ALIVE_S = 65


def server_config(app: FastAPI, host: str, port: int):
    """uvicorn's configuration for ``app``: connections capped at ``serving.max_connections``
    (beyond it, 503 at once: slow clients cannot hold every socket)."""
    import uvicorn

    serving = app.state.gateway.serving
    return uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False,
                          timeout_keep_alive=KEEP_ALIVE_S, timeout_graceful_shutdown=10,
                          limit_concurrency=serving.max_connections)
