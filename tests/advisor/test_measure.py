"""Measured advice on the tiny model: every arm on the same held-out examples, skips, errors."""

import pytest

from graftlm.advisor.measure import Measurer
from tests.advisor.conftest import ROWS, examples_of, write_rows
from tests.conftest import WordEmbedder


def test_every_arm_is_scored_on_the_same_held_out_examples(tmp_path, tiny_settings):
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap

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
    # 40 examples: half held out (at least 60 where the data allows, never more than half)
    assert measurement.held_out == len(measurement.held_out_lines) == 20
    assert measurement.split.startswith("held out 20 of 40 (50%)")
    assert set(scores) == {"zero_shot", "few_shot", "rag", "lora", "rag_lora"}
    assert all(len(s) == measurement.held_out for s in scores.values())
    for arm in measurement.arms:
        assert arm.status == "measured"
        assert arm.ci_low <= arm.score <= arm.ci_high
        assert arm.score == pytest.approx(sum(scores[arm.id]) / 20, abs=1e-4)
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
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap

    data = write_rows(tmp_path / "data.jsonl", ROWS * 4)
    measurement, scores = Measurer(
        tiny_settings, Workspace(tiny_settings.home), budget_s=3600,
        fields=FieldMap(target="label", input="text")).run(data)
    rag = {a.id: a for a in measurement.arms}
    assert rag["rag"].status == rag["rag_lora"].status == "skipped"
    assert "--docs" in rag["rag"].reason and "rag" not in scores


def test_too_small_a_budget_skips_training_with_a_reason(tmp_path, tiny_settings):
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap

    data = write_rows(tmp_path / "data.jsonl", ROWS * 4)
    measurement, _ = Measurer(tiny_settings, Workspace(tiny_settings.home), budget_s=1,
                              fields=FieldMap(target="label", input="text")).run(data)
    lora = next(a for a in measurement.arms if a.id == "lora")
    assert lora.status == "skipped" and "--budget" in lora.reason


def test_bad_files_get_clear_errors(tmp_path, tiny_settings):
    from graftlm.core.errors import DataFormatError, InputError
    from graftlm.core.workspace import Workspace

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
    from graftlm.advisor.measure import majority_baseline

    train = examples_of([("a", "yes"), ("b", "yes"), ("c", "no")])
    held = examples_of([("d", "no"), ("e", "yes"), ("f", "no"), ("g", "maybe")])
    assert majority_baseline(train, held) == ("yes", 0.25)


def test_tune_trains_the_lora_arms_with_what_a_search_chose(tmp_path, tiny_settings,
                                                            monkeypatch):
    from graftlm.advisor import measure
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap

    monkeypatch.setattr(measure, "MIN_TRAIN_SECONDS", 1.0)
    settings = tiny_settings.model_copy(update={"tuning": tiny_settings.tuning.model_copy(
        update={"auto_methods": ["ia3", "lora"]})})
    data = write_rows(tmp_path / "data.jsonl", ROWS * 6)
    seen = []
    # A budget whose search share (about a quarter) fits a few 3-step trials even on a busy
    # machine: at 20 s, under a parallel test run, no trial finished and the search chose nothing.
    measurement, scores = Measurer(
        settings, Workspace(settings.home), budget_s=60, tune=True,
        fields=FieldMap(target="label", input="text"),
        progress=lambda arm, status: seen.append((arm, status))).run(data)
    search = measurement.search
    assert search is not None and search["trials"][0]["params"]["method"] == "ia3"
    assert search["validation"] >= 2 and search["chosen"] in search["pareto"]
    chosen = next(t for t in search["trials"] if t["number"] == search["chosen"])
    from graftlm.tuning.auto_trials import describe

    said = [status for arm, status in seen if arm == "lora"]
    assert f"search chose {describe(chosen['params'])}" in said
    assert any(s.startswith("searching: trial 0 (ia3") for s in said)
    assert said.index(f"search chose {describe(chosen['params'])}") < len(said) - 1
    assert "lora" in scores and len(scores["lora"]) == measurement.held_out
    # The search used the train part only: its validation examples are not held out.
    assert measurement.train_examples > search["validation"]


