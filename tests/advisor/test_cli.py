"""``graft advise`` options of measured advice: durations and clear one-line errors."""

import pytest


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
