"""The verdict: a clear winner, and ties broken by the description only when parts help."""

from graftlm.advisor.verdict import decide
from tests.advisor.conftest import arm_result, measurement_of, static_advice


def test_a_clear_winner_is_recommended():
    scores = {"zero_shot": [0.0] * 30, "lora": [1.0] * 27 + [0.0] * 3}
    arms = [arm_result("zero_shot", "prompting", 0.0), arm_result("lora", "lora", 0.9)]
    order = ["prompting", "few_shot", "rag", "hybrid", "full_ft", "lora"]
    measurement, strategy = decide(measurement_of(arms), static_advice(order), scores, has_docs=False)
    assert strategy == "lora" and measurement.best == "lora" and not measurement.tied
    assert any("--docs" in line for line in measurement.would_change)


def test_a_tie_goes_to_the_static_favourite_only_if_its_parts_measurably_help():
    lora = [1.0] * 20 + [0.0] * 10
    hybrid = [1.0] * 19 + [0.0] * 11  # ties with LoRA
    useful_rag = [1.0] * 12 + [0.0] * 18  # clearly above zero-shot
    scores = {"zero_shot": [0.0] * 30, "rag": useful_rag, "lora": lora, "rag_lora": hybrid}
    arms = [arm_result("zero_shot", "prompting", 0.0), arm_result("rag", "rag", 0.4),
            arm_result("lora", "lora", 20 / 30), arm_result("rag_lora", "hybrid", 19 / 30)]
    static = static_advice(["hybrid", "lora", "rag", "few_shot", "prompting", "full_ft"])
    measurement, strategy = decide(measurement_of(arms), static, scores, has_docs=True)
    assert measurement.best == "lora" and "rag_lora" in measurement.tied
    assert strategy == "hybrid"  # retrieval helped, and the description favours the hybrid
    scores["rag"] = [0.0] * 30  # now retrieval never helped: the simpler arm wins the tie
    arms[1] = arm_result("rag", "rag", 0.0)
    measurement, strategy = decide(measurement_of(arms), static, scores, has_docs=True)
    assert strategy == "lora"
    assert "retrieval showed no measured gain" in measurement.verdict
    assert any("Retrieval did not lift" in line for line in measurement.would_change)


def test_a_tie_never_picks_an_arm_whose_examples_did_not_help():
    # PubMedQA's shape: every arm ties; few-shot scored lowest and the description ranks it
    # above zero-shot. The examples showed no gain, so the simplest arm is recommended.
    zero = [1.0] * 16 + [0.0] * 14
    few = [0.0] * 10 + [1.0] * 12 + [0.0] * 8  # other questions right, not a subset
    hybrid = [1.0] * 17 + [0.0] * 13
    scores = {"zero_shot": zero, "few_shot": few, "rag": zero, "lora": zero, "rag_lora": hybrid}
    arms = [arm_result("zero_shot", "prompting", 16 / 30), arm_result("few_shot", "few_shot", 0.4),
            arm_result("rag", "rag", 16 / 30), arm_result("lora", "lora", 16 / 30),
            arm_result("rag_lora", "hybrid", 17 / 30)]
    static = static_advice(["rag", "hybrid", "lora", "few_shot", "prompting", "full_ft"])
    measurement, strategy = decide(measurement_of(arms), static, scores, has_docs=True)
    assert measurement.best == "rag_lora" and strategy == "prompting"
    assert "but zero_shot (53.3) ties" in measurement.verdict


def test_a_best_arm_at_the_majority_label_floor_is_flagged():
    scores = {"zero_shot": [0.0] * 30, "lora": [1.0] * 17 + [0.0] * 13}
    arms = [arm_result("zero_shot", "prompting", 0.0), arm_result("lora", "lora", 17 / 30)]
    order = ["lora", "prompting", "few_shot", "rag", "hybrid", "full_ft"]
    floored = measurement_of(arms).model_copy(update={"majority_label": "yes",
                                                      "majority_score": 0.56})
    measurement, _ = decide(floored, static_advice(order), scores, has_docs=False)
    assert any("always answering “yes” (56.0)" in line.lower() for line in measurement.would_change)
    measurement, _ = decide(measurement_of(arms), static_advice(order), scores, has_docs=False)
    assert not any("always answering" in line.lower() for line in measurement.would_change)


