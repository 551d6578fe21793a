"""Translating OpenAI requests into engine requests: the gateway's serving logic.

A :class:`Gateway` owns what every request needs — the runtime (engine, adapters, indexes), the
base model's tokenizer, the metrics and the serving settings — and turns a validated request
body into an engine request: it resolves the model name, maps the messages, resolves the
sampling parameters within the server's limits, puts retrieved sources into the prompt for
retrieval models, and checks that the prompt and the answer fit the context. Shaping what the
engine answers is :mod:`serving.responses`; HTTP (routes, auth, body size) is
:mod:`serving.routes` and :mod:`serving.app`. Every refusal is an :class:`ApiError`.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator
from contextlib import aclosing

from graftlm.core.errors import ArtifactNotFoundError, GraftError, InputError
from graftlm.rag.prompt import augment, token_counter
from graftlm.serving.admission import Admission, Slot
from graftlm.serving.engines.base import Request as EngineRequest
from graftlm.serving.metrics import Metrics
from graftlm.serving.protocol import ApiError, ChatRequest, CompletionRequest, Params
from graftlm.serving.responses import Reply, events, whole
from graftlm.serving.runtime import Route, Runtime
from graftlm.tuning.data import chat_ids

# Room kept beside the sources, the messages and the answer for what `fit` does not count: the
# chat template's tokens around the system message that carries the sources.
SOURCE_MARGIN = 16

Body = ChatRequest | CompletionRequest
Answer = dict | AsyncIterator[str]  # a whole response, or the events of a streamed one


def chat_messages(body: ChatRequest) -> list[dict]:
    """The messages as the engine takes them: role and text, ``developer`` read as ``system``.

    Chat templates know no ``developer`` role; OpenAI's newer clients send it where older ones
    sent ``system``.

    Raises:
        ApiError: 400 if a message has content parts other than text.
    """
    try:
        return [{"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in body.messages]
    except ValueError as exc:
        raise ApiError(400, str(exc), param="messages") from exc


# Choices are scored side by side after the prompt: their tokens together bound the work.
MAX_CHOICE_TOKENS = 2048


class Gateway:
    """The runtime behind the routes, with the tokenizer and metrics every request shares."""

    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.serving = runtime.settings.serving
        self.rag = runtime.settings.rag
        self.admission = Admission(self.serving.max_in_flight, self.serving.max_queue)
        self.metrics = Metrics(self.admission)
        self.tokenizer = _tokenizer(runtime)
        self.count_tokens = token_counter(self.tokenizer)
        self._adapter_lock = asyncio.Lock()

    @property
    def max_len(self) -> int:
        """The context length: what upstream servers report, else ``serving.vllm``'s."""
        return getattr(self.runtime.engine, "max_model_len", None) or \
            self.serving.vllm.max_model_len

    # -- requests ----------------------------------------------------------------------------

    async def chat(self, body: ChatRequest) -> Answer:
        """Answer ``POST /v1/chat/completions``, once admitted (429 if the server is full)."""
        return await self._admitted(lambda deadline: self._chat(body, deadline))

    async def complete(self, body: CompletionRequest) -> Answer:
        """Answer ``POST /v1/completions``, once admitted (429 if the server is full)."""
        return await self._admitted(lambda deadline: self._complete(body, deadline))

    async def _admitted(self, work) -> Answer:
        """``work(deadline)`` in a slot of :attr:`admission`, held until the answer is whole or
        its stream has ended or been dropped. The deadline counts from arrival, waiting
        included."""
        deadline = asyncio.get_running_loop().time() + self.serving.request_timeout_s
        slot = await self.admission.enter()
        try:
            answer = await work(deadline)
        except BaseException:
            slot.release()
            raise
        if isinstance(answer, dict):
            slot.release()
            return answer
        held = _holding(answer, slot)
        # A stream the server never starts (its client left at once) still gives its slot back.
        weakref.finalize(held, slot.release)
        return held

    async def _chat(self, body: ChatRequest, deadline: float) -> Answer:
        route = self.route(body.model)
        messages = chat_messages(body)
        params = self.params(body)
        extra = {}
        if route.index:
            messages, extra = await self.augment(route, body, messages, params)
        # Tokenizing a long prompt takes milliseconds: off the event loop, like the search.
        self.check_context(await asyncio.to_thread(self.prompt_tokens, messages),
                           await self.answer_tokens(params))
        request = EngineRequest(route.adapter, params, messages=messages, stream=body.stream)
        return await self._answer(route, body, request, extra, deadline, chat=True)

    async def _complete(self, body: CompletionRequest, deadline: float) -> Answer:
        """A retrieval model's sources go before the prompt."""
        route = self.route(body.model)
        params = self.params(body)
        prompt, extra = body.text(), {}
        if route.index:
            messages, extra = await self.augment(route, body, [{"role": "user",
                                                                "content": prompt}], params)
            # A raw prompt has no turns: the augmented conversation, flattened, is the prompt.
            prompt = "\n\n".join(m["content"] for m in messages)
        self.check_context(await asyncio.to_thread(self.count_tokens, prompt),
                           await self.answer_tokens(params), "prompt")
        request = EngineRequest(route.adapter, params, prompt=prompt, stream=body.stream)
        return await self._answer(route, body, request, extra, deadline, chat=False,
                                  echo=prompt if body.echo else "")

    async def add_adapter(self, name: str) -> dict:
        """Answer ``POST /v1/adapters``: serve one more workspace adapter.

        Raises:
            ApiError: 404 if the workspace has no such adapter; 400 if it cannot be served.
        """
        try:
            async with self._adapter_lock:  # one load at a time; hashing runs off the loop
                version = await self.runtime.add_adapter(name)
        except ArtifactNotFoundError as exc:
            # Neither the workspace's path nor the names of the adapters in it: a caller
            # learns what the server serves from /v1/models, not what the disk holds.
            raise ApiError(404, f"there is no adapter named '{name}' to serve; train it "
                           "with graft train, or check the name.", code="model_not_found",
                           param="name") from exc
        except GraftError as exc:
            raise ApiError(400, self.runtime.public(str(exc))) from exc
        return {"object": "adapter", "id": name, "version": version,
                "models": self.runtime.models()}

    # -- translation -------------------------------------------------------------------------

    def route(self, model: str) -> Route:
        """What answers ``model``.

        Raises:
            ApiError: 404 listing the models there are.
        """
        route = self.runtime.resolve(model)
        if route is None:
            raise ApiError(404, f"The model '{model}' does not exist; available: "
                           f"{', '.join(self.runtime.models())}.", code="model_not_found",
                           param="model")
        return route

    def params(self, body: Body) -> Params:
        """The sampling parameters; ``max_completion_tokens`` wins over ``max_tokens``.

        Raises:
            ApiError: 400 if the answer asked for is longer than ``serving.max_tokens_limit``,
                or JSON is asked of an engine that cannot constrain its output to it.
        """
        wanted = body.max_completion_tokens or body.max_tokens or self.serving.default_max_tokens
        if wanted > self.serving.max_tokens_limit:
            raise ApiError(400, f"max_tokens is {wanted}, above this server's limit of "
                           f"{self.serving.max_tokens_limit} (serving.max_tokens_limit).",
                           param="max_tokens")
        json_format = body.json_format()
        if json_format and body.choice():
            raise ApiError(400, "response_format: a request asks for JSON or for one of its "
                           "choices, not both.", param="response_format")
        if json_format and not getattr(self.runtime.engine, "decodes_json", False):
            raise ApiError(400, f"response_format: JSON output needs an engine that constrains "
                           f"decoding to it; the {self.runtime.engine.name} engine does not. "
                           "Serve with --engine vllm, or leave response_format out.",
                           param="response_format")
        return Params(wanted, body.temperature, body.top_p, body.stops(), body.seed,
                      body.choice(), json_format)

    def prompt_tokens(self, messages: list[dict]) -> int:
        """Tokens of the chat prompt the engine will see, generation prompt included."""
        return len(chat_ids(self.tokenizer, messages))

    async def answer_tokens(self, params: Params) -> int:
        """The answer's room in the context: ``max_tokens``, or for a choice the longest
        choice. Every choice is scored after the prompt, so together they are bounded too.

        Raises:
            ApiError: 400 when the choices together exceed ``MAX_CHOICE_TOKENS``.
        """
        if not params.choice:
            return params.max_tokens
        sizes = await asyncio.to_thread(lambda: [self.count_tokens(c) for c in params.choice])
        if sum(sizes) > MAX_CHOICE_TOKENS:
            raise ApiError(400, f"structured_outputs.choice: {len(sizes)} choices of "
                           f"{sum(sizes):,} tokens in all, over the limit of "
                           f"{MAX_CHOICE_TOKENS:,}; send fewer or shorter choices.",
                           param="structured_outputs")
        return max(sizes)

    def check_context(self, prompt_tokens: int, max_tokens: int, param: str = "messages") -> None:
        """Refuse a request whose prompt is empty, or whose prompt and answer together exceed
        the context length (``param`` names the field that holds the prompt).

        Raises:
            ApiError: 400, with code ``context_length_exceeded`` for a prompt too long.
        """
        if prompt_tokens == 0:  # nothing to continue from (vLLM refuses it too)
            raise ApiError(400, f"{param}: the prompt is empty; send some text to complete.",
                           param=param)
        if prompt_tokens + max_tokens > self.max_len:
            raise ApiError(400, f"the prompt has {prompt_tokens} tokens and max_tokens is "
                           f"{max_tokens}: {prompt_tokens + max_tokens} in all, above the "
                           f"context length of {self.max_len}. Shorten the messages or lower "
                           "max_tokens.", code="context_length_exceeded", param=param)

    async def augment(self, route: Route, body: Body, messages: list[dict],
                      params: Params) -> tuple[list[dict], dict]:
        """The messages with the route's index's sources in them, and the response's extras.

        The one retrieval prompt (:func:`rag.prompt.augment`, settings ``rag.prompt``) that
        measured advice, ``graft eval run --index`` and ``graft train --index`` use too; the
        sources get what is left of the context after the messages and the answer, at most
        ``rag.prompt.context_tokens``. The extras are the ``citations`` and how the search went.

        Raises:
            ApiError: 400 if there is nothing to search for or the search options are bad.
        """
        options = body.retrieval
        prompt = self.rag.prompt
        k = options.k if options and options.k else prompt.k
        mode = options.mode if options and options.mode else prompt.mode
        asked = await asyncio.to_thread(self.prompt_tokens, messages)
        room = self.max_len - params.max_tokens - asked - SOURCE_MARGIN
        started = time.perf_counter()
        try:
            # The search embeds the query: off the event loop, so other requests keep streaming.
            augmented = await asyncio.to_thread(
                augment, messages, self.runtime.indexes[route.index].index, self.rag,
                self.count_tokens, room=room, k=k, mode=mode,
                source_filter=options.sources if options else None)
        except InputError as exc:
            raise ApiError(400, str(exc), param="messages") from exc
        retrieval_ms = (time.perf_counter() - started) * 1000
        return augmented.messages, {
            "citations": augmented.citations,
            "graft": {"retrieval": {"k": k, "mode": mode, "ms": round(retrieval_ms, 2)}}}

    # -- answers -----------------------------------------------------------------------------

    async def _answer(self, route: Route, body: Body, request: EngineRequest, extra: dict,
                      deadline: float, *, chat: bool, echo: str = "") -> Answer:
        extra["graft"] = {**self.runtime.lineage(route), **extra.pop("graft", {})}
        reply = Reply(route.model, chat, extra, echo, body.wants_usage_chunk(),
                      deadline=deadline)
        chunks = self.runtime.engine.generate(request)
        if body.stream:
            return events(reply, chunks, self.metrics)
        return await whole(reply, chunks, self.metrics)


async def _holding(events: AsyncIterator[str], slot: Slot) -> AsyncIterator[str]:
    """``events``, giving ``slot`` back when they end or are dropped."""
    try:
        async with aclosing(events):
            async for event in events:
                yield event
    finally:
        slot.release()


def _tokenizer(runtime: Runtime):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(runtime.base_path)
