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


def rounded(value: float | None) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) \
        else round(value, 4)