def test_a_hybrid_best_by_more_than_the_margin_leads_even_when_tied_and_retrieval_alone_idle():
    # The knowledge task's shape: the retrieval-aware adapter ~15 points above LoRA alone, the
    # two within the paired interval on few examples, retrieval alone barely moving the model.
    rng = __import__("random").Random(3)
    lora = [float(rng.random() < 0.35) for _ in range(45)]
    hybrid = [1.0 if x or rng.random() < 0.25 else 0.0 for x in lora]
    hybrid = [h if i % 9 else 0.0 for i, h in enumerate(hybrid)]  # noisy: some it loses
    zero = [0.0] * 45
    scores = {"zero_shot": zero, "rag": zero[:44] + [1.0], "lora": lora, "rag_lora": hybrid}
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    arms = [arm_result(a, s, mean(scores[a])) for a, s in
            (("zero_shot", "prompting"), ("rag", "rag"), ("lora", "lora"), ("rag_lora", "hybrid"))]
    assert mean(hybrid) - mean(lora) > 0.05
    static = static_advice(["rag", "hybrid", "lora", "prompting", "few_shot", "full_ft"])
    measurement, strategy = decide(measurement_of(arms), static, scores, has_docs=True)
    assert measurement.best == "rag_lora" and strategy == "hybrid"
    assert measurement.headline.startswith("rag_lora")
    assert measurement.probabilities["rag_lora"] > measurement.probabilities["lora"]
    assert abs(sum(measurement.probabilities.values()) - 1) < 1e-3


def test_every_arm_under_the_majority_label_means_no_arm_works_yet():
    # PubMedQA on this model: every arm 39-53, always "yes" 56.
    scores = {a: [1.0] * k + [0.0] * (36 - k) for a, k in
              (("zero_shot", 14), ("few_shot", 16), ("rag", 17), ("lora", 19), ("rag_lora", 18))}
    arms = [arm_result(a, s, sum(scores[a]) / 36) for a, s in
            (("zero_shot", "prompting"), ("few_shot", "few_shot"), ("rag", "rag"),
             ("lora", "lora"), ("rag_lora", "hybrid"))]
    floored = measurement_of(arms).model_copy(update={"majority_label": "yes",
                                                      "majority_score": 0.56})
    static = static_advice(["rag", "hybrid", "lora", "few_shot", "prompting", "full_ft"])
    measurement, strategy = decide(floored, static, scores, has_docs=True)
    assert not measurement.works and strategy == "rag"  # the direction the description gives
    assert measurement.headline.startswith("No arm works yet on this model")
    assert "does not beat always answering “yes” (56.0)" in measurement.headline
    assert "bigger base model" in measurement.verdict


def test_a_real_tie_inside_the_margin_is_decided_by_the_description():
    few = [1.0] * 24 + [0.0] * 16
    lora = [1.0] * 25 + [0.0] * 15  # 2.5 points above few-shot, well inside the interval
    scores = {"zero_shot": [0.0] * 40, "few_shot": few, "lora": lora}
    arms = [arm_result("zero_shot", "prompting", 0.0), arm_result("few_shot", "few_shot", 0.6),
            arm_result("lora", "lora", 0.625)]
    static = static_advice(["few_shot", "lora", "prompting", "rag", "hybrid", "full_ft"])
    measurement, strategy = decide(measurement_of(arms), static, scores, has_docs=False)
    assert measurement.best == "lora" and strategy == "few_shot"
    assert any("more held-out examples" in line or "score the same" in line
               for line in measurement.would_change)
    # the same tie with a 1-point margin: the best estimate leads
    measurement, strategy = decide(measurement_of(arms), static, scores, has_docs=False,
                                   margin=0.01)
    assert strategy == "lora"


def test_the_held_out_split_is_sized_for_the_decision():
    from graftlm.advisor.verdict import held_out_size, split_reason

    assert held_out_size(120, 100) == 60  # half of a small set
    assert held_out_size(150, 100) == 60  # 40%, for at least 60 scored
    assert held_out_size(400, 100) == 100  # 30% capped at advisor.measure_held_out
    assert held_out_size(1000, 100) == 100
    assert held_out_size(12, 100) == 6
    assert split_reason(59, 120, 100).startswith("held out 59 of 120 (49%): at least 60")
    assert split_reason(300, 1000, 300).endswith("at most 300 (advisor.measure_held_out).")


def test_the_examples_to_separate_a_tie_never_read_zero_more():
    from graftlm.advisor.verdict import separation

    assert separation("LoRA", "RAG + LoRA", 140, 60).startswith("about 80 more held-out "
                                                                "examples (140 in all)")
    edge = separation("LoRA", "RAG + LoRA", 60, 60)
    assert "0 more" not in edge and "at the edge of what 60 examples separate" in edge
    assert "score the same on average" in separation("LoRA", "RAG", None, 60)
