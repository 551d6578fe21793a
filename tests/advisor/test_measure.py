"""Measured advice on the tiny model: every arm on the same held-out examples, skips, errors."""

import pytest

from advisor.measure import Measurer
from tests.advisor.conftest import ROWS, examples_of, write_rows
from tests.conftest import WordEmbedder


def test_every_arm_is_scored_on_the_same_held_out_examples(tmp_path, tiny_settings):
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    data = write_rows(tmp_path / "data.jsonl", ROWS * 10)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "intents.md").write_text("# Intents\n\nPlayMusic plays jazz music.\n\n"
                                     "GetWeather tells the weather in paris.\n")
    seen = []
    measurer = Measurer(tiny_settings, Workspace(tiny_settings.home), budget_s=3600,
                        docs=docs, fields=FieldMap(target="label", input="text"),
                        embedder=WordEmbedder(),
                        progress=lambda arm, status: seen.append((arm, status)))
    measurement, scores = measurer.run(data)
    assert measurement.metric == "choice_accuracy" and measurement.examples == 40
    assert measurement.labels == ["BookRestaurant", "GetWeather", "PlayMusic", "RateBook"]
    assert measurement.held_out == len(measurement.held_out_lines) == 12
    assert set(scores) == {"zero_shot", "few_shot", "rag", "lora", "rag_lora"}
    assert all(len(s) == measurement.held_out for s in scores.values())
    for arm in measurement.arms:
        assert arm.status == "measured"
        assert arm.ci_low <= arm.score <= arm.ci_high
        assert arm.score == pytest.approx(sum(scores[arm.id]) / 12, abs=1e-4)
    assert measurement.learning_curve.fraction == 0.5
    assert {arm for arm, _ in seen} == {"zero_shot", "few_shot", "rag", "lora", "rag_lora",
                                        "lora_half"}
    # Each arm's last line is its own score: the learning-curve run reports on a line of its own.
    last = dict(seen)
    lora = next(a for a in measurement.arms if a.id == "lora")
    assert last["lora"] == f"choice_accuracy {lora.score:.3f}"
    assert last["lora_half"] == (f"choice_accuracy "
                                 f"{measurement.learning_curve.score_fraction:.3f}")


def test_without_documents_the_retrieval_arms_say_why(tmp_path, tiny_settings):
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    data = write_rows(tmp_path / "data.jsonl", ROWS * 4)
    measurement, scores = Measurer(
        tiny_settings, Workspace(tiny_settings.home), budget_s=3600,
        fields=FieldMap(target="label", input="text")).run(data)
    rag = {a.id: a for a in measurement.arms}
    assert rag["rag"].status == rag["rag_lora"].status == "skipped"
    assert "--docs" in rag["rag"].reason and "rag" not in scores


def test_too_small_a_budget_skips_training_with_a_reason(tmp_path, tiny_settings):
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    data = write_rows(tmp_path / "data.jsonl", ROWS * 4)
    measurement, _ = Measurer(tiny_settings, Workspace(tiny_settings.home), budget_s=1,
                              fields=FieldMap(target="label", input="text")).run(data)
    lora = next(a for a in measurement.arms if a.id == "lora")
    assert lora.status == "skipped" and "--budget" in lora.reason


def test_bad_files_get_clear_errors(tmp_path, tiny_settings):
    from graftlm.errors import DataFormatError, InputError
    from graftlm.workspace import Workspace

    workspace = Workspace(tiny_settings.home)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"prompt": "a", "completion": "b"}\n{oops\n')
    with pytest.raises(DataFormatError, match="2: malformed JSON"):
        Measurer(tiny_settings, workspace).run(bad)
    few = tmp_path / "few.jsonl"
    few.write_text('{"prompt": "a", "completion": "b"}\n')
    with pytest.raises(InputError, match="at least 10"):
        Measurer(tiny_settings, workspace).run(few)
    with pytest.raises(InputError, match="not a folder"):
        Measurer(tiny_settings, workspace, docs=tmp_path / "nowhere")


def test_the_majority_label_baseline_comes_from_the_train_split():
    from advisor.measure import majority_baseline

    train = examples_of([("a", "yes"), ("b", "yes"), ("c", "no")])
    held = examples_of([("d", "no"), ("e", "yes"), ("f", "no"), ("g", "maybe")])
    assert majority_baseline(train, held) == ("yes", 0.25)
