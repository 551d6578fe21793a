"""Auto-PEFT: the choice among trials worked by hand, and a real (tiny) search that persists,
resumes and refuses other data."""

import json

import pytest

from graftlm.core.errors import InputError
from graftlm.core.settings import Settings, TuningSettings
from graftlm.core.workspace import Workspace
from tests.conftest import save_tiny_base
from graftlm.tuning.auto import recipe, settings_for
from graftlm.tuning.auto_trials import TrialFigures, choose, describe, pareto
from graftlm.tuning.events import Evaluated, TrialEvent, TrialsDone


def figures(number, score, trainable, seconds, scores, state="complete"):
    return TrialFigures(number, state, {"method": "lora"}, score, trainable, seconds, scores)


def test_the_pareto_front_keeps_what_nothing_beats_on_all_three():
    trials = [figures(0, 0.9, 1000, 50, []), figures(1, 0.8, 100, 40, []),
              figures(2, 0.8, 200, 60, []),  # beaten by 1: no better anywhere
              figures(3, 0.7, 100, 10, []), figures(4, 0.95, 5000, 20, [], state="pruned")]
    assert pareto(trials) == [0, 1, 3]


def test_the_chosen_trial_is_the_smallest_within_the_noise_of_the_best():
    best = [1.0] * 18 + [0.0] * 2           # 0.90
    close = [1.0] * 17 + [0.0] * 3          # 0.85: one example apart, interval reaches 0
    far = [1.0] * 6 + [0.0] * 14            # 0.30: twelve examples worse, every time
    trials = [figures(0, 0.90, 5000, 10, best), figures(1, 0.85, 800, 10, close),
              figures(2, 0.30, 10, 10, far), figures(3, 0.99, 1, 1, [], state="pruned")]
    assert choose(trials) == (0, 1)
    assert choose([figures(5, 0.5, 10, 1, [1.0, 0.0], state="pruned")]) == (None, None)
    # Every trial cut short by the budget: the best of them, rather than nothing.
    cut = [figures(6, 0.4, 10, 1, [], state="cut"), figures(7, 0.6, 99, 1, [], state="cut"),
           figures(8, 0.9, 5, 1, [], state="pruned")]
    assert choose(cut) == (7, 7)


def test_a_trial_s_parameters_become_settings():
    base = TuningSettings()
    params = {"method": "dora", "rank": 8, "alpha_ratio": 2, "targets": "mlp",
              "lr_dora": 5e-4, "epochs": 3.0}
    tuned = settings_for(params, base)
    assert (tuned.method, tuned.rank, tuned.alpha, tuned.targets) == ("dora", 8, 16.0, "mlp")
    assert tuned.peak_learning_rate == 5e-4 and tuned.epochs == 3.0
    assert describe(params) == "dora r8 α16 mlp lr 5e-04 3ep"
    spectrum = settings_for({"method": "spectrum", "spectrum_share": 0.5, "lr_spectrum": 1e-5,
                             "epochs": 1.0}, base)
    assert spectrum.full_learning_rate == 1e-5 and spectrum.spectrum_share == 0.5
    assert recipe(base, (4, 8, 16))["rank"] == 16 and recipe(base, (4, 8))["rank"] == 8


def test_a_search_persists_resumes_and_refuses_other_data(tmp_path):
    from graftlm.tuning.auto import search

    base = save_tiny_base(tmp_path / "tiny")
    data = tmp_path / "d.jsonl"
    rows = [("play some jazz music", "PlayMusic"), ("weather in paris", "GetWeather")]
    data.write_text("".join(json.dumps({"prompt": p, "completion": c}) + "\n"
                            for p, c in rows * 12))
    settings = Settings(home=tmp_path / "home", models={"base": str(base)},
                        tuning={"batch_size": 4, "auto_methods": ["lora", "ia3", "prefix"]})
    workspace = Workspace(settings.home)
    events = []
    found, tuned = search(data, "s", settings, workspace, budget_s=8, progress=events.append)
    first = found.trials[0]
    assert first.state == "complete" and first.params["method"] == "lora"  # the recipe first
    assert first.params["rank"] == 16 and len(first.scores) == found.validation
    second = found.trials[1]  # the recipe at the short-run rate
    assert second.params == {**first.params, "lr_lora": first.params["lr_lora"] * 5}
    assert found.chosen in found.pareto and tuned.method == found.trial(found.chosen).params[
        "method"]
    assert any(isinstance(e, TrialEvent) and isinstance(e.event, Evaluated) for e in events)
    assert any(isinstance(e, TrialsDone) for e in events)
    again, _ = search(data, "s", settings, workspace, budget_s=4)
    assert len(again.trials) > len(found.trials)
    assert again.trials[0].params == first.params and again.trials[0].score == first.score
    data.write_text(data.read_text() + json.dumps({"prompt": "x", "completion": "y"}) + "\n")
    with pytest.raises(InputError, match="was over other data"):
        search(data, "s", settings, workspace, budget_s=4)


def test_the_search_report_charts_the_front_and_lists_every_trial(tmp_path):
    import re

    from graftlm.tuning.auto_trials import Search
    from graftlm.tuning.auto_report import write_search_report

    trials = [figures(0, 0.9, 100_000, 50, []), figures(1, 0.8, 1_000, 40, []),
              figures(2, 0.8, 2_000, 60, []), figures(3, 0.7, 1_000, 10, []),
              figures(4, None, 5_000, None, [], state="pruned")]
    found = Search("studies/s.db", "choice_accuracy", 20, trials, best=0, chosen=1,
                   pareto=pareto(trials), budget_s=300, seconds=290.0)
    page = write_search_report(found, tmp_path / "report")
    text = page.read_text()
    # Two panels (against parameters, against seconds), each with every finished trial.
    circles = re.findall(r'<circle class="(front|trial)" cx="([\d.]+)" cy="([\d.]+)"', text)
    assert len(circles) == 8 and sum(c[0] == "front" for c in circles) == 6
    assert text.count('class="chosen"') == 2
    by_trial = re.findall(r"<title>trial (\d)", text)
    first_panel = {int(n): (float(x), float(y)) for n, (_, x, y) in zip(by_trial[:4],
                                                                          circles[:4])}
    assert first_panel[0][0] > first_panel[2][0] > first_panel[1][0] == first_panel[3][0]
    assert first_panel[0][1] < first_panel[1][1] < first_panel[3][1]  # higher score, higher up
    assert text.count("<tr><td>") == 5 and "pruned" in text
    assert "the smallest within the noise of the best" in text
    assert json.loads((tmp_path / "report" / "search.json").read_text())["chosen"] == 1


def test_a_tie_on_score_and_size_is_broken_by_time_as_the_pareto_front_breaks_it():
    # the same method and score, trial 1 faster: choosing trial 0 would pick a dominated trial
    slow = figures(0, 0.6, 100, 9.0, [1, 0, 1])
    fast = figures(1, 0.6, 100, 4.0, [1, 0, 1])
    best, chosen = choose([slow, fast])
    assert best == chosen == 1 and pareto([slow, fast]) == [1]
