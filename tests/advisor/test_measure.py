"""Measured advice: intervals, demonstrations, the decision, and a whole run on the tiny model."""

import json
import math
import random

import pytest

from advisor.measure import (Measurer, bootstrap_ci, decide, demonstrations,
                             paired_difference_ci, with_shots)
from advisor.schema import ArmResult, Measurement
from tests.conftest import WordEmbedder, save_tiny_base
from tuning.data import Example

ROWS = [("play some jazz music", "PlayMusic"), ("book a table for two", "BookRestaurant"),
        ("weather in paris", "GetWeather"), ("rate this novel five stars", "RateBook")]


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


def _examples(rows, system="Answer with the intent."):
    return [Example((("system", system), ("user", t), ("assistant", label)), i + 1)
            for i, (t, label) in enumerate(rows)]


def test_demonstrations_cover_every_label_before_repeating_one():
    train = _examples(ROWS * 5)
    shots = demonstrations(train, 6, seed=0, label_like=True)
    assert len(shots) == 6
    assert {s.target for s in shots} == {label for _, label in ROWS}
    assert len(demonstrations(train, 8, seed=0, label_like=False)) == 3  # long answers: few


def test_shots_go_between_the_system_message_and_the_question():
    example, shot = _examples(ROWS[:2])
    joined = with_shots(example, [shot])
    assert [r for r, _ in joined.messages] == ["system", "user", "assistant", "user",
                                               "assistant"]
    assert joined.messages[1:3] == shot.messages[1:] and joined.target == example.target


def _arm(arm_id, strategy, score):
    return ArmResult(id=arm_id, strategy=strategy, title=arm_id, status="measured",
                     score=score, ci_low=score - 0.1, ci_high=score + 0.1,
                     seconds_per_query=0.1)


def _measurement(arms):
    return Measurement(data="d.jsonl", metric="exact_match", examples=100, train_examples=70,
                       held_out=30, held_out_lines=list(range(30)), budget_seconds=900,
                       seconds=10, arms=arms, verdict="")


def _static(order):
    from advisor import Advisor, Facts

    advice = Advisor().advise("Classify support tickets into queues; we have 500 labelled "
                              "tickets.", Facts(documents=True))
    ranking = [s.model_copy(update={"rank": order.index(s.strategy) + 1})
               for s in advice.ranking]
    return advice.model_copy(update={"ranking": ranking})


def test_a_clear_winner_is_recommended():
    scores = {"zero_shot": [0.0] * 30, "lora": [1.0] * 27 + [0.0] * 3}
    arms = [_arm("zero_shot", "prompting", 0.0), _arm("lora", "lora", 0.9)]
    order = ["prompting", "few_shot", "rag", "hybrid", "full_ft", "lora"]
    measurement, strategy = decide(_measurement(arms), _static(order), scores, has_docs=False)
    assert strategy == "lora" and measurement.best == "lora" and not measurement.tied
    assert any("--docs" in line for line in measurement.would_change)


def test_a_tie_goes_to_the_static_favourite_only_if_its_parts_measurably_help():
    lora = [1.0] * 20 + [0.0] * 10
    hybrid = [1.0] * 19 + [0.0] * 11  # ties with LoRA
    useful_rag = [1.0] * 12 + [0.0] * 18  # clearly above zero-shot
    scores = {"zero_shot": [0.0] * 30, "rag": useful_rag, "lora": lora, "rag_lora": hybrid}
    arms = [_arm("zero_shot", "prompting", 0.0), _arm("rag", "rag", 0.4),
            _arm("lora", "lora", 20 / 30), _arm("rag_lora", "hybrid", 19 / 30)]
    static = _static(["hybrid", "lora", "rag", "few_shot", "prompting", "full_ft"])
    measurement, strategy = decide(_measurement(arms), static, scores, has_docs=True)
    assert measurement.best == "lora" and "rag_lora" in measurement.tied
    assert strategy == "hybrid"  # retrieval helped, and the description favours the hybrid
    scores["rag"] = [0.0] * 30  # now retrieval never helped: the simpler arm wins the tie
    arms[1] = _arm("rag", "rag", 0.0)
    measurement, strategy = decide(_measurement(arms), static, scores, has_docs=True)
    assert strategy == "lora"
    assert "retrieval showed no measured gain" in measurement.verdict
    assert any("Retrieval did not lift" in line for line in measurement.would_change)


@pytest.fixture
def tiny_settings(tmp_path):
    from graftlm.settings import Settings

    base = save_tiny_base(tmp_path / "tiny-base")
    return Settings(home=tmp_path / "home", models={"base": str(base)},
                    tuning={"max_steps": 3, "batch_size": 4})


