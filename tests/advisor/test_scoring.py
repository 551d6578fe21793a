import math

import pytest

from graftlm.advisor.catalog import CATALOG, SIGNALS
from graftlm.advisor.quantities import find_quantities
from graftlm.advisor.scoring import (STRATEGIES, Facts, examples_signal, score_hits, softmax, totals)
from graftlm.advisor.signals import Hit, SignalDetector


def scored(text, facts=None):
    hits, quantities = SignalDetector(CATALOG).detect(text)
    return score_hits(hits, quantities, facts or Facts())


@pytest.mark.parametrize("n, signal", [
    (0, "no_examples"), (5, "few_examples"), (20, "few_examples"), (30, "some_examples"),
    (50, "enough_examples"), (9_999, "enough_examples"), (10_000, "many_examples"),
    (300_000, "massive_examples"),
])
def test_example_thresholds(n, signal):
    assert examples_signal(n) == signal


def test_every_signal_moves_only_known_strategies():
    for spec in CATALOG:
        assert set(spec.effects) <= set(STRATEGIES), spec.id


def test_totals_are_the_sum_of_the_terms():
    result = scored("Route tickets into our 40 queues; we have 12k labelled tickets.")
    assert totals(result.contributions) == result.scores
    by_hand = {s: sum(c.effects.get(s, 0) for c in result.contributions) for s in STRATEGIES}
    assert all(math.isclose(by_hand[s], result.scores[s], abs_tol=1e-6) for s in STRATEGIES)


def test_softmax_is_a_distribution_and_keeps_order():
    probs = softmax({"a": 2.0, "b": 1.0, "c": -1.0})
    assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-3)
    assert probs["a"] > probs["b"] > probs["c"]


def test_a_stated_count_overrides_vague_wording():
    result = scored("There's no training set, but I can give a couple of examples per band.")
    ids = {h.signal for h in result.hits}
    assert "few_examples" in ids and "no_examples" not in ids


def test_flag_overrides_text_on_its_slot():
    text = "Tag tickets with our 12 categories. We have 5 examples."
    assert scored(text).ranking[0] == "few_shot"
    result = scored(text, Facts(examples=4000))
    assert result.ranking[0] == "lora"
    assert [h.evidence for h in result.overridden] == ["5 examples"]
    assert any(h.method == "flag" and h.signal == "enough_examples" for h in result.hits)


def test_docs_change_flag_turns_rag_on():
    text = "Answer customer questions about our products."
    before = scored(text)
    after = scored(text, Facts(docs_change="daily", citations=True))
    assert after.scores["rag"] > before.scores["rag"]
    assert after.ranking[0] == "rag"


def test_hybrid_rule_needs_both_gaps():
    both = scored("Answer from our product manuals, in our brand voice. 2,000 past replies.")
    assert any(c.source == "gaps_add_up" for c in both.contributions)
    assert both.ranking[0] == "hybrid"
    skill_only = scored("Write replies in our brand voice. 2,000 past replies.")
    assert not any(c.source == "gaps_add_up" for c in skill_only.contributions)


def test_opposite_readings_of_a_slot_do_not_both_count():
    result = score_hits([Hit("fresh_knowledge", 0.6, "meaning", "x"),
                         Hit("static_knowledge", 1.0, "wording", "never changes")],
                        find_quantities(""), Facts())
    assert [h.signal for h in result.hits] == ["static_knowledge"]


def test_no_signal_means_prompting_first():
    result = score_hits([], [], Facts())
    assert result.ranking[0] == "prompting"
    assert SIGNALS  # the catalog loaded


def test_a_new_input_with_the_data_to_learn_it_means_full_fine_tuning():
    text = ("Read raw EEG recordings and flag seizures; we have 300,000 annotated recordings.")
    result = scored(text)
    rules = {c.source for c in result.contributions if c.kind == "rule"}
    assert "new_input_with_data" in rules
    assert result.ranking[0] == "full_ft"
    small = scored("Read raw EEG recordings and flag seizures; we have 300 annotated recordings.")
    assert "new_input_with_data" not in {c.source for c in small.contributions}


def test_questions_alone_are_half_a_knowledge_gap():
    text = "Analysts ask questions and we want SQL for them; 5,000 corrected question/SQL pairs."
    result = scored(text)
    hybrid = [c for c in result.contributions if c.source == "gaps_add_up"]
    assert hybrid and hybrid[0].effects["hybrid"] == 1.25
    assert result.ranking[0] == "lora"


def test_an_unlabelled_pretraining_corpus_still_means_full_fine_tuning():
    result = scored("We have 3 TB of raw PLC telemetry and want a model that reads that notation "
                    "natively. No labels at all.")
    assert result.ranking[0] == "full_ft"


def test_retrieval_the_model_misreads_with_examples_means_the_hybrid():
    result = scored("Our RAG finds the right manual page, but the model ignores it. We have 3,000 "
                    "question/answer/page triples.")
    assert "train_to_read" in {c.source for c in result.contributions}
    assert result.ranking[0] == "hybrid"
