"""The advisor: a description (and any stated facts) in, an :class:`~advisor.schema.Advice` out.

:class:`Advisor` owns the loaded resources (the embedder and the prototype vectors) so that warm
advice costs one small embedding batch; :func:`read_description` validates user input.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from graftlm.advisor.catalog import CATALOG, SIGNALS
from graftlm.advisor.plan import caveats_for, make_plan
from graftlm.advisor.quantities import corpus_tokens
from graftlm.advisor.questions import open_questions
from graftlm.advisor.reader import Reader, description_vectors, features, load_reader
from graftlm.advisor.schema import Advice, RuleApplied, SignalFound, StrategyScore
from graftlm.advisor.scoring import STRATEGIES, TITLES, Contribution, Facts, Scored, score_hits
from graftlm.advisor.signals import Hit, SignalDetector, corpus_from, examples_from
from graftlm.core.embedder import Embedder, load_embedder
from graftlm.core.errors import InputError
from graftlm.core.models import BASE_NAME, EMBEDDED, base_model_parameters
from graftlm.core.settings import Settings
from graftlm.core.workspace import Workspace

MAX_DESCRIPTION_CHARS = 20_000


class Advisor:
    """Scores task descriptions against the skills-vs-knowledge framework.

    Args:
        embedder: sentence embedder for matching by meaning; ``None`` for wording and numbers only.
        threshold: cosine similarity from which a clause expresses a signal.
        reader: the learned reader of whole descriptions (``advisor.reader``), one more term of
            the score sum; ``None`` leaves it out. It needs ``embedder`` and must fit it.
        cache: a folder that keeps the signal prototypes' vectors between runs.
        base_name: the configured base model, for the plan's cost estimate.
        base_parameters: its parameter count, if known.
        train_tflops: sustained training throughput assumed for the cost estimate.
    """

    def __init__(self, embedder: Embedder | None = None, *, threshold: float = 0.48,
                 reader: Reader | None = None, cache: Path | None = None,
                 base_name: str = "SmolLM2-135M-Instruct", base_parameters: int | None = None,
                 train_tflops: float = 0.1):
        if reader is not None and not reader.fits(embedder):
            raise ValueError(f"the learned reader reads {reader.embedder} vectors; the advisor "
                             f"was given {getattr(embedder, 'name', None)!r}")
        self.detector = SignalDetector(CATALOG, embedder, threshold, cache)
        self.embedder = embedder
        self.reader = reader
        self.semantic = embedder is not None
        self.base_name = base_name
        self.base_parameters = base_parameters
        self.train_tflops = train_tflops

    @classmethod
    def from_settings(cls, settings: Settings, workspace: Workspace) -> Advisor:
        """The advisor the settings describe: the embedder when ``advisor.semantic`` is on, and
        the configured base model's name and size for the cost estimate."""
        embedder = reader = None
        if settings.advisor.semantic:
            # float32 vectors whatever the index backend: the reader was fitted on them
            models = settings.models.model_copy(update={"embedder_backend": "torch"})
            embedder = load_embedder(models, light=settings.advisor.light_embedder)
            reader = load_reader(embedder) if settings.advisor.learned else None
        base = BASE_NAME if settings.models.base == EMBEDDED else settings.models.base
        return cls(embedder, threshold=settings.advisor.semantic_threshold, reader=reader,
                   cache=workspace.home / "cache", base_name=base,
                   base_parameters=base_model_parameters(settings.models, workspace),
                   train_tflops=settings.advisor.train_tflops)

    def read(self, description: str) -> Reading:
        """What the description says, once: its signals, its numbers and the reader's term.
        Scoring a :class:`Reading` under other facts (the questions' answers) reads nothing
        again."""
        description = validate_description(description)
        clause_vectors, learned = None, None
        if self.reader is not None:  # the clauses' vectors serve the reader and the detector
            vectors = description_vectors(self.embedder, description)
            clause_vectors = vectors[1:]
            learned = _reading(self.reader, self.reader.probabilities(features(vectors)))
        text_hits, quantities = self.detector.detect(description, clause_vectors)
        return Reading(description, text_hits, quantities, learned)

    def advise(self, description: str, facts: Facts | None = None, *,
               recommend: str | None = None, found: Sequence[Hit] = ()) -> Advice:
        """Rank the six strategies for ``description``; ``facts`` override what the text implies.

        ``recommend`` forces the recommended strategy (measured advice decides it from
        measurements); the ranking still shows what the description alone says. ``found`` are
        signals read from the user's files (``advisor.files``); like flags, they win their slot.
        """
        return self.decide(self.read(description), facts, recommend=recommend, found=found)

    def decide(self, reading: Reading, facts: Facts | None = None, *,
               recommend: str | None = None, found: Sequence[Hit] = ()) -> Advice:
        """The advice for a description already read (:meth:`read`), under ``facts``."""
        facts = facts or Facts()
        scored = reading.score(facts, found)
        ranking = scored.ranking
        top = recommend or ranking[0]
        confidence = scored.probabilities[top]
        quantities = reading.quantities
        examples = _examples_count(scored.hits, facts, quantities)
        corpus = corpus_from(quantities)
        plan = make_plan(top, scored.hits, examples, corpus_tokens(corpus) if corpus else None,
                         self.base_name, self.base_parameters, self.train_tflops)
        effects = {c.source: c.effects for c in scored.contributions if c.kind == "signal"}
        return Advice(
            description=reading.description,
            recommendation=top,
            confidence=confidence,
            confidence_label="high" if confidence >= 0.6 else "medium" if confidence >= 0.35
            else "low",
            ranking=[StrategyScore(strategy=s, title=TITLES[s], rank=i + 1,
                                   score=scored.scores[s], probability=scored.probabilities[s])
                     for i, s in enumerate(ranking)],
            signals=[_found(h, effects.get(h.signal, {})) for h in scored.hits],
            overridden=[_found(h, {}) for h in scored.overridden],
            rules=[RuleApplied(id=c.source, note=c.note, effects=_nonzero(c.effects))
                   for c in scored.contributions if c.kind == "rule"],
            caveats=caveats_for(top, scored.hits),
            plan=plan,
            semantic=self.semantic,
            questions=[] if recommend else open_questions(reading, facts, found, scored),
        )


