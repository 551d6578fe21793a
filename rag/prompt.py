"""The one retrieval prompt: a conversation plus an index in, the augmented conversation out.

:func:`augment` is the only place a conversation meets retrieved text. ``graft serve``,
``graft eval run --index``, measured advice and retrieval-aware training (``graft train
--index``) all call it with the same settings section (``rag.prompt``: k, search mode, token
budget, placement and instruction), so a prompt that was measured or trained on is the prompt
that is served, token for token.

Sources are numbered ``[1]``, ``[2]`` … in rank order, each with where it comes from, as many
whole sources as fit in the token budget; the same numbers are the ``citations`` a response
carries. By default they go into the last user message, before the question: on the embedded
135M model that placement, with an instruction to answer briefly in the sources' words, let
more answers contain the reference than sources in the system message did
(``benchmarks/prompt_shapes.py``). With ``placement = "system"`` they are appended to the system
message instead, after any system text the client sent (adapters trained with a system prompt
expect to see it first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from graftlm.core.errors import InputError
from graftlm.core.settings import PromptSettings, RagSettings
from graftlm.rag.retrieve import Result
from graftlm.rag.retrieve import search as rag_search

CountTokens = Callable[[str], int]


@dataclass
class Augmented:
    """The conversation with its sources, the citations for them, and what was retrieved."""

    messages: list[dict]
    citations: list[dict] = field(default_factory=list)
    results: list[Result] = field(default_factory=list)


def query_of(messages: Sequence[dict]) -> str:
    """What to search for: the last user message."""
    for message in reversed(messages):
        if message["role"] == "user" and message["content"].strip():
            return message["content"]
    raise InputError("a retrieval model needs a user message to search for.")


def search(index, query: str, *, k: int, mode: str = "hybrid",
           source_filter: Sequence[str] | None = None,
           exclude: Sequence[str] | None = None, rrf_k: int, sparse_weight: float
           ) -> list[Result]:
    """The ``k`` best chunks for ``query``; only from sources matching ``source_filter`` when
    given, and none from the documents named in ``exclude`` (source path or document id)."""
    filtered = bool(source_filter or exclude)
    depth = max(k * 10, 50) if filtered else k  # filtered after the search
    results = rag_search(index, query, k=depth, mode=mode, rrf_k=rrf_k,
                         sparse_weight=sparse_weight)
    if source_filter:
        results = [r for r in results if any(s in r.chunk.source for s in source_filter)]
    if exclude:
        results = [r for r in results if not from_documents(r, exclude)]
    return results[:k]


def from_documents(result: Result, documents: Sequence[str]) -> bool:
    """Whether ``result`` comes from one of ``documents`` (source paths or document ids)."""
    chunk = result.chunk
    return chunk.doc_id in documents or chunk.source in documents


def token_counter(tokenizer) -> CountTokens:
    """Tokens of a text as the base model counts them (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def fit(results: Sequence[Result], count_tokens: CountTokens, budget: int,
        instruction: str) -> tuple[str, list[dict]]:
    """The numbered sources block and its citations, keeping whole sources while they fit
    ``budget`` (instruction included); a shorter source further down may still fit."""
    blocks, citations, used = [], [], count_tokens(instruction)
    for result in results:
        chunk = result.chunk
        where = chunk.location()
        block = f"[{len(blocks) + 1}] {chunk.source}{f' ({where})' if where else ''}\n{chunk.text}"
        cost = count_tokens(block) + 2
        if used + cost > budget:
            continue
        used += cost
        blocks.append(block)
        citations.append({"index": len(blocks), "source": chunk.source, "location": where,
                          "chunk_id": chunk.id, "score": result.score, "text": chunk.text})
    return "\n\n".join(blocks), citations


def with_sources(messages: Sequence[dict], block: str, settings: PromptSettings) -> list[dict]:
    """``messages`` with the sources block and the instruction placed as ``settings`` say."""
    messages = [dict(m) for m in messages]
    if not block:
        return messages
    if settings.placement == "user":
        last = max(i for i, m in enumerate(messages) if m["role"] == "user")
        messages[last]["content"] = (f"{settings.instruction}\n\nSources:\n{block}\n\n"
                                     f"Question: {messages[last]['content']}")
        return messages
    text = f"{settings.instruction}\n\nSources:\n{block}"
    if messages and messages[0]["role"] in {"system", "developer"}:
        messages[0] = {**messages[0], "role": "system",
                       "content": f"{messages[0]['content']}\n\n{text}"}
        return messages
    return [{"role": "system", "content": text}, *messages]


def augment(messages: Sequence[dict], index, settings: RagSettings, count_tokens: CountTokens,
            *, room: int | None = None, k: int | None = None, mode: str | None = None,
            source_filter: Sequence[str] | None = None, exclude: Sequence[str] | None = None,
            results: Sequence[Result] | None = None) -> Augmented:
    """``messages`` with sources from ``index`` for their last user message.

    Args:
        settings: the ``rag`` section: its ``prompt`` part shapes the prompt, its fusion
            settings the search.
        count_tokens: the base model's token counter (:func:`token_counter`).
        room: tokens left in the context, when less than ``prompt.context_tokens``.
        k, mode, source_filter: a request's own retrieval options.
        exclude: documents whose chunks may not be used (retrieval-aware training's
            distractor-only examples).
        results: already retrieved chunks to use instead of searching.
    """
    prompt = settings.prompt
    if results is None:
        results = search(index, query_of(messages), k=k or prompt.k, mode=mode or prompt.mode,
                         source_filter=source_filter, exclude=exclude, rrf_k=settings.rrf_k,
                         sparse_weight=settings.sparse_weight)
    budget = prompt.context_tokens if room is None else min(prompt.context_tokens, room)
    block, citations = fit(results, count_tokens, budget, prompt.instruction)
    return Augmented(with_sources(messages, block, prompt), citations, list(results))
