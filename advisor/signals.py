"""What a task description says: signals found by wording, by meaning, and by numbers.

A signal is one fact about the task that moves the strategies (see ``catalog.py`` for the table).
Detection works clause by clause:

* **wording** — regular expressions over the text; a negation cue just before a match ("never",
  "no", "don't") or just after it ("… are not needed") turns the signal into its counterpart
  (``fresh_knowledge`` → ``static_knowledge``) or drops it;
* **meaning** — each clause is embedded with the sentence embedder and compared with prototype
  sentences of every signal, so paraphrases and unseen domain wording still register;
* **numbers** — amounts of labelled examples and corpus sizes (``quantities.py``) become data
  signals.

This module finds signals; it does not score strategies.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np

from graftlm.advisor.quantities import Quantity, corpus_tokens, find_quantities
from graftlm.core.embedder import Embedder

Method = Literal["wording", "meaning", "number", "flag", "file", "reader"]

_NEGATION = re.compile(
    r"\b(no|not|never|none|nothing|nobody|no one|without|neither|nor|zero|rarely|seldom|hardly|"
    r"don'?t|doesn'?t|didn'?t|isn'?t|aren'?t|won'?t|shouldn'?t|cannot|can'?t|"
    r"do not|does not|is not|are not|will not|should not)\b|n't\b",
    re.IGNORECASE,
)
_NEGATION_AFTER = re.compile(
    r"^\W*(?:\w+\W+){0,2}?(?:is|are|was|were)?\s*(?:not|n't|never)\s+(?:needed|required|necessary|"
    r"important|wanted|a concern|an issue)|^\W*(?:\w+\W+){0,2}?(?:unnecessary|not needed|"
    r"not required|optional|irrelevant)|^\W*(?:\w+\W+){0,4}?(?:is|are) (?:fine|ok|okay)\b|"
    r"^\W*(?:\w+\W+){0,4}?(?:doesn'?t|does not|don'?t|do not) matter\b|"
    r"^\W*(?:\w+\W+){0,2}?(?:can|may|should|will) (?:stay|remain|be left) (?:as (?:it )?is|"
    r"the same|unchanged)\b|"
    # "Tone and formatting of responses are at the Supplier's discretion"
    r"^\W*(?:\w+\W+){0,5}?(?:is|are) (?:at|up to|left to) (?:the |your |their )?(?:[\w']+ )?"
    r"(?:discretion|choice|preference)\b",
    re.IGNORECASE,
)
_FAILS = re.compile(
    r"\s*(?:\w+\s+)?(?:in|follow\w*|match\w*|meet\w*|us(?:e|es|ing)|stick\w* to|fit\w*|"
    r"conform\w* to) (?:the|our|their|its|an?)\b(?:\s+\w+){0,2}\s*$", re.IGNORECASE)
# A clause must be this much closer to its best signal than to any other to count.
MEANING_MARGIN = 0.03
_CLAUSE_BREAK = re.compile(
    r"[.;!?:()]+(?:\s|$)|[.;!?()]+|\n\s*\n|\n\s*(?:[-*•]|\d+[.)])\s|\s[—–-]\s|—|,\s*(?=(?:but|and|while|whereas|although|though|"
    r"so|yet|because|since|which|as)\b)|\s(?=(?:but|whereas|although|though|however)\b)",
    re.IGNORECASE,
)


def effects(p: float = 0.0, f: float = 0.0, r: float = 0.0, l: float = 0.0,  # noqa: E741
            t: float = 0.0, h: float = 0.0) -> dict[str, float]:
    """A signal's effect on each strategy at full strength: prompting, few-shot, RAG, LoRA,
    full fine-tuning, hybrid."""
    return {"prompting": p, "few_shot": f, "rag": r, "lora": l, "full_ft": t, "hybrid": h}


@dataclass(frozen=True)
class SignalSpec:
    """One row of the signal table: how to recognise it and how it moves each strategy.

    Attributes:
        id: stable identifier, used in JSON output.
        title: a few words for people.
        group: knowledge, skill, data, constraint or scope.
        effects: score change per strategy at full strength.
        patterns: regular expressions (case-insensitive) for wording cues.
        prototypes: sentences that express the signal, for matching by meaning.
        negated_as: the signal a negated mention becomes; ``None`` drops it.
        negatable: whether negation cues apply at all (privacy cues are themselves negative).
        slot: the fact a command-line flag can set; a flag overrides text on the same slot.
        unless: expressions for wording that looks like a cue but is not one: a cue that lies
            inside such a match is skipped ("uploads a timetable CSV" names the input's format,
            not the output's).
    """

    id: str
    title: str
    group: str
    effects: Mapping[str, float]
    patterns: tuple[str, ...] = ()
    prototypes: tuple[str, ...] = ()
    negated_as: str | None = None
    negatable: bool = True
    slot: str | None = None
    unless: tuple[str, ...] = ()
    compiled: tuple[re.Pattern, ...] = field(init=False, repr=False, compare=False)
    compiled_unless: tuple[re.Pattern, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(
            self, "compiled", tuple(re.compile(p, re.IGNORECASE) for p in self.patterns)
        )
        object.__setattr__(
            self, "compiled_unless", tuple(re.compile(p, re.IGNORECASE) for p in self.unless)
        )

    def search(self, pattern: re.Pattern, text: str, start: int, end: int) -> re.Match | None:
        """The first match of ``pattern`` in ``text[start:end]`` that no ``unless`` match holds."""
        excluded = [(m.start(), m.end()) for u in self.compiled_unless
                    for m in u.finditer(text, start, end)]
        for m in pattern.finditer(text, start, end):
            if not any(a <= m.start() and m.end() <= b for a, b in excluded):
                return m
        return None


@dataclass(frozen=True)
class Hit:
    """A signal found in the description (or set by a flag)."""

    signal: str
    strength: float
    method: Method
    evidence: str
    span: tuple[int, int] | None = None
    negated_from: str | None = None
    similarity: float | None = None
    prototype: str | None = None


@dataclass(frozen=True)
class Clause:
    text: str
    start: int
    end: int


_RETRACT = re.compile(
    r"\b(?:scratch that|strike that|forget (?:that|all that|what I said|the above)|ignore (?:what "
    r"I said|the above|all that)|on second thought|correction:|update:)", re.IGNORECASE)


def retraction_point(text: str) -> int:
    """Where the last retraction cue ("actually scratch that") ends; what came before it is
    withdrawn. 0 when nothing is retracted."""
    ends = [m.end() for m in _RETRACT.finditer(text)]
    return ends[-1] if ends else 0


def split_clauses(text: str) -> list[Clause]:
    """Split a description into clauses: sentences, cut again at contrastive conjunctions."""
    clauses, pos = [], 0
    for m in _CLAUSE_BREAK.finditer(text):
        _add_clause(clauses, text, pos, m.start())
        pos = m.end()
    _add_clause(clauses, text, pos, len(text))
    return clauses


def _add_clause(out: list[Clause], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip(" \t,'\"")
    if len(re.findall(r"\w+", stripped)) == 0:
        return
    offset = start + piece.find(stripped)
    out.append(Clause(stripped, offset, offset + len(stripped)))


def is_negated(clause: Clause, start: int, end: int, text: str) -> bool:
    """Whether a cue at ``text[start:end]`` inside ``clause`` is negated.

    Looks at the few words before the cue in the same clause, and for a passive negation right
    after it ("citations are not needed").
    """
    before = text[clause.start:start]
    window = " ".join(re.findall(r"[\w']+", before)[-6:])
    negations = list(_NEGATION.finditer(window))
    negation = negations[-1] if negations else None
    if negation is not None:
        # "they're not in the approved layout", "the replies don't sound like us": the input
        # fails a requirement; that does not waive it.
        between = window[negation.end():]
        if not between.strip() and re.match(r"(?:sound|look|read|match|follow|fit)", text[start:end],
                                            re.IGNORECASE):
            return False
        return not _FAILS.match(between)
    return bool(_NEGATION_AFTER.search(text[end:clause.end]))


class SignalDetector:
    """Finds the signals of a catalog in descriptions.

    Args:
        catalog: the signal table.
        embedder: optional; without it, only wording and numbers are used.
        threshold: cosine similarity from which a clause counts as expressing a signal.
    """

    def __init__(self, catalog: Sequence[SignalSpec], embedder: Embedder | None = None,
                 threshold: float = 0.5, cache: Path | None = None):
        self.catalog = {spec.id: spec for spec in catalog}
        self.embedder = embedder
        self.threshold = threshold
        self._proto_owner: list[str] = []
        self._proto_text: list[str] = []
        for spec in catalog:
            for proto in spec.prototypes:
                self._proto_owner.append(spec.id)
                self._proto_text.append(proto)
        self._proto_vecs: np.ndarray | None = None
        if embedder is not None and self._proto_text:
            self._proto_vecs = _prototype_vectors(embedder, self._proto_text, cache)

    def detect(self, text: str, clause_vectors: np.ndarray | None = None
               ) -> tuple[list[Hit], list[Quantity]]:
        """All signal hits of ``text`` (one per signal, the strongest) and its quantities.

        ``clause_vectors`` are the embeddings of :func:`split_clauses` ``(text)``, when the
        caller has them already; otherwise they are computed here.
        """
        clauses = split_clauses(text)
        hits: list[Hit] = []
        for clause in clauses:
            hits.extend(self._wording(clause, text))
        if self._proto_vecs is not None and clauses:
            if clause_vectors is None:
                clause_vectors = self.embedder.embed([c.text for c in clauses])
            hits.extend(self._meaning(clauses, clause_vectors, {h.signal for h in hits}))
        quantities = find_quantities(text)
        retracted = retraction_point(text)
        if retracted:
            hits = [h for h in hits if h.span is None or h.span[1] > retracted]
            quantities = [q for q in quantities if q.end > retracted]
        return _strongest(hits), quantities

    def _wording(self, clause: Clause, text: str) -> list[Hit]:
        found = []
        for spec in self.catalog.values():
            for pattern in spec.compiled:
                m = spec.search(pattern, text, clause.start, clause.end)
                if m is None:
                    continue
                hit = Hit(spec.id, 1.0, "wording", m.group(0).strip(), (m.start(), m.end()))
                if spec.negatable and is_negated(clause, m.start(), m.end(), text):
                    hit = self._negate(spec, hit, clause)
                if hit is not None:
                    found.append(hit)
                break
        return found

    def _meaning(self, clauses: list[Clause], vectors: np.ndarray, worded: set[str]
                 ) -> list[Hit]:
        """Nearest-prototype matching: each clause votes for the one signal it is closest to,
        if that is close enough and clearly closer than any other signal."""
        sims = np.asarray(vectors, dtype=np.float32) @ self._proto_vecs.T  # (clauses, prototypes)
        owners = list(dict.fromkeys(self._proto_owner))
        columns = {o: [i for i, p in enumerate(self._proto_owner) if p == o] for o in owners}
        found = []
        for ci, clause in enumerate(clauses):
            best = sorted(((float(sims[ci, cols].max()), o) for o, cols in columns.items()),
                          reverse=True)
            (sim, signal), runner_up = best[0], best[1][0] if len(best) > 1 else 0.0
            if sim < self.threshold or sim - runner_up < MEANING_MARGIN or signal in worded:
                continue
            cols = columns[signal]
            proto = self._proto_text[cols[int(np.argmax(sims[ci, cols]))]]
            strength = round(0.5 + 0.5 * min(1.0, (sim - self.threshold) / 0.15), 3)
            hit = Hit(signal, strength, "meaning", clause.text, (clause.start, clause.end),
                      similarity=round(sim, 3), prototype=proto)
            spec = self.catalog[signal]
            if spec.negatable and _NEGATION.search(clause.text):
                hit = self._negate(spec, hit, clause)
            if hit is not None:
                found.append(hit)
        return found

    def _negate(self, spec: SignalSpec, hit: Hit, clause: Clause) -> Hit | None:
        if spec.negated_as is None:
            return None
        return Hit(spec.negated_as, hit.strength, hit.method, clause.text,
                   (clause.start, clause.end), negated_from=spec.id,
                   similarity=hit.similarity, prototype=hit.prototype)


def _prototype_vectors(embedder: Embedder, texts: list[str], cache: Path | None) -> np.ndarray:
    """The prototypes' vectors, from ``cache`` when an earlier run stored them for this embedder
    and these exact sentences (a cold ``graft advise`` then embeds only its own clauses)."""
    if cache is None:
        return np.asarray(embedder.embed(texts), dtype=np.float32)
    key = hashlib.sha256("\n".join([embedder.name, str(embedder.dim), *texts]).encode())
    path = cache / f"prototypes-{key.hexdigest()[:24]}.npy"
    try:
        vectors = np.load(path, allow_pickle=False)
        if vectors.shape == (len(texts), embedder.dim) and vectors.dtype == np.float32:
            return vectors
    except (OSError, ValueError):
        pass  # absent or damaged: embed again and rewrite it
    vectors = np.asarray(embedder.embed(texts), dtype=np.float32)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with staging.open("wb") as fh:
            np.save(fh, vectors, allow_pickle=False)
        os.replace(staging, path)
    except OSError:
        pass  # a read-only home only costs the next run the embedding
    return vectors


def _strongest(hits: list[Hit]) -> list[Hit]:
    best: dict[str, Hit] = {}
    for hit in hits:
        if hit.signal not in best or hit.strength > best[hit.signal].strength:
            best[hit.signal] = hit
    return list(best.values())


def examples_from(quantities: Sequence[Quantity]) -> Quantity | None:
    """The largest count of labelled examples mentioned (rates and documents excluded)."""
    counted = [q for q in quantities if q.what == "examples" and not (q.unlabelled or q.dismissed)]
    return max(counted, key=lambda q: q.value) if counted else None


def corpus_from(quantities: Sequence[Quantity]) -> Quantity | None:
    """The largest corpus mentioned, by approximate token count."""
    counted = [q for q in quantities if q.what == "corpus" and not q.dismissed]
    return max(counted, key=corpus_tokens) if counted else None