def _write(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    return path


def test_every_arm_is_scored_on_the_same_held_out_examples(tmp_path, tiny_settings):
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    data = _write(tmp_path / "data.jsonl", ROWS * 10)
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "intents.md").write_text("# Intents\n\nPlayMusic plays jazz music.\n\n"
                                     "GetWeather tells the weather in paris.\n")
    seen = []
    measurer = Measurer(tiny_settings, Workspace(tiny_settings.home), budget_s=3600,
                        docs=docs, fields=FieldMap(target="label", input="text"),
                        embedder=WordEmbedder(), progress=lambda arm, status: seen.append(arm))
    measurement, scores = measurer.run(data)
    assert measurement.metric == "exact_match" and measurement.examples == 40
    assert measurement.held_out == len(measurement.held_out_lines) == 12
    assert set(scores) == {"zero_shot", "few_shot", "rag", "lora", "rag_lora"}
    assert all(len(s) == measurement.held_out for s in scores.values())
    for arm in measurement.arms:
        assert arm.status == "measured"
        assert arm.ci_low <= arm.score <= arm.ci_high
        assert arm.score == pytest.approx(sum(scores[arm.id]) / 12, abs=1e-4)
    assert measurement.learning_curve.fraction == 0.5
    assert {"zero_shot", "few_shot", "rag", "lora", "rag_lora"} <= set(seen)


def test_without_documents_the_retrieval_arms_say_why(tmp_path, tiny_settings):
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    data = _write(tmp_path / "data.jsonl", ROWS * 4)
    measurement, scores = Measurer(
        tiny_settings, Workspace(tiny_settings.home), budget_s=3600,
        fields=FieldMap(target="label", input="text")).run(data)
    rag = {a.id: a for a in measurement.arms}
    assert rag["rag"].status == rag["rag_lora"].status == "skipped"
    assert "--docs" in rag["rag"].reason and "rag" not in scores


def test_too_small_a_budget_skips_training_with_a_reason(tmp_path, tiny_settings):
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    data = _write(tmp_path / "data.jsonl", ROWS * 4)
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


def test_the_harness_saves_runs_and_compares_them_pairwise(tmp_path, tiny_settings):
    from advisor.harness import compare, run_eval
    from graftlm.workspace import Workspace
    from tuning.data import FieldMap

    workspace = Workspace(tiny_settings.home)
    data = _write(tmp_path / "data.jsonl", ROWS * 3)
    fields = FieldMap(target="label", input="text")
    first = run_eval(data, "base", tiny_settings, workspace, fields=fields, name="one")
    run_eval(data, "base", tiny_settings, workspace, fields=fields, limit=6, name="two")
    assert first["examples"] == 12 and first["metric"] == "exact_match"
    rows = compare(workspace, ["one", "two"])
    assert rows[0]["vs_first"] is None
    assert rows[1]["vs_first"]["examples"] == 6  # the examples both runs scored
    assert rows[1]["vs_first"]["difference"] == pytest.approx(
        rows[1]["score"] - _mean_first_six(workspace), abs=1e-4)


def _mean_first_six(workspace):
    scores = json.loads((workspace.path("evals", "one") / "scores.json").read_text())
    first = [scores[k] for k in sorted(scores, key=int)[:6]]
    return sum(first) / 6


def test_the_report_is_one_self_contained_page(tmp_path):
    from advisor.report import write_report

    arms = [_arm("zero_shot", "prompting", 0.1), _arm("lora", "lora", 0.8),
            ArmResult(id="rag", strategy="rag", title="RAG", status="skipped",
                      reason="no documents: pass --docs DIR")]
    measurement = _measurement(arms).model_copy(update={"best": "lora", "verdict": "LoRA won."})
    advice = _static(["lora", "hybrid", "rag", "few_shot", "prompting", "full_ft"]).model_copy(
        update={"measurement": measurement, "recommendation": "lora"})
    page = write_report(advice, tmp_path / "out")
    html = page.read_text()
    assert html.count("<rect") == 2 and "LoRA won." in html and "no documents" in html
    assert "<script" not in html and "http" not in html.split("<pre>")[0].replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    again = json.loads((tmp_path / "out" / "advice.json").read_text())
    assert again["measurement"]["best"] == "lora"


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("90s", 90), ("1h", 3600), ("45", 45)])
def test_budgets_read_as_durations(text, seconds):
    from advisor.cli import parse_duration

    assert parse_duration(text) == seconds


def test_measure_options_need_examples_and_bad_input_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from graftlm.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["advise", "Classify tickets.", "--docs", str(tmp_path),
                                 "--lexical"])
    assert result.exit_code == 2 and "--examples" in result.output
    result = runner.invoke(app, ["advise", "Classify tickets.", "--budget", "soon",
                                 "--examples", str(tmp_path / "x.jsonl"), "--lexical"])
    assert result.exit_code == 2 and "not a duration" in result.output
    assert "Traceback" not in result.output
