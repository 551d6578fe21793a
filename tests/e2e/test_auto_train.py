"""End-to-end: `graft train --auto` searches methods on the embedded SmolLM2 within its budget,
shows the trials, and publishes the configuration it chose with the search on its card."""

import json

import pytest

from tests.e2e.conftest import graft, home_with_model

pytestmark = pytest.mark.e2e

ROWS = [("turn the lights on in the kitchen", "LIGHTS_ON"),
        ("switch off the bedroom lamp", "LIGHTS_OFF"),
        ("make the living room bright", "LIGHTS_ON"),
        ("kill the lights in the hall", "LIGHTS_OFF")]


def test_auto_searches_and_publishes_its_choice(tmp_path_factory):
    home = home_with_model(tmp_path_factory, "auto-home")
    data = home / "lights.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n"
                            for t, label in ROWS * 6))
    result = graft("train", str(data), "--name", "auto", "--auto", "--budget", "100s",
                   "--input-field", "text", "--target-field", "label", "--system",
                   "Answer LIGHTS_ON or LIGHTS_OFF.", "--batch-size", "4",
                   "--report", str(home / "report"),
                   env={"GRAFT_TUNING__AUTO_METHODS": '["lora", "ia3", "prefix"]'},
                   home=str(home))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "search:" in result.stdout and "> chosen: trial" in result.stdout
    card = json.loads(graft("adapters", "show", "auto", home=str(home)).stdout)
    search = card["search"]
    assert search["metric"] == "choice_accuracy" and search["validation"] >= 2
    assert search["trials"][0]["params"]["method"] == "lora"  # the recipe goes first
    assert len(search["trials"]) >= 2 and search["chosen"] in search["pareto"]
    chosen = next(t for t in search["trials"] if t["number"] == search["chosen"])
    assert card["type"] == chosen["params"]["method"]
    assert search["seconds"] < 100 * 1.5  # the budget holds, give or take the last trial
    assert (home / "studies" / "auto.db").is_file()
    assert f"search report: {home / 'report' / 'search.html'}" in result.stdout
    charted = (home / "report" / "search.html").read_text()
    finished = sum(t["state"] == "complete" for t in search["trials"])
    points = charted.count('<circle class="front"') + charted.count('<circle class="trial"')
    assert points == 2 * finished and charted.count('class="chosen"') == 2  # both panels
    assert json.loads((home / "report" / "search.json").read_text())["chosen"] == search[
        "chosen"]
    refused = graft("train", str(data), "--name", "again", "--auto", "--rank", "8",
                    home=str(home))
    assert refused.returncode != 0 and "leave out --rank" in refused.stderr
    unsearched = graft("train", str(data), "--name", "again", "--report", str(home / "r"),
                       home=str(home))
    assert unsearched.returncode != 0 and "--report charts an --auto search" in unsearched.stderr
    assert "Traceback" not in unsearched.stderr
