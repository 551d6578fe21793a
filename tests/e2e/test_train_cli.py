"""End-to-end: train a real LoRA adapter on the embedded SmolLM2 for a few steps."""

import json
import os

import pytest

from tests.e2e.conftest import graft, home_with_model

pytestmark = pytest.mark.e2e

ROWS = [("turn the lights on in the kitchen", "LIGHTS_ON"),
        ("switch off the bedroom lamp", "LIGHTS_OFF"),
        ("make the living room bright", "LIGHTS_ON"),
        ("kill the lights in the hall", "LIGHTS_OFF")]


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    return str(home_with_model(tmp_path_factory, "train-home"))


def test_check_reports_problems_with_line_numbers(tmp_path, home):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"prompt": "hi", "completion": "yo"}\n{broken\n'
                    '{"prompt": "", "completion": "x"}\n')
    result = graft("train", "--check", str(data), home=home)
    assert result.returncode == 1
    assert f"{data}:2: malformed JSON" in result.stderr
    assert f"{data}:3: missing or empty field 'prompt'" in result.stderr
    assert "1 examples" in result.stdout and "2 problems" in result.stdout
    refused = graft("train", str(data), "--name", "never", home=home)
    assert refused.returncode != 0 and "2 problem(s)" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_train_moves_the_output_toward_the_labels(tmp_path, home):
    data = tmp_path / "lights.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n"
                            for t, label in ROWS * 6))
    result = graft("train", str(data), "--name", "lights", "--input-field", "text",
                   "--target-field", "label", "--system", "Answer LIGHTS_ON or LIGHTS_OFF.",
                   "--max-steps", "12", "--batch-size", "4", "--eval-file", str(data),
                   home=home)
    assert result.returncode == 0, result.stderr
    card = json.loads(graft("adapters", "show", "lights", home=home).stdout)
    metrics = card["metrics"]
    assert metrics["name"] == "choice_accuracy"
    assert metrics["adapter_eval_loss"] < metrics["base_eval_loss"]
    assert metrics["adapter"] >= metrics["base"]  # an untuned model may already choose well
    assert metrics["adapter_metrics"]["exact_match"] > metrics["base_metrics"]["exact_match"]
    assert card["type"] == "lora" and len(card["data"]["sha256"]) == 64
    assert card["base_model"]["sha256"] and card["hyperparameters"]["rank"] == 16

    from peft import PeftConfig

    adapter_dir = os.path.join(home, "adapters", "lights")
    assert PeftConfig.from_pretrained(adapter_dir).r == 16  # loadable as-is by peft
    listed = json.loads(graft("adapters", "list", "--json", home=home).stdout)
    assert [a["name"] for a in listed] == ["lights"]
    again = graft("train", str(data), "--name", "lights", "--input-field", "text",
                  "--target-field", "label", home=home)
    assert again.returncode != 0 and "--force" in again.stderr
    evaluated = graft("eval", "adapter", "lights", "--data", str(data), "--json", home=home)
    assert evaluated.returncode == 0, evaluated.stderr
    side = json.loads(evaluated.stdout)
    assert side["examples"] == 24 and side["adapter"] == metrics["adapter"]
    assert side["adapter_loss"] < side["base_loss"]

    merged_dir = tmp_path / "merged"
    merged = graft("adapters", "merge", "lights", "--out", str(merged_dir), home=home)
    assert merged.returncode == 0, merged.stderr
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(merged_dir)  # a plain model now
    assert not hasattr(model, "peft_config")
    refused = graft("adapters", "merge", "lights", "--out", str(merged_dir), home=home)
    assert refused.returncode != 0 and "not empty" in refused.stderr
    assert graft("adapters", "rm", "lights", home=home).returncode == 0
