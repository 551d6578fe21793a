"""Scoring answers: SQuAD normalisation, EM / F1 / contains over several references, ROUGE-L,
and which kind of task a set of targets is."""

import pytest

from graftlm.tuning.metrics import (Scorer, contains, exact_match, label_set, rouge_l, squad_normalize,
                            task_kind, token_f1)


def test_squad_normalisation_drops_case_punctuation_articles_and_spaces():
    assert squad_normalize("  The Eiffel   Tower!  ") == "eiffel tower"
    assert squad_normalize("A two-year warranty.") == "twoyear warranty"


def test_exact_match_takes_the_best_reference():
    assert exact_match("the Main Building.", ["a copper statue", "Main Building"]) == 1.0
    assert exact_match("Main Building", "copper statue") == 0.0


def test_token_f1_by_hand():
    # prediction "copper statue of christ" vs "statue of christ": common 3, P 3/4, R 3/3.
    assert token_f1("a copper statue of Christ", "statue of Christ") == pytest.approx(6 / 7)
    assert token_f1("cat", "the cat sat") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert token_f1("dog", "the cat") == 0.0
    # the best of several references counts
    assert token_f1("two years", ["three years", "two years"]) == 1.0


def test_contains_finds_a_reference_inside_a_verbose_answer():
    answer = "The warranty lasts two years from the date of purchase."
    assert contains(answer, ["2 years", "two years"]) == 1.0
    assert contains(answer, "ten years") == 0.0
    assert contains("twofold", "two") == 0.0  # whole words only


def test_rouge_l_by_hand():
    # LCS of "the cat sat on the mat" / "the cat was on the mat" is 5 tokens of 6 each.
    assert rouge_l("the cat was on the mat", "the cat sat on the mat") == pytest.approx(5 / 6)
    assert rouge_l("x", ["nothing shared", "x"]) == 1.0


def test_task_kinds_from_targets():
    assert label_set(["yes", "no", "maybe", "yes", "no", "yes"]) == ("maybe", "no", "yes")
    assert task_kind(["PlayMusic", "GetWeather"] * 5) == "label"
    assert task_kind([f"answer number {i}" for i in range(20)]) == "short"  # all distinct
    assert task_kind(["a much longer answer with many more words"] * 3) == "long"
    assert label_set([]) == ()


def test_a_label_scorer_uses_the_choice_and_keeps_generated_exact_match():
    scorer = Scorer.for_targets(["yes", "no"] * 4)
    assert scorer.kind == "label" and scorer.primary == "choice_accuracy"
    scores = scorer.score("Yes, the study shows it.", ["yes"], choice="yes")
    assert scores == {"choice_accuracy": 1.0, "exact_match": 0.0}
    assert scorer.score("no", ["yes"], choice=None)["choice_accuracy"] == 0.0


def test_short_and_long_scorers_report_their_metrics():
    short = Scorer("short")
    assert short.score("It lasts two years.", ["two years"]) == {
        "f1": pytest.approx(2 * (2 / 4) * 1 / 1.5), "exact_match": 0.0, "contains": 1.0}
    assert Scorer("long").metrics == ("f1", "rouge_l")
