"""Statistics of measured scores: bootstrap confidence intervals, plain and paired.

Every score graftlm reports from a held-out set carries a percentile-bootstrap 95% interval;
two arms (or two evaluation runs) scored on the same examples are compared by the interval of
their per-example differences, which sees consistent small gains that unpaired intervals miss.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def bootstrap_ci(values: Sequence[float], *, resamples: int = 2000, level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``."""
    data = np.asarray(values, dtype=np.float64)
    if data.size == 0:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    means = data[rng.integers(0, data.size, size=(resamples, data.size))].mean(axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(means, [tail, 100 - tail])
    return float(low), float(high)


def paired_difference_ci(a: Sequence[float], b: Sequence[float], **kwargs) -> tuple[float, float]:
    """Bootstrap interval of mean(a - b) over the same examples (a paired comparison)."""
    if len(a) != len(b):
        raise ValueError("paired scores need the same examples")
    return bootstrap_ci([x - y for x, y in zip(a, b)], **kwargs)


def probability_best(scores: dict[str, Sequence[float]], *, resamples: int = 2000,
                     seed: int = 0) -> dict[str, float]:
    """For each arm, the share of paired bootstrap resamples of the examples in which it has the
    highest mean (a tie shares the resample equally). All arms must be scored on the same
    examples, in the same order."""
    names = list(scores)
    if not names:
        return {}
    table = np.asarray([scores[n] for n in names], dtype=np.float64)  # (arms, examples)
    if table.shape[1] == 0:
        return {n: 1 / len(names) for n in names}
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, table.shape[1], size=(resamples, table.shape[1]))
    means = table[:, picks].mean(axis=2)  # (arms, resamples)
    top = means >= means.max(axis=0, keepdims=True) - 1e-12
    share = (top / top.sum(axis=0, keepdims=True)).mean(axis=1)
    return {n: round(float(v), 4) for n, v in zip(names, share, strict=True)}


def examples_to_separate(a: Sequence[float], b: Sequence[float], z: float = 1.96) -> int | None:
    """About how many examples in all a paired comparison of ``a`` and ``b`` would need for its
    95% interval to exclude zero, if the mean difference and its spread stayed as observed
    (``n ≥ (z·sd / mean)²``); ``None`` when the two do not differ on average at all."""
    diffs = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mean = float(diffs.mean()) if diffs.size else 0.0
    if diffs.size < 2 or abs(mean) < 1e-9:
        return None
    sd = float(diffs.std(ddof=1))
    return max(diffs.size, math.ceil((z * sd / abs(mean)) ** 2))


def rounded(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else round(value, 4)
