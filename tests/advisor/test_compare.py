"""--compare: a bigger model behind a second OpenAI-compatible server, prompted on the same
held-out examples, scored by the same scorer, priced from the tokens it counts."""

import pytest
from typer.testing import CliRunner

from graftlm.advisor.compare import Compare, label_named
from graftlm.core.errors import InputError
from tests.advisor.conftest import ROWS, write_rows

LABELS = dict(ROWS)  # text -> label


def _oracle(body):
    """The 'big model': reads the last user message and names its intent."""
    asked = body["messages"][-1]["content"]
    return next((f"{label}." for text, label in LABELS.items() if text in asked), "no idea")


def test_the_compared_arms_are_scored_priced_and_weighed(tmp_path, tiny_settings, endpoint):
    from graftlm.advisor import Advisor, Facts
    from graftlm.advisor.measure import measured_advice
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.data import FieldMap

    endpoint["reply"] = _oracle
    data = write_rows(tmp_path / "data.jsonl", ROWS * 6)
    advice = measured_advice(
        Advisor(), "Classify intents; 24 labelled examples.", Facts(), data, tiny_settings,
        Workspace(tiny_settings.home), budget_s=1, fields=FieldMap(target="label", input="text"),
        compare=Compare(endpoint["url"], "big-model", price_in=2.0, price_out=8.0))
    m = advice.measurement
    arms = {a.id: a for a in m.arms}
    big = arms["big_zero_shot"]
    assert big.status == "measured" and big.score == 1.0  # the oracle names every label
    assert big.title == "prompted big-model (zero-shot)"
    assert arms["big_few_shot"].train_examples > 0 and "big_rag" not in arms  # no documents
    prompt, completion = big.tokens_per_query
    assert big.cost_per_1k == pytest.approx(1000 * (prompt * 2 + completion * 8) / 1e6, abs=2e-4)
    # the same held-out examples as the local arms, each asked once per compared arm
    asked = [b for path, b in endpoint["requests"] if b["model"] == "big-model"]
    assert len(asked) == 2 * m.held_out and all(b["temperature"] == 0 for b in asked)
    # weighed like any arm: it is the best, and it leads (its zero- and few-shot arms tie at
    # 100, and the description, 24 labelled examples, breaks the tie toward few-shot)
    assert m.best == "big_zero_shot" and advice.recommendation == "few_shot"
    assert m.headline.startswith("prompted big-model")
    assert any("label their generated answer names" in line for line in m.would_change)


def test_options_and_label_naming():
    assert Compare.from_options(None, None, None) is None
    c = Compare.from_options("http://127.0.0.1:1/v1", "m", "2.5,10")
    assert (c.price_in, c.price_out) == (2.5, 10.0)
    assert c.cost_per_1k(1000, 100) == pytest.approx(1000 * (1000 * 2.5 + 100 * 10) / 1e6)
    for bad in ((None, "m", None), ("u", "m", "cheap"), (None, None, "1,2"), ("u", "m", "-1,2")):
        with pytest.raises(InputError):
            Compare.from_options(*bad)
    labels = ("yes", "no", "maybe")
    assert label_named("Yes.", labels) == "yes"
    assert label_named("The answer is maybe, given the trial", labels) == "maybe"
    assert label_named("unclear", labels) is None


def test_compare_options_need_measure(tmp_path):
    from graftlm.cli import app

    result = CliRunner().invoke(app, ["--home", str(tmp_path), "advise", "Classify intents.",
                                      "--lexical", "--compare", "http://127.0.0.1:9/v1",
                                      "--compare-model", "m"])
    assert result.exit_code == 2 and "--measure" in result.output


def test_broad_general_work_points_to_prompting_a_strong_model_and_a_new_language_does_not():
    from graftlm.advisor import Advisor
    from graftlm.core.embedder import load_embedder
    from graftlm.core.settings import ModelSettings

    advisor = Advisor(load_embedder(ModelSettings(), light=True))
    tutor = advisor.advise("A tutor that answers students' questions on any school subject, "
                           "from algebra to history.")
    assert tutor.recommendation == "prompting"
    assert "broad_general" in {s.id for s in tutor.signals}
    assert "--compare" in tutor.plan.steps[0].command
    # a programming language the model has never seen is not "whatever language you write"
    private = advisor.advise("Our machines run a PLC dialect nobody outside the company uses. "
                             "We want code completion in that language; we have 2 billion lines "
                             "of it.")
    assert "broad_general" not in {s.id for s in private.signals}
