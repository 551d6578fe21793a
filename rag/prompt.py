"""Retrieval-augmented prompts: search an index, number the sources, fit them in a budget.

This is the one place a conversation meets retrieved text: the gateway, measured advice and
``graft eval run --index`` all build their prompts here.

The sources go into the system message (after any system text the client sent, which adapters
trained with a system prompt expect to see first), numbered ``[1]``, ``[2]`` … in rank order,
each with where it comes from, as many as fit in the token budget; the same numbers are the
``citations`` the response carries.
"""

from __future__ import annotations

from graftlm.errors import InputError
from rag.retrieve import search as rag_search

INSTRUCTION = ("Answer using the numbered sources below and cite the ones you use like [1]. If "
               "the sources do not contain the answer, say that you do not know.")


def query_of(messages: list[dict]) -> str:
    """What to search for: the last user message."""
    for message in reversed(messages):
        if message["role"] == "user" and message["content"].strip():
            return message["content"]
    raise InputError("a retrieval model needs a user message to search for.")


def search(index, query: str, *, k: int, mode: str = "hybrid",
           source_filter: list[str] | None = None, rrf_k: int, sparse_weight: float) -> list:
    """The ``k`` best chunks for ``query``, optionally only from sources matching a filter."""
    depth = max(k * 10, 50) if source_filter else k  # filtered after the search
    results = rag_search(index, query, k=depth, mode=mode, rrf_k=rrf_k,
                         sparse_weight=sparse_weight)
    if source_filter:
        results = [r for r in results if any(s in r.chunk.source for s in source_filter)]
    return results[:k]


def token_counter(tokenizer):
    """Tokens of a text as the base model counts them (no special tokens)."""
    return lambda text: len(tokenizer(text, add_special_tokens=False)["input_ids"])


def fit(results: list, count_tokens, budget: int) -> tuple[str, list[dict]]:
    """The sources block and its citations, keeping whole sources while they fit ``budget``."""
    blocks, citations, used = [], [], count_tokens(INSTRUCTION)
    for result in results:
        chunk = result.chunk
        where = chunk.location()
        block = f"[{len(blocks) + 1}] {chunk.source}{f' ({where})' if where else ''}\n{chunk.text}"
        cost = count_tokens(block) + 2
        if used + cost > budget:
            continue  # a shorter source further down may still fit
        used += cost
        blocks.append(block)
        citations.append({"index": len(blocks), "source": chunk.source, "location": where,
                          "chunk_id": chunk.id, "score": result.score, "text": chunk.text})
    if not blocks:
        return "", []
    return INSTRUCTION + "\n\nSources:\n" + "\n\n".join(blocks), citations


def with_sources(messages: list[dict], block: str) -> list[dict]:
    """``messages`` with the sources block appended to the system message (or as one)."""
    if not block:
        return messages
    if messages and messages[0]["role"] in {"system", "developer"}:
        first = {**messages[0], "role": "system",
                 "content": f"{messages[0]['content']}\n\n{block}"}
        return [first, *messages[1:]]
    return [{"role": "system", "content": block}, *messages]
