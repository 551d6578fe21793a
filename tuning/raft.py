"""Retrieval-aware examples (RAFT, Zhang et al. 2024, arXiv 2403.10131): each example rendered
through the one retrieval prompt (:func:`rag.prompt.augment`), so an adapter trains on the
prompt it will be served with.

Most examples get the chunks retrieved for their own question. When an example names the
document that holds its answer (``gold_doc`` / ``gold_doc_id`` / ``source``) and retrieval missed
the part of it that does, that chunk (RAFT's oracle document) takes the last place: the adapter
learns to read answers from its sources, not to guess past sources that lack them. A share of the
examples (``tuning.distractor_share``; RAFT used about 20%) gets distractors only, so the adapter
also learns to answer when the sources do not help and not to trust whatever it is shown: the
gold document's chunks are removed from their retrieval, or, when the example names none, they get
the chunks retrieved for another example's question. The other questions are drawn from the same
examples only, so a held-out split never leaks into training through its retrieval.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, replace

from graftlm.core.settings import RagSettings, TuningSettings
from graftlm.rag.prompt import augment, from_documents, query_of, search, token_counter
from graftlm.rag.retrieve import Result
from graftlm.tuning.data import Example
from graftlm.tuning.metrics import contains


@dataclass
class Rendering:
    """Examples with their sources, and what was done to them."""

    examples: list[Example]
    distractor_only: int = 0
    gold_removed: int = 0
    gold_added: int = 0


def max_length_with_sources(tuning: TuningSettings, rag: RagSettings) -> int:
    """Tokens per training example once sources are in it: the example's own budget plus the
    sources' and their numbering and instruction. Without the room, truncation would cut the
    answer, which comes last."""
    return tuning.max_length + rag.prompt.context_tokens + 128


def with_sources(example: Example, messages: Sequence[dict]) -> Example:
    """``example`` whose prompt is ``messages`` (its answer and references unchanged)."""
    return replace(example, messages=tuple((m["role"], m["content"]) for m in messages)
                   + example.messages[-1:])


def render(examples: Sequence[Example], index, settings: RagSettings, tokenizer, *,
           distractor_share: float = 0.0, seed: int = 0) -> Rendering:
    """Every example's prompt with its sources; ``distractor_share`` of them distractors only."""
    count = token_counter(tokenizer)
    rng = random.Random(seed)
    chosen = set(rng.sample(range(len(examples)), round(distractor_share * len(examples))))
    out = Rendering([])
    for i, example in enumerate(examples):
        messages = example.prompt_messages()
        if i not in chosen:
            results, added = _with_gold(example, index, settings)
            out.gold_added += added
            augmented = augment(messages, index, settings, count, results=results)
            out.examples.append(with_sources(example, augmented.messages))
            continue
        out.distractor_only += 1
        if example.gold:
            out.gold_removed += 1
            augmented = augment(messages, index, settings, count, exclude=[example.gold])
        else:
            results = _others(examples, i, index, settings, rng)
            augmented = augment(messages, index, settings, count, results=results)
        out.examples.append(with_sources(example, augmented.messages))
    return out


def _with_gold(example: Example, index, settings: RagSettings) -> tuple[list[Result], bool]:
    """The chunks retrieved for ``example``, as served, and whether its oracle chunk was put in
    the last place: when the example names its gold document and retrieval missed the oracle,
    the gold document's best-ranked chunk holding a reference answer (else its best-ranked
    chunk). The deeper search for it runs only then."""
    prompt = settings.prompt
    options = {"mode": prompt.mode, "rrf_k": settings.rrf_k,
               "sparse_weight": settings.sparse_weight}
    retrieved = search(index, example.question, k=prompt.k, **options)
    gold = example.gold
    if not gold or any(from_documents(r, [gold]) and contains(r.chunk.text, example.answers)
                       for r in retrieved):
        return retrieved, False
    ranked = search(index, example.question, k=max(prompt.k * 10, 50), **options)
    chunks = [r for r in ranked if from_documents(r, [gold])]
    oracle = next((r for r in chunks if contains(r.chunk.text, example.answers)),
                  chunks[0] if chunks else None)
    if oracle is None or any(r.chunk.id == oracle.chunk.id for r in retrieved):
        return retrieved, False
    return [*retrieved[:prompt.k - 1], oracle], True


def _others(examples: Sequence[Example], i: int, index, settings: RagSettings,
            rng: random.Random) -> list:
    """Chunks retrieved for another example's question: distractors for example ``i``."""
    if len(examples) < 2:
        return []
    j = rng.choice([n for n in range(len(examples)) if n != i])
    prompt = settings.prompt
    return search(index, query_of(examples[j].prompt_messages()), k=prompt.k, mode=prompt.mode,
                  rrf_k=settings.rrf_k, sparse_weight=settings.sparse_weight)
