"""``graft advise`` options of measured advice: durations and clear one-line errors."""

import pytest


@pytest.mark.parametrize("text, seconds", [("15m", 900), ("90s", 90), ("1h", 3600), ("45", 45)])
def test_budgets_read_as_durations(text, seconds):
    from graftlm.core.commands import parse_duration

    assert parse_duration(text) == seconds


def test_measure_options_need_examples_and_bad_input_is_one_line(tmp_path):
    from typer.testing import CliRunner

    from graftlm.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["advise", "Classify tickets.", "--budget", "5m",
                                 "--lexical"])
    assert result.exit_code == 2 and "--measure" in result.output
    result = runner.invoke(app, ["advise", "Classify tickets.", "--measure", "--lexical"])
    assert result.exit_code == 2 and "--examples" in result.output
    result = runner.invoke(app, ["advise", "Classify tickets.", "--budget", "soon", "--measure",
                                 "--examples", str(tmp_path / "x.jsonl"), "--lexical"])
    assert result.exit_code == 2 and "not a duration" in result.output
    assert "Traceback" not in result.output


def test_measured_advice_through_the_command_reports_every_run(tmp_path, tiny_settings,
                                                               monkeypatch):
    """The whole command on the tiny model: its progress display takes the learning-curve run
    (reported on a line of its own, not over the LoRA arm's score)."""
    import json

    from typer.testing import CliRunner

    from graftlm.cli import app
    from tests.advisor.conftest import ROWS, write_rows

    monkeypatch.setenv("GRAFT_MODELS__BASE", tiny_settings.models.base)
    monkeypatch.setenv("GRAFT_TUNING__MAX_STEPS", "3")
    data = write_rows(tmp_path / "data.jsonl", ROWS * 6)
    result = CliRunner().invoke(app, [
        "--home", str(tiny_settings.home), "advise", "Classify intents; 24 labelled examples.",
        "--measure", "--examples", str(data), "--input-field", "text",
        "--target-field", "label", "--budget", "1h", "--lexical", "--json"])
    assert result.exit_code == 0, result.output
    advice = json.loads(result.stdout[result.stdout.index("{"):])
    assert advice["measurement"]["learning_curve"]["fraction"] == 0.5
    assert {a["id"] for a in advice["measurement"]["arms"]} == {
        "zero_shot", "few_shot", "rag", "lora", "rag_lora"}
