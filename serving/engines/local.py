"""The in-process engine: transformers + peft, several adapters loaded, chosen per request.

One worker thread owns the models. Requests wait in a queue; the worker takes every waiting
request (up to ``max_batch``), left-pads them into one batch and decodes them together with a
KV cache, each row with its own adapter (peft's mixed-adapter batches: ``adapter_names``, with
``__base__`` for the base model), its own sampling settings and its own stop conditions.
LoRA-shaped adapters (LoRA, PiSSA) share the one model; an adapter of another method
(:mod:`tuning.methods`) gets a model of its own — merged into a copy of the weights where it
folds in exactly (DoRA, IA3, Spectrum), a prefix model as it is — and its requests a batch of
their own within the same round. Tokens
go back to each request's asyncio queue as they are produced, so streaming costs nothing extra.
Requests that arrive during a batch wait for the next one (static batching, not continuous).
"""

from __future__ import annotations

import asyncio
import queue
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from graftlm.core.errors import ArtifactError
from graftlm.core.loader import load_pretrained
from graftlm.core.padding import left_pad
from graftlm.serving.engines.base import Request
from graftlm.serving.engines.stops import StopScanner
from graftlm.serving.protocol import Chunk
from graftlm.tuning.choice import label_ids, label_logprobs
from graftlm.tuning.data import chat_ids
from graftlm.tuning.methods import decoding_view, method_at

BASE = "__base__"
GATHER_SECONDS = 0.01


@dataclass
class _Job:
    request: Request
    ids: list[int]
    out: asyncio.Queue
    loop: asyncio.AbstractEventLoop
    tokens: list[int] = field(default_factory=list)
    scanner: StopScanner | None = None
    done: bool = False
    cancelled: bool = False

    def send(self, chunk: Chunk | BaseException) -> None:
        self.loop.call_soon_threadsafe(self.out.put_nowait, chunk)


