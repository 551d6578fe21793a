"""Scoring answers against references: what every stage counts as right.

Three kinds of task, told apart by their targets (:meth:`Scorer.for_targets`):

- **label** — targets from a small closed set (intents, yes/no/maybe). The primary metric is
  *choice accuracy*: the label the model finds most likely after the prompt
  (:mod:`tuning.choice`, as lm-evaluation-harness scores multiple choice), so an untuned model
  that would answer in a sentence is scored on what it knows, not on its phrasing. Generated
  exact match is the second column.
- **short** — short free-text answers (SQuAD-style facts). SQuAD's normalisation (case,
  punctuation, articles, spaces), then token F1 (primary), exact match and "answer contained"
  (a reference inside a verbose answer), each the best over every reference answer.
- **long** — long free text (style, summaries): token F1 (primary) and ROUGE-L F-measure
  (Google's ``rouge-score``), best over the references.

Training's in-loop evaluation, ``graft eval`` and measured advice all score through
:class:`Scorer`, so one number means the same everywhere.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

TaskKind = Literal["label", "short", "long"]
MAX_LABELS = 50  # more distinct targets than this is not a closed set of labels
SHORT_WORDS = 5  # median reference length (words) up to which answers count as short
PRIMARY = {"label": "choice_accuracy", "short": "f1", "long": "f1"}
METRICS = {"label": ("choice_accuracy", "exact_match"),
           "short": ("f1", "exact_match", "contains"),
           "long": ("f1", "rouge_l")}
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def squad_normalize(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION))
    return " ".join(text.split())


def _refs(references: str | Sequence[str]) -> Sequence[str]:
    return [references] if isinstance(references, str) else references


def exact_match(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction equals a normalised reference."""
    mine = squad_normalize(prediction)
    return float(any(mine == squad_normalize(ref) for ref in _refs(references)))


def token_f1(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD token-overlap F1, the best over the references."""
    return max((_f1(squad_normalize(prediction).split(), squad_normalize(ref).split())
                for ref in _refs(references)), default=0.0)


def _f1(pred: list[str], ref: list[str]) -> float:
    if not pred or not ref:
        return float(pred == ref)
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def contains(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 when a normalised reference appears, as whole words, in the normalised prediction."""
    mine = f" {squad_normalize(prediction)} "
    return float(any(f" {ref} " in mine for ref in map(squad_normalize, _refs(references))
                     if ref))


def rouge_l(prediction: str, references: str | Sequence[str]) -> float:
    """ROUGE-L F-measure (longest common subsequence), the best over the references."""
    scorer = _rouge()
    return max((scorer.score(ref, prediction)["rougeL"].fmeasure for ref in _refs(references)),
               default=0.0)


@lru_cache(maxsize=1)
def _rouge():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def label_set(targets: Sequence[str]) -> tuple[str, ...]:
    """The closed set the targets come from, or ``()`` when they are not labels: at most
    :data:`MAX_LABELS` distinct short targets, most of them repeated."""
    distinct = sorted(set(targets))
    if not targets or len(distinct) > MAX_LABELS or len(distinct) > max(2, len(targets) // 2):
        return ()
    if any(len(t.split()) > SHORT_WORDS for t in distinct):
        return ()
    return tuple(distinct)


def task_kind(targets: Sequence[str]) -> TaskKind:
    """``label``, ``short`` or ``long``, from the targets alone."""
    if label_set(targets):
        return "label"
    words = sorted(len(t.split()) for t in targets) or [0]
    return "short" if words[len(words) // 2] <= SHORT_WORDS else "long"


_SCORERS = {"exact_match": exact_match, "f1": token_f1, "contains": contains,
            "rouge_l": rouge_l}


@dataclass(frozen=True)
class Scorer:
    """How one task is scored: its kind, its labels (for label tasks) and its metrics."""

    kind: TaskKind
    labels: tuple[str, ...] = ()

    @classmethod
    def for_targets(cls, targets: Sequence[str]) -> Scorer:
        kind = task_kind(targets)
        return cls(kind, label_set(targets) if kind == "label" else ())

    @property
    def primary(self) -> str:
        return PRIMARY[self.kind]

    @property
    def metrics(self) -> tuple[str, ...]:
        return METRICS[self.kind]

    def score(self, answer: str, references: Sequence[str], choice: str | None = None
              ) -> dict[str, float]:
        """Every metric of this task for one generated ``answer`` (and, for labels, the
        ``choice`` the model scored most likely)."""
        out = {}
        for name in self.metrics:
            if name == "choice_accuracy":
                out[name] = exact_match(choice, references) if choice is not None else 0.0
            else:
                out[name] = _SCORERS[name](answer, references)
        return out


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0
