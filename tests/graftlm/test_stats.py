"""Bootstrap intervals, plain and paired."""

import math
import random

import pytest

from graftlm.core.stats import bootstrap_ci, paired_difference_ci


def test_bootstrap_interval_of_a_constant_is_that_constant():
    assert bootstrap_ci([0.7] * 50) == pytest.approx((0.7, 0.7))


def test_bootstrap_interval_matches_the_normal_approximation():
    rng = random.Random(3)
    values = [float(rng.random() < 0.5) for _ in range(400)]
    mean = sum(values) / len(values)
    half = 1.96 * math.sqrt(mean * (1 - mean) / len(values))
    low, high = bootstrap_ci(values, resamples=4000)
    assert low == pytest.approx(mean - half, abs=0.012)
    assert high == pytest.approx(mean + half, abs=0.012)
    assert bootstrap_ci(values) == bootstrap_ci(values)  # seeded: the same every time


def test_paired_interval_sees_a_consistent_small_gain_that_unpaired_ones_miss():
    rng = random.Random(5)
    base = [rng.random() for _ in range(200)]
    better = [b + 0.02 for b in base]
    assert paired_difference_ci(better, base)[0] > 0.0199
    low_b, high_b = bootstrap_ci(base)
    assert bootstrap_ci(better)[0] < high_b  # the unpaired intervals overlap
    assert paired_difference_ci(base, base) == (0.0, 0.0)
    with pytest.raises(ValueError):
        paired_difference_ci([1.0], [1.0, 0.0])


def test_probability_best_follows_the_scores_and_sums_to_one():
    from graftlm.core.stats import probability_best

    p = probability_best({"a": [1.0] * 30 + [0.0] * 10, "b": [1.0] * 10 + [0.0] * 30,
                          "c": [1.0] * 28 + [0.0] * 12})
    assert p["a"] > p["c"] > p["b"] and abs(sum(p.values()) - 1) < 1e-3
    same = probability_best({"a": [1.0, 0.0] * 10, "b": [1.0, 0.0] * 10})
    assert same == {"a": 0.5, "b": 0.5}


def test_examples_to_separate_grows_as_the_difference_shrinks():
    from graftlm.core.stats import examples_to_separate

    def pair(k_a, k_b):  # right on different examples: a noisy paired difference
        return [1.0] * k_a + [0.0] * (40 - k_a), [0.0] * (40 - k_b) + [1.0] * k_b

    wide, narrow = examples_to_separate(*pair(24, 16)), examples_to_separate(*pair(21, 19))
    assert narrow > wide > 40
    assert examples_to_separate(*pair(20, 20)) is None
