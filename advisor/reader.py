"""A learned reading of a whole description, one term of the score sum.

The signal table reads what a description *states*, clause by clause. Each new set of
independently written descriptions still brought phrasings no pattern or prototype had seen, at
about the same rate (first-run top-1 near 85%). This module adds the other kind of evidence: a
multinomial logistic regression over the description's sentence embedding (the whole text, and the
mean and maximum of its clauses' embeddings), trained on the labelled task descriptions in
``benchmarks/advisor_cases_*.jsonl``. Its log-probabilities join the sum as one term, ``WEIGHT``
times ``log(6 p)``, so a strategy the reader finds likelier than chance gains and one it finds
unlikely loses; the signals stay the explanation, the reader a tie-breaker with a voice.

The weight and the regularisation were chosen by replay: each of six held-out sets scored by the
advisor's code as it was when the set arrived, plus a reader fitted only on the sets that existed
then (``benchmarks/fit_advisor_reader.py`` documents the fit; issue #11 the replay).

The fitted weights ship beside this module (``reader.npz``, about 30 kB) and only fit the embedder
they were fitted with: another embedder, or none, leaves the reader out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from graftlm.advisor.signals import split_clauses
from graftlm.core.embedder import Embedder

READER_FILE = Path(__file__).with_name("reader.npz")
WEIGHT = 2.0  # the reader's term is WEIGHT * log(6 p); chosen by replay, see the module docstring
REGULARISATION = 3.0  # C of the fit: the inverse strength of the L2 penalty on the weights
# The softmax temperature of a score sum that includes the reader's term: in the replay it had
# the lowest log-loss (0.299, against 0.313 at 1.0), and its mean confidence (88%) matched the
# top-1 (90%); at 1.0 a sum with the reader is overconfident.
TEMPERATURE = 1.5


def features(vectors: np.ndarray) -> np.ndarray:
    """The reader's input: the whole description's unit vector (row 0), then the mean and the
    element-wise maximum of its clauses' vectors (rows 1…; the whole again when it has none)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    clauses = vectors[1:] if len(vectors) > 1 else vectors[:1]
    return np.concatenate([vectors[0], clauses.mean(axis=0), clauses.max(axis=0)])


def description_vectors(embedder: Embedder, text: str) -> np.ndarray:
    """The whole description's vector, then one per clause (:func:`split_clauses`).

    Two batches, not one: in one, every short clause would be padded to the whole text's length
    (about 4x the work of a warm ``graft advise``)."""
    clauses = [c.text for c in split_clauses(text)]
    whole = embedder.embed([text])
    return np.vstack([whole, embedder.embed(clauses)]) if clauses else whole


@dataclass(frozen=True)
class Reader:
    """A fitted reader: one weight row and one bias per strategy.

    Attributes:
        strategies: the labels, in the order of the rows.
        weights: ``(len(strategies), features)``.
        bias: ``(len(strategies),)``.
        embedder: the name of the embedder whose vectors it reads.
        cases: how many labelled descriptions it was fitted on.
    """

    strategies: tuple[str, ...]
    weights: np.ndarray
    bias: np.ndarray
    embedder: str
    cases: int

    def fits(self, embedder: Embedder | None) -> bool:
        """Whether this reader can read ``embedder``'s vectors."""
        return (embedder is not None and getattr(embedder, "name", None) == self.embedder
                and 3 * int(embedder.dim) == self.weights.shape[1])

    def probabilities(self, x: np.ndarray) -> dict[str, float]:
        """The reader's probability of each strategy for one row of :func:`features`."""
        logits = self.weights @ x + self.bias
        logits = logits - logits.max()
        p = np.exp(logits) / np.exp(logits).sum()
        return {s: float(v) for s, v in zip(self.strategies, p, strict=True)}

    def effects(self, probabilities: dict[str, float]) -> dict[str, float]:
        """The term the reader adds to the score sum: ``WEIGHT * log(k p)`` for k strategies,
        positive where it finds a strategy likelier than chance."""
        k = len(self.strategies)
        return {s: round(WEIGHT * math.log(max(p, 1e-12) * k), 3)
                for s, p in probabilities.items()}

    def save(self, path: Path, meta: dict) -> None:
        """Write the reader, with ``meta`` (what it was fitted on) as JSON inside."""
        with path.open("wb") as fh:
            np.savez_compressed(
                fh, strategies=np.array(self.strategies), weights=self.weights.astype(np.float32),
                bias=self.bias.astype(np.float32), embedder=np.array(self.embedder),
                cases=np.array(self.cases), meta=np.array(json.dumps(meta, sort_keys=True)))

    @classmethod
    def load(cls, path: Path = READER_FILE) -> Reader:
        with np.load(path, allow_pickle=False) as data:
            return cls(tuple(str(s) for s in data["strategies"]), data["weights"], data["bias"],
                       str(data["embedder"]), int(data["cases"]))


def fit(x: np.ndarray, labels: Sequence[str], strategies: Sequence[str], embedder: str, *,
        regularisation: float = REGULARISATION, weights: Sequence[float] | None = None) -> Reader:
    """Fit the reader: multinomial logistic regression, L2 on the weights (not the bias),
    minimising ``0.5 |W|² + C · Σ cross-entropy`` to convergence with L-BFGS.

    Args:
        x: one feature row per description (:func:`features`).
        labels: the expected strategy of each row.
        strategies: every label, in the order the reader reports them.
        embedder: the name of the embedder the features came from.
        regularisation: ``C``; larger fits the cases more closely.
        weights: how much each row counts in the loss (default: 1 each).
    """
    import torch

    index = {s: i for i, s in enumerate(strategies)}
    xs = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    ys = torch.as_tensor([index[label] for label in labels])
    ws = torch.as_tensor(np.ones(len(labels)) if weights is None else np.asarray(weights),
                         dtype=torch.float64)
    w = torch.zeros(len(strategies), xs.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(len(strategies), dtype=torch.float64, requires_grad=True)
    optimiser = torch.optim.LBFGS([w, b], max_iter=2000, tolerance_grad=1e-9,
                                  tolerance_change=1e-12, history_size=20,
                                  line_search_fn="strong_wolfe")

    def objective():
        optimiser.zero_grad()
        loss = 0.5 * (w * w).sum() + regularisation * (ws * torch.nn.functional.cross_entropy(
            xs @ w.T + b, ys, reduction="none")).sum()
        loss.backward()
        return loss

    optimiser.step(objective)
    return Reader(tuple(strategies), w.detach().numpy().astype(np.float32),
                  b.detach().numpy().astype(np.float32), embedder, len(labels))


def load_reader(embedder: Embedder | None, path: Path = READER_FILE) -> Reader | None:
    """The shipped reader if it fits ``embedder``; ``None`` otherwise (no embedder, another
    embedder, or no fitted file)."""
    if embedder is None or not path.exists():
        return None
    reader = Reader.load(path)
    return reader if reader.fits(embedder) else None
