"""Scoring answers: which metric a target set gets, and token F1."""

import pytest

from tuning.metrics import classify_target, token_f1


def test_metric_choice_and_f1():
    assert classify_target(["PlayMusic", "GetWeather"]) == "exact_match"
    assert classify_target(["a much longer answer with many words"] * 3) == "overlap"
    assert token_f1("the cat sat", "the cat sat") == 1.0
    assert token_f1("cat", "the cat sat") == pytest.approx(0.5)
    assert token_f1("dog", "the cat") == 0.0
