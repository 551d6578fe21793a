"""The verdict: a clear winner, and ties broken by the description only when parts help."""

from advisor.verdict import decide
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
