"""``graft serve`` and ``graft query``: thin commands over the gateway and the OpenAI client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from graftlm.core.commands import setting_help, settings_of, workspace_of
from graftlm.core.errors import BackendUnavailableError, GraftError, InputError
from graftlm.core.settings import secret
from graftlm.serving.app import create_app, server_config
from graftlm.serving.launch import is_loopback, require_free
from graftlm.serving.runtime import Runtime


class EngineChoice(str, Enum):
    auto = "auto"
    vllm = "vllm"
    local = "local"


def key_from(path: Path) -> str:
    """A key from the first line of ``path``; a clear error for a missing or empty file."""
    try:
        key = path.read_text(encoding="utf-8").splitlines()[0].strip() if path.stat().st_size \
            else ""
    except (OSError, UnicodeDecodeError, IndexError) as exc:
        raise InputError(f"cannot read a key from {path}: {exc}") from None
    if not key:
        raise InputError(f"{path} is empty; put the key on its first line.")
    return key


def serve(
    ctx: typer.Context,
    adapter: Annotated[list[str] | None, typer.Option(
        "--adapter", help="Adapter to serve (repeat for several).")] = None,
    index: Annotated[list[str] | None, typer.Option(
        "--index", help="Index for retrieval models (repeat for several).")] = None,
    engine: Annotated[EngineChoice | None, typer.Option(
        help=setting_help("serving.engine"))] = None,
    host: Annotated[str | None, typer.Option(help=setting_help("serving.host"))] = None,
    port: Annotated[int | None, typer.Option(help=setting_help("serving.port"))] = None,
    api_key: Annotated[str | None, typer.Option(
        help="The API key clients must send. On the command line it shows in the process "
        "list: prefer GRAFT_SERVING__API_KEY or --api-key-file.")] = None,
    api_key_file: Annotated[Path | None, typer.Option(
        help="Read the API key from this file (its first line).")] = None,
    admin_key_file: Annotated[Path | None, typer.Option(
        help="Read the admin key (POST /v1/adapters) from this file; or set "
        "GRAFT_SERVING__ADMIN_KEY. Without one, only this machine may load adapters.")] = None,
    upstream: Annotated[str | None, typer.Option(
        help="Front vLLM servers that already run (URL[,URL…]) instead of starting one; "
             "setting serving.upstream.")] = None,
    insecure: Annotated[bool, typer.Option(
        help="Listen beyond this machine without an API key (anyone who can reach the port "
             "can use the models).")] = False,
) -> None:
    """Serve the base model, adapters and indexes behind one OpenAI-compatible endpoint."""
    # Before torch loads: OpenMP threads that spin while idle take the cores the engine needs
    # (measured: a query embedding took 0.5 s beside a vLLM server, 0.02 s with this).
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

    if api_key and api_key_file:
        raise InputError("give the API key with --api-key or --api-key-file, not both.")
    settings, workspace = workspace_of(
        ctx, **{"serving.engine": engine.value if engine else None, "serving.host": host,
                "serving.port": port,
                "serving.api_key": api_key or (key_from(api_key_file) if api_key_file else None),
                "serving.admin_key": key_from(admin_key_file) if admin_key_file else None,
                "serving.upstream": [u.strip() for u in upstream.split(",") if u.strip()]
                if upstream else None})
    s = settings.serving
    if not s.api_key and not is_loopback(s.host):
        if not insecure:
            raise InputError(f"serving on {s.host} without an API key would let anyone who can "
                             "reach the port use the models; set one (--api-key or "
                             "serving.api_key), listen on 127.0.0.1, or pass --insecure.")
        _err(f"warning: serving on {s.host} without an API key (--insecure).")
    require_free(s.host, s.port)
    stopper = _Stopper()
    runtime = Runtime(settings, workspace, adapters=adapter or [], indexes=index or [],
                      report=_err, on_fatal=stopper)
    for warning in runtime.warnings():
        _err(f"warning: {warning}")
    try:
        asyncio.run(_serve(runtime, stopper))
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise typer.Exit(130) from None  # interrupted before serving began
    if stopper.reason:
        raise typer.Exit(1)


class _Stopper:
    """Stops the server when the engine is down for good, and remembers why."""

    server = None
    reason: str | None = None

    def __call__(self, reason: str) -> None:
        self.reason = reason
        _err(f"error: {reason} Stopping.")
        if self.server is not None:
            self.server.should_exit = True


async def _serve(runtime, stopper: _Stopper) -> None:
    import uvicorn

    s = runtime.settings.serving
    loop = asyncio.get_running_loop()
    # A SIGTERM while the engine starts must still stop it (vLLM runs in its own session and
    # would outlive us): cancel, and let the `finally` below clean up.
    loop.add_signal_handler(signal.SIGTERM, asyncio.current_task().cancel)
    _err(f"starting the {runtime.engine.name} engine …")
    try:
        await runtime.engine.start()
        app = create_app(runtime, manage_engine=False)
        server = uvicorn.Server(server_config(app, s.host, s.port))
        stopper.server = server
        loop.remove_signal_handler(signal.SIGTERM)
        # While serving, uvicorn owns SIGINT and SIGTERM and shuts down gracefully; it passes
        # the signal on afterwards, which must not interrupt stopping the engine.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: None)
        _err(f"serving on http://{s.host}:{s.port}/v1 with the {runtime.engine.name} engine; "
             f"models: {', '.join(runtime.models())}. Stop with Ctrl-C.")
        await server.serve()
    finally:
        await runtime.engine.stop()
        _err("stopped.")


def _err(line: str) -> None:
    typer.echo(line, err=True)


def query(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="What to ask.")],
    model: Annotated[str, typer.Option(
        help="base, an adapter, or either with +INDEX for retrieval.")] = "base",
    system: Annotated[str | None, typer.Option(help="A system message to send first.")] = None,
    stream: Annotated[bool, typer.Option(help="Print the answer as it is generated.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole response.")] = False,
    url: Annotated[str | None, typer.Option(
        help="The endpoint (default: the configured host and port).")] = None,
    api_key: Annotated[str | None, typer.Option(help="The server's API key.")] = None,
    max_tokens: Annotated[int, typer.Option(help="Longest answer, in tokens.")] = 256,
    temperature: Annotated[float, typer.Option(help="0 answers greedily.")] = 0.0,
    k: Annotated[int | None, typer.Option(help=setting_help("rag.prompt.k"))] = None,
    mode: Annotated[str | None, typer.Option(help=setting_help("rag.prompt.mode"))]
    = None,
) -> None:
    """Ask the endpoint a question with the OpenAI client; print the answer and its sources."""
    import openai

    s = settings_of(ctx).settings.serving
    url = url or f"http://{s.host}:{s.port}/v1"
    client = openai.OpenAI(base_url=url, api_key=api_key or secret(s.api_key) or "none",
                           max_retries=0)
    messages = ([{"role": "system", "content": system}] if system else []) + \
        [{"role": "user", "content": question}]
    retrieval = {key: value for key, value in (("k", k), ("mode", mode)) if value is not None}
    request = {"model": model, "messages": messages, "max_tokens": max_tokens,
               "temperature": temperature,
               "extra_body": {"retrieval": retrieval} if retrieval else None}
    try:
        if stream and not as_json:
            extra = _stream(client, request)
        else:
            reply = client.chat.completions.create(**request)
            if as_json:
                typer.echo(json.dumps(reply.model_dump(), indent=2))
                return
            typer.echo(reply.choices[0].message.content)
            extra = reply.model_extra or {}
    except openai.APIConnectionError as exc:
        raise BackendUnavailableError(f"no graftlm server answers at {url}; start one with "
                                      "`graft serve`, or pass --url.") from exc
    except openai.APIStatusError as exc:
        detail = exc.body.get("message") if isinstance(exc.body, dict) else exc.message
        raise GraftError(f"the server answered {exc.status_code}: {detail}") from exc
    _print_sources(extra.get("citations") or [])


def _stream(client, request: dict) -> dict:
    extra: dict = {}
    for chunk in client.chat.completions.create(**request, stream=True):
        if not extra and chunk.model_extra:
            extra = chunk.model_extra
        if chunk.choices and chunk.choices[0].delta.content:
            sys.stdout.write(chunk.choices[0].delta.content)
            sys.stdout.flush()
    sys.stdout.write("\n")
    return extra


def _print_sources(citations: list[dict]) -> None:
    if not citations:
        return
    typer.echo("\nSources:")
    for c in citations:
        where = f" ({c['location']})" if c.get("location") else ""
        typer.echo(f"  [{c['index']}] {c['source']}{where}  score {c['score']:.3f}")
