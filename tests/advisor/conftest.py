"""Shared pieces of the advisor tests: tiny labelled rows, arm results and a tiny-model setting."""

import json

import pytest

from advisor.schema import ArmResult, Measurement
from tests.conftest import save_tiny_base
from tuning.data import Example

ROWS = [("play some jazz music", "PlayMusic"), ("book a table for two", "BookRestaurant"),
        ("weather in paris", "GetWeather"), ("rate this novel five stars", "RateBook")]


def examples_of(rows, system="Answer with the intent."):
    return [Example((("system", system), ("user", t), ("assistant", label)), i + 1)
            for i, (t, label) in enumerate(rows)]


def arm_result(arm_id, strategy, score):
    return ArmResult(id=arm_id, strategy=strategy, title=arm_id, status="measured",
                     score=score, ci_low=score - 0.1, ci_high=score + 0.1,
                     seconds_per_query=0.1)


def measurement_of(arms):
    return Measurement(data="d.jsonl", metric="exact_match", examples=100, train_examples=70,
                       held_out=30, held_out_lines=list(range(30)), budget_seconds=900,
                       seconds=10, arms=arms, verdict="")


def static_advice(order):
    from advisor import Advisor, Facts

    advice = Advisor().advise("Classify support tickets into queues; we have 500 labelled "
                              "tickets.", Facts(documents=True))
    ranking = [s.model_copy(update={"rank": order.index(s.strategy) + 1})
               for s in advice.ranking]
    return advice.model_copy(update={"ranking": ranking})


@pytest.fixture
def tiny_settings(tmp_path):
    from graftlm.settings import Settings

    base = save_tiny_base(tmp_path / "tiny-base")
    return Settings(home=tmp_path / "home", models={"base": str(base)},
                    tuning={"max_steps": 3, "batch_size": 4})


def write_rows(path, rows):
    path.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in rows))
    return path
