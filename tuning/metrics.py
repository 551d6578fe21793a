"""Scoring answers against references: what the evaluation of every stage counts as right.

Short targets (labels) are scored by exact match after normalising case and spaces; longer ones
by SQuAD-style token-overlap F1. Training's in-loop evaluation, ``graft eval`` and measured advice
all score here.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal


def classify_target(targets: Sequence[str]) -> Literal["exact_match", "overlap"]:
    """Short answers (labels) are scored by exact match, longer ones by token overlap."""
    if not targets:
        return "exact_match"
    words = sorted(len(t.split()) for t in targets)
    return "exact_match" if words[len(words) // 2] <= 4 else "overlap"


def normalize(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower())


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token overlap F1, the metric for free-text answers."""
    pred, ref = normalize(prediction).split(), normalize(reference).split()
    if not pred or not ref:
        return float(pred == ref)
    overlap = 0
    ref_counts: dict[str, int] = {}
    for tok in ref:
        ref_counts[tok] = ref_counts.get(tok, 0) + 1
    for tok in pred:
        if ref_counts.get(tok, 0) > 0:
            overlap += 1
            ref_counts[tok] -= 1
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def score(predictions: Sequence[str], targets: Sequence[str], metric: str | None = None
          ) -> tuple[str, float]:
    """(metric name, mean score) of predictions against targets."""
    metric = metric or classify_target(targets)
    hits = example_scores(predictions, targets, metric)
    return metric, (sum(hits) / len(hits) if hits else 0.0)


def example_scores(predictions: Sequence[str], targets: Sequence[str], metric: str
                   ) -> list[float]:
    """Each prediction's score: 1.0 or 0.0 for exact match, token F1 otherwise."""
    if metric == "exact_match":
        return [float(normalize(p) == normalize(t)) for p, t in zip(predictions, targets)]
    return [token_f1(p, t) for p, t in zip(predictions, targets)]
