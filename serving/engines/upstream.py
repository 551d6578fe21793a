"""The upstream engine: vLLM OpenAI servers someone else runs, with the gateway in front.

``graft serve --upstream URL[,URL…]`` starts no model: it fronts vLLM deployments that already
run — one large model over many GPUs (vLLM's tensor and pipeline parallelism), or replicas of
one — and adds what the gateway adds (retrieval and citations, lineage, the key, admission,
metrics). This is how graftlm serves past one machine: on vLLM's own parallelism.

* Every upstream must serve the same base model (checked at start from ``/v1/models``), and the
  gateway's configured base model (``models.base``) must be that model: its tokenizer counts
  prompt tokens and adapters are checked against it.
* Adapters are registered on every upstream through vLLM's run-time LoRA endpoint
  (``/v1/load_lora_adapter``; the servers run with ``VLLM_ALLOW_RUNTIME_LORA_UPDATING=True``), so
  their paths must be readable there (a shared file system).
* Each request goes to the healthy upstream with the fewest requests outstanding. A watcher
  probes ``/health`` every ``WATCH_S`` seconds: an upstream that fails is left out until it
  answers again, and then gets the adapters again. While none is healthy, requests and the
  gateway's ``/health`` answer 503.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from graftlm.core.errors import ArtifactError, BackendUnavailableError, ConfigError
from graftlm.serving.engines.base import Request
from graftlm.serving.engines.vllm_http import Unreachable, forward
from graftlm.serving.protocol import Chunk

WATCH_S = 2.0


@dataclass
class Upstream:
    """One vLLM server: its address, client, health and requests outstanding."""

    url: str
    client: object = None
    healthy: bool = False
    outstanding: int = 0
    adapters: set[str] = field(default_factory=set)


class UpstreamEngine:
    """vLLM servers at ``urls``, balanced by fewest requests outstanding.

    Args:
        urls: The servers' base URLs (``http://host:port``, without ``/v1``).
        adapters: Adapters to register on every server, by name.
        api_key: The servers' key, if they need one.
        report: Called with lines for the user (an upstream down or back).
    """

    name = "upstream"
    decodes_json = True

    def __init__(self, urls: list[str], adapters: dict[str, Path] | None = None, *,
                 api_key: str | None = None, report: Callable[[str], None] | None = None):
        if not urls:
            raise ConfigError("--upstream needs at least one URL.")
        self.upstreams = [Upstream(url.rstrip("/").removesuffix("/v1")) for url in urls]
        self.adapters = dict(adapters or {})
        self.api_key = api_key
        self.report = report or (lambda _line: None)
        self.served = ""
        self.max_model_len: int | None = None
        self._turn = itertools.count()
        self._watcher: asyncio.Task | None = None

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Probe every upstream, check they serve one model, register the adapters.

        Raises:
            BackendUnavailableError: No upstream answers.
            ConfigError: The upstreams serve different models.
        """
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else None
        for upstream in self.upstreams:
            upstream.client = httpx.AsyncClient(
                base_url=upstream.url, headers=headers, timeout=httpx.Timeout(600.0, connect=5),
                limits=httpx.Limits(max_connections=256, keepalive_expiry=2.0))
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        served = {}
        for upstream in self.upstreams:
            model = await self._probe(upstream)
            if model is not None:
                served[upstream.url] = model
        if not served:
            raise BackendUnavailableError(
                f"no upstream answers: {', '.join(u.url for u in self.upstreams)}; check that "
                "the vLLM servers run and that the gateway can reach them.")
        if len({m["id"] for m in served.values()}) > 1:
            raise ConfigError("the upstreams serve different models (" + ", ".join(
                f"{url}: {m['id']}" for url, m in served.items()) + "); front one model.")
        model = next(iter(served.values()))
        self.served, self.max_model_len = model["id"], model.get("max_model_len")
        for upstream in self.upstreams:
            if upstream.healthy:
                await self._register(upstream)
        self._watcher = asyncio.create_task(self._watch(), name="watch-upstreams")

    async def _probe(self, upstream: Upstream) -> dict | None:
        """The base model ``upstream`` serves, if it is healthy; marks its health."""
        import httpx

        try:
            health = await upstream.client.get("/health", timeout=5)
            models = await upstream.client.get("/v1/models", timeout=5)
            ok = health.status_code == 200 and models.status_code == 200
            model = next((m for m in models.json()["data"] if not m.get("parent")), None) \
                if ok else None
        except (httpx.HTTPError, ValueError, KeyError):
            model = None
        upstream.healthy = model is not None
        return model

    async def _register(self, upstream: Upstream) -> None:
        for name, path in self.adapters.items():
            if name not in upstream.adapters:
                await self._load(upstream, name, path)

    async def _load(self, upstream: Upstream, name: str, path: Path) -> None:
        reply = await upstream.client.post("/v1/load_lora_adapter",
                                           json={"lora_name": name, "lora_path": str(path)})
        if reply.status_code != 200 and "already been loaded" not in reply.text:
            raise ArtifactError(
                f"upstream {upstream.url} refused adapter '{name}' ({path}): "
                f"{reply.text[:300]} (it needs --enable-lora, "
                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and the adapter's folder readable)")
        upstream.adapters.add(name)

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                await self._check_all()
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any one failure
                self.report(f"the upstream watcher hit {type(exc).__name__}: {exc}; it goes on.")

    async def _check_all(self) -> None:
        for upstream in self.upstreams:
            was = upstream.healthy
            if await self._probe(upstream) is None:
                if was:
                    self.report(f"upstream {upstream.url} is down; left out until it "
                                "answers.")
                upstream.adapters.clear()  # a restarted server has none loaded
                continue
            if not was:
                try:
                    await self._register(upstream)
                except (ArtifactError, BackendUnavailableError) as exc:
                    self.report(f"upstream {upstream.url} is back but: {exc}")
                    upstream.healthy = False
                    continue
                self.report(f"upstream {upstream.url} is back.")

    async def stop(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        for upstream in self.upstreams:
            if upstream.client is not None:
                await upstream.client.aclose()
                upstream.client = None

    def healthy(self) -> bool:
        return any(u.healthy for u in self.upstreams)

    async def add_adapter(self, name: str, path: Path) -> None:
        self.adapters[name] = Path(path)
        for upstream in self.upstreams:
            if upstream.healthy:
                await self._load(upstream, name, path)

    # -- requests ----------------------------------------------------------------------------

    def pick(self) -> Upstream:
        """The healthy upstream with the fewest requests outstanding (ties in turn)."""
        healthy = [u for u in self.upstreams if u.healthy]
        if not healthy:
            raise BackendUnavailableError("no upstream is healthy now; retry shortly.")
        start = next(self._turn) % len(healthy)
        turned = healthy[start:] + healthy[:start]
        return min(turned, key=lambda u: u.outstanding)

    async def generate(self, request: Request) -> AsyncIterator[Chunk]:
        upstream = self.pick()
        if request.adapter is not None and request.adapter not in upstream.adapters:
            raise BackendUnavailableError(f"adapter '{request.adapter}' is not loaded on "
                                          f"{upstream.url} yet; retry shortly.")
        upstream.outstanding += 1
        try:
            async for chunk in forward(upstream.client, request, self.served,
                                       f"upstream {upstream.url}"):
                yield chunk
        except Unreachable:
            # A transport failure takes the server out until the watcher sees it answer again;
            # an error it answered about one request (a client's bad input) does not.
            upstream.healthy = False
            raise
        finally:
            upstream.outstanding -= 1