def test_the_report_and_the_terminal_show_the_search(tmp_path):
    import io

    from rich.console import Console

    from graftlm.advisor.render import render_measurement
    from graftlm.advisor.report import render_html
    from tests.advisor.conftest import arm_result, measurement_of, static_advice
    from graftlm.tuning.auto_trials import Search, TrialFigures

    trials = [TrialFigures(0, "complete", {"method": "lora", "rank": 16, "alpha_ratio": 2},
                           0.9, 1_000_000, 30.0),
              TrialFigures(1, "complete", {"method": "ia3"}, 0.85, 20_000, 12.0),
              TrialFigures(2, "pruned", {"method": "prefix"}, 0.2, 50_000, 4.0)]
    record = Search("tune.db", "choice_accuracy", 8, trials, 0, 1, [0, 1], 60, 55.0).record()
    measurement = measurement_of([arm_result("lora", "lora", 0.8)]).model_copy(update={
        "best": "lora", "verdict": "LoRA won.", "search": record})
    advice = static_advice(["lora", "hybrid", "rag", "few_shot", "prompting", "full_ft"]
                           ).model_copy(update={"measurement": measurement})
    page = render_html(advice)
    assert "Tuning (--tune)" in page and page.count('class="chosen"') == 2
    assert "trial 1 (ia3) chosen of 3 trials (1 pruned, cut or failed)" in page
    out = io.StringIO()
    render_measurement(advice.measurement, Console(file=out, width=200))
    assert "--tune: the LoRA arms trained the search's choice — trial 1 (ia3)" in out.getvalue()


def test_tune_falls_back_to_the_recipe_when_the_search_chooses_nothing(tmp_path, tiny_settings,
                                                                       monkeypatch):
    from graftlm.advisor import measure
    from graftlm.core.errors import InputError
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap

    def nothing(*args, **kwargs):
        raise InputError("no trial finished within the budget (9 s)")

    monkeypatch.setattr(measure, "MIN_TRAIN_SECONDS", 1.0)
    monkeypatch.setattr(measure, "search_examples", nothing)
    data = write_rows(tmp_path / "data.jsonl", ROWS * 6)
    # The search is replaced; the LoRA runs stop at 3 steps, so a long budget costs nothing and
    # keeps them from being skipped on a busy machine.
    measurement, scores = Measurer(tiny_settings, Workspace(tiny_settings.home), budget_s=300,
                                   tune=True, fields=FieldMap(target="label", input="text")
                                   ).run(data)
    assert measurement.search is None and "lora" in scores
    assert any(n.startswith("--tune: the search chose nothing (no trial finished")
               for n in measurement.would_change)


def test_budget_left_over_trains_a_second_seed_of_a_tied_trained_arm(tiny_settings):
    import time

    from graftlm.advisor.arms import ArmRun
    from graftlm.core.workspace import Workspace

    measurer = Measurer(tiny_settings, Workspace(tiny_settings.home), budget_s=600)
    measurer.deadline = time.monotonic() + 500
    arms = {}
    for arm_id, strategy, scores in (("zero_shot", "prompting", [1.0] * 10 + [0.0] * 10),
                                     ("lora", "lora", [1.0] * 11 + [0.0] * 9)):
        arms[arm_id] = ArmRun(arm_id, strategy, arm_id, status="measured", scores=scores,
                              metrics={"exact_match": 0.5}, seconds_per_query=0.01,
                              build_seconds=40.0)
    trained = []
    measurer._train = lambda data, seconds, arm_id, **kw: (trained.append(
        (arm_id, seconds, kw.get("seed_offset"))) or ("model", seconds))

    def measure(run, model, prompts, **kw):
        run.status, run.scores, run.metrics = "measured", [0.0] * 11 + [1.0] * 9, {
            "exact_match": 0.3}

    measurer._measure = measure
    measurer._spend_leftover(arms, ["train"] * 20, ["held"] * 20, None)
    assert trained == [("lora", 40.0, 1)]  # as long as the first run, seed + 1
    assert arms["lora"].seeds == 2 and arms["lora"].scores[0] == 0.5
    assert arms["lora"].metrics["exact_match"] == 0.4
    assert any("a second seed of lora" in note for note in measurer.notes)
    # a clear lead, or no time: nothing more is trained
    trained.clear()
    arms["lora"].scores, arms["lora"].seeds = [1.0] * 20, 1
    measurer._spend_leftover(arms, ["train"] * 20, ["held"] * 20, None)
    measurer.deadline = time.monotonic() + 5
    arms["lora"].scores = [1.0] * 11 + [0.0] * 9
    measurer._spend_leftover(arms, ["train"] * 20, ["held"] * 20, None)
    assert trained == []
