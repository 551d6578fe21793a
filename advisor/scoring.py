"""Strategy scores from signals: a transparent sum that can be read back term by term.

Every strategy starts from a prior ("prompting comes first"), then each signal adds its effects
scaled by its strength, then a few rules that need more than one signal apply (a skill gap and a
knowledge gap together favour the hybrid). Scores become probabilities with a softmax; the top
probability is the confidence. Nothing here reads text: it takes hits and facts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from graftlm.advisor.catalog import KNOWLEDGE_GAP, SIGNALS, SKILL_GAP
from graftlm.advisor.quantities import Quantity, corpus_tokens
from graftlm.advisor.reader import TEMPERATURE as READER_TEMPERATURE
from graftlm.advisor.signals import Hit, corpus_from, examples_from

STRATEGIES = ("prompting", "few_shot", "rag", "lora", "full_ft", "hybrid")
TITLES = {
    "prompting": "Prompting (zero-shot)",
    "few_shot": "Few-shot prompting",
    "rag": "Retrieval (RAG)",
    "lora": "LoRA adapter (PEFT)",
    "full_ft": "Full fine-tuning",
    "hybrid": "Hybrid: RAG + LoRA adapter",
}
# Prompting first: it costs nothing and is the baseline every other arm must beat.
PRIOR = {"prompting": 1.0, "few_shot": 0.3, "rag": 0.0, "lora": 0.0, "full_ft": -1.0,
         "hybrid": -0.5}
PRETRAINING_TOKENS = 1e8
TEMPERATURE = 1.0


@dataclass(frozen=True)
class Facts:
    """What the user states outright (command-line flags); each overrides what the text implies."""

    examples: int | None = None
    documents: bool | None = None
    docs_change: str | None = None  # never | rarely | monthly | weekly | daily | realtime
    citations: bool | None = None
    latency_ms: int | None = None
    private: bool | None = None
    output_format: bool | None = None  # a fixed output format (JSON, fields, labels) or free text

    def hits(self) -> list[Hit]:
        """The signals these facts set, as hits with method ``flag``."""
        out: list[Hit] = []
        if self.examples is not None:
            out.append(Hit(examples_signal(self.examples), 1.0, "flag",
                           f"--examples {self.examples}"))
        if self.documents is not None:
            out.append(Hit("private_documents" if self.documents else "no_knowledge_needed", 1.0,
                           "flag", "--docs" if self.documents else "--no-docs"))
        if self.docs_change is not None:
            fresh = self.docs_change in {"weekly", "daily", "realtime"}
            out.append(Hit("fresh_knowledge" if fresh else "static_knowledge",
                           1.0 if fresh or self.docs_change == "never" else 0.6, "flag",
                           f"--docs-change {self.docs_change}"))
        if self.citations is not None:
            out.append(Hit("grounding" if self.citations else "no_citations", 1.0, "flag",
                           "--citations" if self.citations else "--no-citations"))
        if self.latency_ms is not None:
            strength = 1.0 if self.latency_ms <= 200 else 0.5 if self.latency_ms <= 1000 else 0.0
            if strength:
                out.append(Hit("latency_cost", strength, "flag", f"--latency-ms {self.latency_ms}"))
        if self.private:
            out.append(Hit("privacy", 1.0, "flag", "--private"))
        if self.output_format is not None:
            out.append(Hit("output_format" if self.output_format else "no_format", 1.0, "flag",
                           "--fixed-format" if self.output_format else "--free-form"))
        return out


@dataclass(frozen=True)
class Contribution:
    """One term of the score sum: a signal or a rule, and how it moved each strategy."""

    source: str
    kind: str  # "prior" | "signal" | "rule"
    effects: Mapping[str, float]
    note: str = ""


@dataclass(frozen=True)
class Scored:
    """The outcome of scoring: the terms, the totals and the probabilities."""

    hits: list[Hit]
    contributions: list[Contribution]
    scores: dict[str, float]
    probabilities: dict[str, float]
    overridden: list[Hit] = field(default_factory=list)

    @property
    def ranking(self) -> list[str]:
        return sorted(STRATEGIES, key=lambda s: (-self.scores[s], STRATEGIES.index(s)))


def examples_signal(n: float) -> str:
    """The data signal for ``n`` labelled examples (thresholds from docs/framework.md's table)."""
    if n <= 0:
        return "no_examples"
    if n <= 20:
        return "few_examples"
    if n < 50:
        return "some_examples"
    if n < 10_000:
        return "enough_examples"
    if n < 300_000:
        return "many_examples"
    return "massive_examples"


def resolve_hits(text_hits: Sequence[Hit], quantities: Sequence[Quantity],
                 facts: Facts, found: Sequence[Hit] = ()) -> tuple[list[Hit], list[Hit]]:
    """Merge text hits, number-derived hits, signals ``found`` in the user's files and flags;
    flags, then files, win their slot.

    Returns:
        (the hits that count, the text hits a flag or a file contradicted)
    """
    hits = list(text_hits)
    counted = examples_from(quantities)
    if counted is not None:
        # A stated count beats vaguer wording about data ("no training set, but a couple of
        # examples per band").
        hits = [h for h in hits if SIGNALS[h.signal].slot != "examples"]
        hits.append(Hit(examples_signal(counted.value), 1.0, "number", counted.text,
                        (counted.start, counted.end)))
    corpus = corpus_from(quantities)
    if corpus is not None and corpus_tokens(corpus) >= PRETRAINING_TOKENS:
        hits.append(Hit("pretraining_corpus", 1.0, "number", corpus.text,
                        (corpus.start, corpus.end)))
    flag_hits = facts.hits()
    flagged = {SIGNALS[h.signal].slot for h in flag_hits}
    if facts.documents is not None:
        flagged.add("documents")
    stated = flag_hits + [h for h in found if SIGNALS[h.signal].slot not in flagged]
    slots = flagged | {SIGNALS[h.signal].slot for h in stated} - {None}
    agreed = {h.signal for h in stated}
    # A text hit on a stated slot gives way; it was *contradicted* only when the statement
    # reads otherwise (a file of 480 examples confirms "about 500 examples").
    overridden = [h for h in hits if SIGNALS[h.signal].slot in slots and h.signal not in agreed]
    kept = [h for h in hits if SIGNALS[h.signal].slot not in slots and h.signal not in agreed]
    kept = _one_per_slot(kept + stated)
    return kept, overridden


def _one_per_slot(hits: list[Hit]) -> list[Hit]:
    """Opposite readings of one slot ("fresh" and "static") cannot both hold: keep the strongest,
    preferring flags, then numbers, then wording, then meaning."""
    rank = {"flag": 4, "file": 3, "reader": 2, "number": 2, "wording": 1, "meaning": 0}
    best: dict[str, Hit] = {}
    free: list[Hit] = []
    for hit in hits:
        slot = SIGNALS[hit.signal].slot
        if slot is None:
            free.append(hit)
            continue
        cur = best.get(slot)
        if cur is None or (rank[hit.method], hit.strength) > (rank[cur.method], cur.strength):
            best[slot] = hit
    return free + list(best.values())


def score(hits: Sequence[Hit]) -> list[Contribution]:
    """The terms of the score sum for these hits: prior, one per signal, then the rules."""
    terms = [Contribution("prompting_first", "prior", dict(PRIOR),
                          "every strategy starts from a prior that puts prompting first")]
    by_id = {h.signal: h for h in hits}
    for hit in hits:
        spec = SIGNALS[hit.signal]
        terms.append(Contribution(hit.signal, "signal",
                                  {s: round(v * hit.strength, 3) for s, v in spec.effects.items()}))
    terms.extend(_rules(by_id))
    return terms


def _rules(by_id: Mapping[str, Hit]) -> list[Contribution]:
    rules = []
    # Questions alone are weak evidence of a knowledge gap: "analysts ask questions and we want
    # SQL" turns each question into an output; documents, freshness or citations are stronger.
    knowledge = max((by_id[s].strength * (0.5 if s == "question_answering" else 1.0)
                     for s in KNOWLEDGE_GAP if s in by_id), default=0.0)
    skill = max((by_id[s].strength for s in SKILL_GAP if s in by_id), default=0.0)
    if knowledge and skill:
        gain = round(2.5 * min(knowledge, skill), 3)
        rules.append(Contribution(
            "gaps_add_up", "rule", {"hybrid": gain, "rag": -gain / 3, "lora": -gain / 3},
            "a knowledge gap and a skill gap together: tune and retrieve "
            "(Balaguer et al. 2024: the gains add up)"))
    if "pretraining_corpus" in by_id and "private_documents" in by_id and not (
            {"question_answering", "grounding", "fresh_knowledge"} & set(by_id)):
        docs = SIGNALS["private_documents"].effects
        rules.append(Contribution(
            "corpus_is_training_data", "rule", {s: round(-0.8 * v, 3) for s, v in docs.items()},
            "the documents are a pretraining-scale corpus to learn from, not facts to look up"))
    if by_id.get("context_misuse") and by_id["context_misuse"].strength >= 0.75 and {
            "enough_examples", "many_examples"} & set(by_id):
        gain = round(1.5 * by_id["context_misuse"].strength, 3)
        rules.append(Contribution(
            "train_to_read", "rule", {"hybrid": gain, "lora": -gain / 2},
            "retrieval is there but the model misreads it, and there are examples to learn from: "
            "train the adapter on retrieved context (RAFT, Zhang et al. 2024) and keep retrieval"))
    if "tried_tuning" in by_id and "facts_not_learned" in by_id:
        gain = round(1.5 * by_id["facts_not_learned"].strength, 3)
        rules.append(Contribution(
            "failed_tuning_means_knowledge", "rule",
            {"rag": gain, "hybrid": gain / 3, "lora": -gain, "full_ft": -gain},
            "tuning was tried and the answers still miss the facts: facts are learned slowly "
            "from weights (Gekhman et al. 2024); retrieve them instead of tuning harder"))
    # anything to learn beyond the format itself: another skill, facts, or the data to tune on
    learnable = {*SKILL_GAP, *KNOWLEDGE_GAP, "enough_examples", "many_examples",
                 "massive_examples"} - {"output_format"}
    if "standard_format" in by_id and not learnable & set(by_id):
        gain = round(2.5 * by_id["standard_format"].strength, 3)
        rules.append(Contribution(
            "format_at_decoding", "rule",
            {"few_shot": gain, "prompting": round(gain * 0.8, 3), "lora": -gain,
             "full_ft": -gain / 2, "hybrid": -gain / 2},
            "a standard format (JSON, XML, YAML) and nothing else to learn: constrain decoding "
            "to it (response_format with a JSON schema, served by vLLM) and show an example or "
            "two; an adapter only if a schema of your own stays wrong after that (docs/framework.md: "
            "few-shot if simple)"))
    big_data = {"many_examples", "massive_examples", "pretraining_corpus"} & set(by_id)
    if "new_language_or_modality" in by_id and big_data:
        gain = round(2.5 * by_id["new_language_or_modality"].strength, 3)
        change = {"full_ft": gain, "lora": -gain / 2}
        if "general_task" in by_id:  # proofreading in a language the model cannot read
            damp = by_id["general_task"].strength
            for strategy, value in SIGNALS["general_task"].effects.items():
                change[strategy] = round(change.get(strategy, 0.0) - value * damp, 3)
        if "no_examples" in by_id and "pretraining_corpus" in by_id:  # pretraining needs no labels
            change["full_ft"] = round(change["full_ft"] - SIGNALS["no_examples"].effects["full_ft"]
                                      * by_id["no_examples"].strength, 3)
        rules.append(Contribution(
            "new_input_with_data", "rule", change,
            "a new language or modality and the data to learn it: an adapter's few parameters "
            "cannot hold a new kind of input; full fine-tuning can (docs/framework.md)"))
    custom = [s for s in ("style_voice", "output_format", "custom_scheme", "procedure")
              if s in by_id]
    if "general_task" in by_id and custom:
        general = SIGNALS["general_task"].effects
        damp = 0.6 * by_id["general_task"].strength
        rules.append(Contribution(
            "custom_requirement", "rule", {s: round(-v * damp, 3) for s, v in general.items()},
            f"a common task, but with a requirement of your own ({', '.join(custom)}): the base "
            "model's general skill counts for less"))
    return rules


def totals(contributions: Sequence[Contribution]) -> dict[str, float]:
    """Sum the terms per strategy."""
    out = dict.fromkeys(STRATEGIES, 0.0)
    for term in contributions:
        for strategy, value in term.effects.items():
            out[strategy] += value
    return {s: round(v, 3) for s, v in out.items()}


def softmax(scores: Mapping[str, float], temperature: float = TEMPERATURE) -> dict[str, float]:
    top = max(scores.values())
    exp = {s: math.exp((v - top) / temperature) for s, v in scores.items()}
    z = sum(exp.values())
    return {s: round(v / z, 4) for s, v in exp.items()}


def score_hits(text_hits: Sequence[Hit], quantities: Sequence[Quantity],
               facts: Facts, learned: Contribution | None = None,
               found: Sequence[Hit] = ()) -> Scored:
    """Resolve hits against facts (and signals ``found`` in files), score them, rank them.

    ``learned`` is the learned reader's term (``advisor.reader``); it reads the text alone, so
    it is left out when a flag corrected something the text said.
    """
    hits, overridden = resolve_hits(text_hits, quantities, facts, found)
    hits.sort(key=lambda h: (h.span[0] if h.span else 10**9, h.signal))
    contributions = score(hits)
    temperature = TEMPERATURE
    if learned is not None and not overridden:
        contributions.append(learned)
        temperature = READER_TEMPERATURE
    scores = totals(contributions)
    return Scored(hits, contributions, scores, softmax(scores, temperature), overridden)