@dataclass(frozen=True)
class Reading:
    """A description as read: its text hits, its quantities and the learned reader's term."""

    description: str
    hits: list[Hit]
    quantities: list
    learned: Contribution | None

    def score(self, facts: Facts, found: Sequence[Hit] = ()) -> Scored:
        """The strategies' scores under ``facts`` and the signals ``found`` in files."""
        return score_hits(self.hits, self.quantities, facts, self.learned, found)


def validate_description(text: str, *, source: str = "the description") -> str:
    """Strip and bound a description; empty or oversized input raises :class:`InputError`."""
    if "\x00" in text:
        raise InputError(f"{source} contains NUL bytes; is it a binary file?")
    text = text.strip()
    if not text:
        raise InputError(f"{source} is empty; describe the task in a sentence or more, e.g. "
                         "graft advise \"Answer questions about our HR policies\".")
    if len(text) > MAX_DESCRIPTION_CHARS:
        raise InputError(
            f"{source} is {len(text):,} characters; the limit is {MAX_DESCRIPTION_CHARS:,}. "
            "Describe the task in a few paragraphs, not the data itself (pass data with "
            "--examples-count and --has-docs).")
    return text


def read_description(path: Path) -> str:
    """Read a description file as UTF-8, with a clear error for missing, huge or binary files."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputError(f"{path} does not exist.") from None
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}.") from None
    if path.is_dir():
        raise InputError(f"{path} is a directory; pass a text file with the task description.")
    if size > 4 * MAX_DESCRIPTION_CHARS:
        raise InputError(f"{path} is {size:,} bytes; a task description is limited to "
                         f"{MAX_DESCRIPTION_CHARS:,} characters.")
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path} is not UTF-8 text (invalid byte 0x{raw[exc.start]:02x} at offset "
                         f"{exc.start}); save it as UTF-8.") from None
    return validate_description(text, source=str(path))


def description_from(argument: str | None, file: Path | None,
                     stdin: IO | None = None) -> str:
    """The description a command was given: the argument, a ``file``, or standard input (when
    the argument is ``-`` or absent and stdin is not a terminal), validated."""
    stdin = stdin or sys.stdin
    if argument is not None and file is not None:
        raise InputError("give the description either as an argument or with --file, not both.")
    if file is not None:
        return read_description(file)
    if argument is not None and argument != "-":
        return validate_description(argument)
    if argument is None and stdin.isatty():
        raise InputError('describe the task: graft advise "…", --file FILE, or pipe it on stdin.')
    limit = 4 * MAX_DESCRIPTION_CHARS
    raw = getattr(stdin, "buffer", stdin).read(limit + 1)
    if isinstance(raw, str):
        raw = raw.encode()
    if len(raw) > limit:
        raise InputError(f"standard input is over {limit:,} bytes; a task description is "
                         f"limited to {MAX_DESCRIPTION_CHARS:,} characters.")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"standard input is not UTF-8 (invalid byte 0x{raw[exc.start]:02x} at "
                         f"offset {exc.start}).") from None
    return validate_description(text, source="standard input")


def _examples_count(hits: list[Hit], facts: Facts, quantities) -> int | None:
    if facts.examples is not None:
        return facts.examples
    counted = examples_from(quantities)
    if counted is not None:
        return int(counted.value)
    if any(h.signal == "no_examples" for h in hits):
        return 0
    return None


def _reading(reader: Reader, probabilities: dict[str, float]) -> Contribution:
    likeliest = sorted(probabilities, key=probabilities.get, reverse=True)[:2]
    said = ", ".join(f"{TITLES[s]} {probabilities[s]:.0%}" for s in likeliest)
    return Contribution("learned_reading", "rule", reader.effects(probabilities),
                        f"a classifier fitted on {reader.cases} labelled task descriptions "
                        f"reads the whole text as {said}")


def _found(hit: Hit, effects: dict[str, float]) -> SignalFound:
    spec = SIGNALS[hit.signal]
    return SignalFound(id=hit.signal, title=spec.title, group=spec.group, strength=hit.strength,
                       method=hit.method, evidence=hit.evidence, span=hit.span,
                       negated_from=hit.negated_from, similarity=hit.similarity,
                       prototype=hit.prototype, effects=_nonzero(effects))


def _nonzero(effects) -> dict[str, float]:
    return {s: round(v, 3) for s, v in effects.items() if s in STRATEGIES and abs(v) >= 1e-3}