class LocalEngine:
    """transformers + peft in this process."""

    name = "local"
    decodes_json = False

    def __init__(self, model_path: Path | str, adapters: dict[str, Path] | None = None, *,
                 max_batch: int = 16, device: str | None = None):
        self.model_path = model_path
        self.initial = dict(adapters or {})
        self.max_batch = max_batch
        self.device = device
        self.model = None
        self.tokenizer = None
        self.adapters: set[str] = set()  # every adapter loaded
        self.shared: set[str] = set()  # those on the shared peft model
        self.own: dict[str, object] = {}  # the others' models, by adapter
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        await asyncio.to_thread(self._load)
        self._thread = threading.Thread(target=self._work, name="graft-local-engine",
                                        daemon=True)
        self._thread.start()

    def _load(self) -> None:
        self.model, self.tokenizer = load_pretrained(self.model_path, device=self.device)
        self.eos = _eos_ids(self.model, self.tokenizer)
        self.pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None \
            else min(self.eos)
        for name, path in self.initial.items():
            self._attach(name, path)

    def _attach(self, name: str, path: Path) -> None:
        from peft import PeftModel

        method = method_at(path)
        if not method.lora_shaped:
            base, _ = load_pretrained(self.model_path, device=self.device)
            model = method.for_inference(method.open(base, path)).eval()
            with self._lock:
                self.own[name] = model
                self.adapters.add(name)
            return
        with self._lock:
            try:
                if not self.shared:
                    self.model = PeftModel.from_pretrained(self.model, str(path),
                                                           adapter_name=name).eval()
                else:
                    self.model.load_adapter(str(path), adapter_name=name)
            except (OSError, ValueError, KeyError) as exc:
                raise ArtifactError(f"cannot load adapter '{name}' from {path}: {exc}") from exc
            self.shared.add(name)
            self.adapters.add(name)

    def healthy(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    async def add_adapter(self, name: str, path: Path) -> None:
        if name in self.adapters:
            return
        await asyncio.to_thread(self._attach, name, path)

    async def stop(self) -> None:
        if self._thread is not None:
            self._jobs.put(None)
            await asyncio.to_thread(self._thread.join, 30)
            self._thread = None

    def token_ids(self, request: Request) -> list[int]:
        """What the model reads for ``request``: chat messages through the chat template with
        the assistant's turn opened, or a raw prompt as it is."""
        if request.messages is None:
            return self.tokenizer(request.prompt or "", add_special_tokens=False)["input_ids"]
        return chat_ids(self.tokenizer, request.messages)

    async def generate(self, request: Request) -> AsyncIterator[Chunk]:
        if request.adapter is not None and request.adapter not in self.adapters:
            raise ArtifactError(f"adapter '{request.adapter}' is not loaded in this engine.")
        if request.params.choice:
            ids = self.token_ids(request)
            text = await asyncio.to_thread(self._choose, request, ids)
            yield Chunk(text, "stop", len(ids), len(self.tokenizer(
                text, add_special_tokens=False)["input_ids"]))
            return
        job = _Job(request, self.token_ids(request), asyncio.Queue(), asyncio.get_running_loop(),
                   scanner=StopScanner(request.params.stop))
        self._jobs.put(job)
        try:
            while True:
                item = await job.out.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if item.finish_reason is not None:
                    return
        finally:
            job.cancelled = True  # a client that went away frees its row at the next step

    def _choose(self, request: Request, ids: list[int]) -> str:
        """The most likely of the request's choices, scored as measured advice and ``graft eval``
        score labels (:mod:`tuning.choice`), so a served choice is the measured one."""
        choices = request.params.choice
        labels = label_ids(self.tokenizer, choices)
        model = self.own.get(request.adapter, self.model)
        extra = {"adapter_names": [request.adapter or BASE] * len(labels)} \
            if self.shared and model is self.model else {}
        with self._lock:
            scores = label_logprobs(model, ids, labels, pad=self.pad, **extra)
        return choices[max(range(len(choices)), key=lambda i: (scores[i], -i))]

    # -- the worker thread -------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            first = self._jobs.get()
            if first is None:
                return
            batch = [first]
            # Requests sent together arrive a little apart: wait briefly for the rest, so they
            # share a batch instead of queueing behind the first.
            window = time.monotonic() + GATHER_SECONDS
            while len(batch) < self.max_batch:
                try:
                    job = self._jobs.get(timeout=max(0.0, window - time.monotonic()))
                except queue.Empty:
                    break
                if job is None:
                    self._jobs.put(None)
                    break
                batch.append(job)
            groups: dict[str | None, list[_Job]] = {}  # by the model that answers
            for job in batch:
                own = job.request.adapter if job.request.adapter in self.own else None
                groups.setdefault(own, []).append(job)
            for own, jobs in groups.items():
                try:
                    with self._lock:
                        self._decode(jobs, own)
                except Exception as exc:  # noqa: BLE001 - every waiting client must hear of it
                    for job in jobs:
                        if not job.done:
                            job.send(exc)

    def _decode(self, batch: list[_Job], own: str | None = None) -> None:
        import torch

        model = decoding_view(self.own[own]) if own else self.model
        device = self.model.device
        ids, mask = left_pad([j.ids for j in batch], self.pad)
        ids, mask = ids.to(device), mask.to(device)
        extra = {}
        if self.shared and own is None:
            extra["adapter_names"] = [j.request.adapter or BASE for j in batch]
        generators = [_generator(j.request.params.seed, device) for j in batch]
        limit = max(j.request.params.max_tokens for j in batch)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        past = None
        step_ids = ids
        with torch.inference_mode():
            for _ in range(limit):
                out = model(input_ids=step_ids, attention_mask=mask, position_ids=positions,
                            past_key_values=past, use_cache=True, **extra)
                past = out.past_key_values
                logits = out.logits[:, -1, :].float()
                chosen = []
                for row, job in enumerate(batch):
                    if job.done or job.cancelled:
                        job.done = True
                        chosen.append(self.pad)
                        continue
                    token = _pick(logits[row], job.request.params, generators[row])
                    chosen.append(token)
                    self._emit(job, token)
                if all(j.done for j in batch):
                    return
                step_ids = torch.tensor(chosen, device=device)[:, None]
                mask = torch.cat([mask, torch.ones_like(step_ids)], dim=1)
                positions = positions[:, -1:] + 1

    def _emit(self, job: _Job, token: int) -> None:
        params = job.request.params
        finished = token in self.eos
        if not finished:
            job.tokens.append(token)
        text = self.tokenizer.decode(job.tokens, skip_special_tokens=True)
        length = len(job.tokens) >= params.max_tokens
        piece, stopped = job.scanner.feed(text, final=finished or length)
        reason = "stop" if finished or stopped else "length" if length else None
        if reason is not None:
            job.done = True
            job.send(Chunk(piece, reason, len(job.ids), len(job.tokens) + finished))  # eos counts
        elif piece:
            job.send(Chunk(piece))


def _eos_ids(model, tokenizer) -> set[int]:
    ids = model.generation_config.eos_token_id if model.generation_config else None
    found = set(ids if isinstance(ids, list) else [ids] if ids is not None else [])
    if tokenizer.eos_token_id is not None:
        found.add(tokenizer.eos_token_id)
    return found


def _generator(seed: int | None, device):
    if seed is None:
        return None
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(seed)
    return gen


GREEDY_BELOW = 1e-5  # vLLM's sampling epsilon: a lower temperature samples greedily


def _pick(logits, params, generator) -> int:
    """Greedy at temperature 0 (below 1e-5, as vLLM has it), else temperature and nucleus
    (top-p) sampling. Logits are shifted to a maximum of 0 first, so a tiny temperature gives
    -inf, never inf - inf, and no NaN reaches the sampler."""
    import torch

    if params.temperature < GREEDY_BELOW:
        return int(torch.argmax(logits))
    probs = torch.softmax((logits - logits.max()) / params.temperature, dim=-1)
    if params.top_p < 1.0:
        ordered, order = torch.sort(probs, descending=True)
        keep = ordered.cumsum(-1) - ordered < params.top_p
        keep[0] = True  # the likeliest token always stays, however small top_p is
        probs = torch.zeros_like(probs).scatter(0, order[keep], ordered[keep])
        probs = probs / probs.sum()
    return int(torch.multinomial(probs, 1, generator=generator))
