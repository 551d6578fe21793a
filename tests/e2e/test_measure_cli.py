"""End-to-end: measured advice and the evaluation harness on the embedded SmolLM2."""

import json
from pathlib import Path

import pytest

from tests.e2e.conftest import graft, home_with_model

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
TICKETS = ROOT / "examples" / "train" / "support_tickets.jsonl"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return home_with_model(tmp_path_factory, "measure-home")


def test_measured_advice_finds_the_adapter_wins_on_a_skill_task(home, tmp_path):
    result = graft("advise", "Route each support ticket to one of four queues; we have 120 "
                   "labelled tickets and the product manuals.", "--examples", str(TICKETS),
                   "--docs", str(ROOT / "examples" / "docs"), "--budget", "480s", "--json",
                   "--report", str(tmp_path / "report"), home=home)
    assert result.returncode == 0, result.stderr[-3000:]
    advice = json.loads(result.stdout)
    m = advice["measurement"]
    arms = {a["id"]: a for a in m["arms"]}
    assert all(a["status"] == "measured" for a in arms.values()), arms
    assert m["held_out"] == len(m["held_out_lines"]) >= 10
    assert m["metric"] == "choice_accuracy" and set(m["labels"]) == {
        "reset", "wifi", "warranty", "firmware"}
    # Routing tickets to queue names is a skill: the adapter answers with the queue name
    # (generated exact match) far more often than the prompted model.
    assert arms["lora"]["metrics"]["exact_match"] > arms["zero_shot"]["metrics"][
        "exact_match"] + 0.3
    assert advice["recommendation"] in {"lora", "hybrid"}
    assert m["seconds"] < 480 * 1.3  # the budget holds, give or take the last evaluation
    assert (tmp_path / "report" / "report.html").read_text().count("<rect") == 5


def test_eval_run_and_compare(home):
    first = graft("eval", "run", "--data", str(TICKETS), "--limit", "8", "--name", "plain",
                  "--json", home=home)
    assert first.returncode == 0, first.stderr[-2000:]
    run = json.loads(first.stdout)
    assert run["examples"] == 8 and run["metric"] == "choice_accuracy"
    assert set(run["metrics"]) == {"choice_accuracy", "exact_match"}
    second = graft("eval", "run", "--data", str(TICKETS), "--limit", "8", "--index", "none",
                   home=home)
    assert second.returncode != 0 and "no index named 'none'" in second.stderr
    compared = graft("eval", "compare", home=home)
    assert compared.returncode == 0 and "plain" in compared.stdout
