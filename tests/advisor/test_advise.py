import pytest

from graftlm.advisor import SCHEMA_VERSION, Advice, Advisor, Facts, json_schema
from graftlm.advisor.advise import MAX_DESCRIPTION_CHARS, read_description, validate_description
from graftlm.core.errors import InputError


@pytest.fixture(scope="module")
def advisor():
    return Advisor(base_parameters=134_515_008)


@pytest.mark.parametrize("text, expected", [
    ("Translate inbound support emails from Portuguese to English.", "prompting"),
    ("Put card transactions into our 5 budgeting buckets. Only 9 labelled rows exist.",
     "few_shot"),
    ("Sales reps need this season's price sheet, which is reissued every Monday.", "rag"),
    ("Route IT tickets into our 40 internal queues; 12k tickets are labelled.", "lora"),
    ("Continue pretraining on 2B tokens of our lab notebooks.", "full_ft"),
    ("Answer from our product manuals, which change every release, in our house voice. "
     "We have 2,000 rated replies.", "hybrid"),
])
def test_clear_cases(advisor, text, expected):
    assert advisor.advise(text).recommendation == expected


def test_advice_is_deterministic_and_round_trips(advisor):
    text = "Staff ask about our handbook and answers must quote the section."
    a, b = advisor.advise(text), advisor.advise(text)
    assert a == b
    again = Advice.model_validate_json(a.model_dump_json())
    assert again == a and again.schema_version == SCHEMA_VERSION


def test_ranking_is_complete_and_ordered(advisor):
    advice = advisor.advise("Summarise incident postmortems in one paragraph.")
    assert sorted(r.strategy for r in advice.ranking) == sorted(
        ["prompting", "few_shot", "rag", "lora", "full_ft", "hybrid"])
    scores = [r.score for r in advice.ranking]
    assert scores == sorted(scores, reverse=True)
    assert advice.confidence == advice.ranking[0].probability
    assert abs(sum(r.probability for r in advice.ranking) - 1) < 1e-2


def test_signals_quote_the_description(advisor):
    text = "Our price list is updated daily and answers must cite their source."
    advice = advisor.advise(text)
    for sig in advice.signals:
        if sig.span:
            assert text[sig.span[0]:sig.span[1]] == sig.evidence
    fresh = next(s for s in advice.signals if s.id == "fresh_knowledge")
    assert fresh.effects["rag"] > 0 > fresh.effects["lora"]


def test_caveats_carry_evidence(advisor):
    advice = advisor.advise("Fine-tune on our policies, which change weekly; we have 3,000 "
                            "question-answer pairs and want our house style.")
    ids = {c.id for c in advice.caveats}
    assert "facts_change" in ids
    assert all(c.evidence for c in advice.caveats)


def test_plan_follows_the_recommendation(advisor):
    advice = advisor.advise("Route IT tickets into our 40 internal queues; 12k tickets labelled.")
    commands = [s.command for s in advice.plan.steps if s.command]
    assert any(c.startswith("graft train") for c in commands)
    cost = advice.plan.cost
    assert cost.train_examples == 12_000 and cost.train_minutes > 0
    assert cost.base_parameters == 134_515_008
    rag = advisor.advise("Sales reps ask about this season's price sheet, reissued weekly.")
    assert rag.plan.cost.extra_prompt_tokens > 0 and rag.plan.cost.train_minutes is None


def test_facts_override_text_and_are_reported(advisor):
    advice = advisor.advise("Tag tickets with our 12 categories. We have 5 examples.",
                            Facts(examples=4000))
    assert advice.recommendation == "lora"
    assert [s.evidence for s in advice.overridden] == ["5 examples"]


def test_schema_is_versioned_and_describes_the_output(advisor):
    schema = json_schema()
    assert schema["$id"] == SCHEMA_VERSION
    assert set(schema["required"]) >= {"recommendation", "ranking", "signals", "plan"}
    data = advisor.advise("Translate emails.").model_dump(mode="json")
    assert set(data) <= set(schema["properties"])


@pytest.mark.parametrize("text, message", [
    ("", "empty"), ("   \n\t", "empty"), ("a\x00b", "NUL"),
    ("x" * (MAX_DESCRIPTION_CHARS + 1), "limit is 20,000"),
])
def test_bad_descriptions(text, message):
    with pytest.raises(InputError, match=message):
        validate_description(text)


def test_description_files(tmp_path):
    good = tmp_path / "task.txt"
    good.write_text("\ufeffTranslate emails.\n", encoding="utf-8")
    assert read_description(good) == "Translate emails."
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("Résumé tagging".encode("latin-1"))
    with pytest.raises(InputError, match=r"latin1.txt is not UTF-8.*0xe9 at offset 1"):
        read_description(bad)
    with pytest.raises(InputError, match="does not exist"):
        read_description(tmp_path / "missing.txt")
    with pytest.raises(InputError, match="is a directory"):
        read_description(tmp_path)
