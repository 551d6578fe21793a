from rich.console import Console

from graftlm.advisor import Advisor
from graftlm.advisor.render import render


def rendered(text, **kwargs):
    console = Console(record=True, width=140)
    render(Advisor(**kwargs).advise(text), console)
    return console.export_text()


def test_render_shows_verdict_signals_caveats_and_plan():
    out = rendered("Staff ask about our employee handbook; each answer should quote the "
                   "section it came from.", base_parameters=134_515_008)
    assert "Recommendation: Retrieval (RAG)" in out
    assert "“employee handbook”" in out or "our employee handbook" in out
    assert "Caveats" in out and "83.7%" in out
    assert "$ graft index build ./docs --name docs" in out
    assert "135M parameters" in out
    assert "semantic matching is off" in out


def test_render_explains_negation_and_rules():
    out = rendered("Answer from our wiki in our brand voice; 2,000 approved replies. "
                   "Citations are not needed.")
    assert "negated grounding" in out
    assert "rule: gaps_add_up" in out


def test_the_plan_is_titled_for_the_recommended_strategy():
    # Measured advice can recommend an arm the description ranks lower; the plan follows it.
    advice = Advisor().advise("Staff ask about our employee handbook.", recommend="few_shot")
    assert advice.ranking[0].strategy == "rag"
    console = Console(record=True, width=140)
    render(advice, console)
    out = console.export_text()
    assert "Plan: Few-shot prompting" in out and "Plan: Retrieval" not in out


def test_a_row_of_mostly_losses_still_shows_what_it_favours():
    from graftlm.advisor.render import _moves

    shown = _moves({"hybrid": 3.1, "full_ft": -8.9, "few_shot": -5.2, "rag": -5.0}).plain
    assert shown == "+3.1 hybrid -8.9 full FT -5.2 few-shot"
    assert _moves({"lora": 2.0, "rag": -1.2}).plain == "+2.0 LoRA -1.2 RAG"
