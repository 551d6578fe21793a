"""The questions whose answers would change the advice, for descriptions that leave them open.

People describe a task in the words of what they tried or what they ask ("can fine-tuning teach
it our API?"), and often leave out the facts that decide between the top strategies: are there
labelled examples, do the facts change, must answers cite, is the output a fixed format? An
expert asks before guessing (docs/framework.md). For each such fact that neither the description, the
user's files nor a flag settled, this module scores the description again under every answer —
a :class:`~advisor.advise.Reading` is re-scored, not re-read, so a question costs microseconds —
and keeps the questions one of whose answers changes the recommendation, the most decisive first
(how far apart its answers put the strategies' probabilities).

The answers are the very facts the command-line flags set, and each answer names its flag, so a
question answered once can be answered on the command line next time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from graftlm.advisor.catalog import KNOWLEDGE_GAP, SIGNALS
from graftlm.advisor.schema import AnswerEffect, Question

if TYPE_CHECKING:
    from collections.abc import Sequence

    from graftlm.advisor.scoring import Facts, Scored
    from graftlm.advisor.signals import Hit

MAX_QUESTIONS = 3
# Advice this sure of its top strategy asks nothing: no single fact is likely to overturn it.
CONFIDENT = 0.8


@dataclass(frozen=True)
class Choice:
    """One answer to a question: its words, the facts it sets, and the flag that says it."""

    label: str
    facts: dict
    flag: str


@dataclass(frozen=True)
class Ask:
    """A question about one fact, with the slots of the signal table it settles."""

    id: str
    text: str
    slots: frozenset[str]
    choices: tuple[Choice, ...]
    about_knowledge: bool = False  # asked only once the task is known to need outside facts


ASKS: tuple[Ask, ...] = (
    Ask("examples", "How many labelled examples (an input and the answer you want) do you have?",
        frozenset({"examples"}), (
            Choice("none yet", {"examples": 0}, "--examples-count 0"),
            Choice("a handful (up to 20)", {"examples": 10}, "--examples-count 10"),
            Choice("hundreds to a few thousand", {"examples": 500}, "--examples-count 500"),
            Choice("tens of thousands or more", {"examples": 20_000},
                   "--examples-count 20000"),
        )),
    Ask("documents", "Does the model need facts from documents you hold (manuals, wiki, "
        "tickets, a database)?", frozenset({"documents"}), (
            Choice("yes, documents hold them", {"documents": True}, "--has-docs"),
            Choice("no, the input carries all it needs", {"documents": False}, "--no-docs"),
        )),
    Ask("docs_change", "How often do those facts change?", frozenset({"freshness"}), (
        Choice("rarely or never", {"docs_change": "rarely"}, "--docs-change rarely"),
        Choice("about monthly", {"docs_change": "monthly"}, "--docs-change monthly"),
        Choice("weekly or more often", {"docs_change": "daily"}, "--docs-change daily"),
    ), about_knowledge=True),
    Ask("output_format", "Must the answer follow a fixed format (JSON, fields, labels of your "
        "own), or is free text fine?", frozenset({"format"}), (
            Choice("a fixed format", {"output_format": True}, "--fixed-format"),
            Choice("free text is fine", {"output_format": False}, "--free-form"),
        )),
    Ask("citations", "Must answers cite the source they came from?", frozenset({"citations"}), (
        Choice("yes", {"citations": True}, "--citations"),
        Choice("no", {"citations": False}, "--no-citations"),
    ), about_knowledge=True),
)
ASK = {ask.id: ask for ask in ASKS}


def open_questions(reading, facts: Facts, found: Sequence[Hit], scored: Scored,
                   limit: int = MAX_QUESTIONS) -> list[Question]:
    """The questions, at most ``limit``, whose answers would change the recommendation.

    Args:
        reading: the description as read (:class:`advisor.advise.Reading`).
        facts: the facts stated by flags (or earlier answers): their questions are not asked.
        found: signals read from the user's files: their slots are settled too.
        scored: the scores under ``facts``, whose top strategy the answers are weighed against.
    """
    top = scored.ranking[0]
    if scored.probabilities[top] >= CONFIDENT:
        return []
    settled = {SIGNALS[h.signal].slot for h in scored.hits} | {
        SIGNALS[h.signal].slot for h in found}
    knowledge = any(h.signal in KNOWLEDGE_GAP for h in scored.hits)
    candidates = []
    for ask in ASKS:
        if ask.slots & settled or any(getattr(facts, k) is not None
                                      for c in ask.choices for k in c.facts):
            continue
        if ask.about_knowledge and not knowledge:
            continue
        outcomes = [reading.score(replace(facts, **c.facts), found) for c in ask.choices]
        if all(o.ranking[0] == top for o in outcomes):
            continue
        spread = max(_distance(a.probabilities, b.probabilities)
                     for a in outcomes for b in outcomes)
        effects = [AnswerEffect(answer=c.label, flag=c.flag, recommendation=o.ranking[0],
                                probability=o.probabilities[o.ranking[0]])
                   for c, o in zip(ask.choices, outcomes, strict=True)]
        candidates.append((spread, Question(id=ask.id, text=ask.text, answers=effects)))
    candidates.sort(key=lambda c: -c[0])  # stable: the table's order breaks ties
    return [q for _, q in candidates[:limit]]


def answered(facts: Facts, answers: dict[str, int]) -> Facts:
    """``facts`` with the chosen answer (an index into the question's choices) of each question."""
    for question_id, index in answers.items():
        facts = replace(facts, **ASK[question_id].choices[index].facts)
    return facts


def _distance(p: dict[str, float], q: dict[str, float]) -> float:
    """Total variation distance between two probability tables."""
    return 0.5 * sum(abs(p[s] - q[s]) for s in p)
