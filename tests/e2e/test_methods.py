"""End-to-end: every PEFT method trains a few steps on the embedded SmolLM2 with `graft train
--method`, is evaluated by `graft eval adapter`, and is served — by the local engine all of
them, by vLLM PiSSA (as a LoRA) and DoRA (merged) — or refused with its message (prefix and
LoReFT, which are no change of weights)."""

import json
import os

import openai
import pytest

from graftlm.serving.launch import graft_serve
from tests.e2e.conftest import graft, home_with_model

pytestmark = pytest.mark.e2e

METHODS = ["dora", "pissa", "ia3", "prefix", "loreft", "spectrum"]
SYSTEM = "Answer LIGHTS_ON or LIGHTS_OFF."
ROWS = [("turn the lights on in the kitchen", "LIGHTS_ON"),
        ("switch off the bedroom lamp", "LIGHTS_OFF"),
        ("make the living room bright", "LIGHTS_ON"),
        ("kill the lights in the hall", "LIGHTS_OFF")]
ASK = [{"role": "system", "content": SYSTEM},
       {"role": "user", "content": "switch the lights off in the garage"}]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A home with one adapter per method (3 steps each; the method's default learning rate,
    but 1e-3 for the LoRA-shaped ones, whose 2e-4 is meant for hundreds of steps), and each
    run's card and output."""
    home = home_with_model(tmp_path_factory, "methods-home")
    data, held = home / "lights.jsonl", home / "held.jsonl"
    data.write_text("".join(json.dumps({"text": t, "label": label}) + "\n"
                            for t, label in ROWS * 4))
    held.write_text("".join(json.dumps({"text": t, "label": label}) + "\n" for t, label in ROWS))
    runs = {}
    for method in METHODS:
        result = graft("train", str(data), "--name", method, "--method", method,
                       "--input-field", "text", "--target-field", "label", "--system", SYSTEM,
                       "--max-steps", "3", "--batch-size", "4", "--eval-file", str(held),
                       *(["--lr", "1e-3"] if method in ("dora", "pissa") else []),
                       home=str(home))
        assert result.returncode == 0, (method, result.stderr[-3000:])
        card = json.loads(graft("adapters", "show", method, home=str(home)).stdout)
        runs[method] = (card, result)
    return home, held, runs


def test_every_method_trains_and_its_card_says_how(trained):
    home, _, runs = trained
    for method, (card, result) in runs.items():
        assert card["type"] == method and card["method"]["name"] == method
        assert f"trained {method} adapter '{method}'" in result.stdout
        assert 0 < card["method"]["trainable_parameters"] < card["method"]["parameters"]
        assert card["metrics"]["adapter_eval_loss"] < card["metrics"]["base_eval_loss"], method
    assert json.loads((home / "adapters/pissa/adapter_config.json").read_text())["r"] == 32
    spectrum = runs["spectrum"][0]["method"]
    assert len(spectrum["chosen"]) == round(0.25 * 30) * 7  # 30 layers, 7 matrix types
    said = runs["spectrum"][1].stderr
    assert "spectrum: training 56 of 210 weight matrices" in " ".join(said.split())
    assert "mlp.down_proj: layers" in said


@pytest.mark.parametrize("method", ["pissa", "prefix", "loreft", "spectrum"])
def test_eval_adapter_reopens_the_method_as_it_was_trained(trained, method):
    home, held, runs = trained
    # No field options: the card's (the system prompt included) are used.
    result = graft("eval", "adapter", method, "--data", str(held), "--json", home=str(home))
    assert result.returncode == 0, result.stderr[-3000:]
    side = json.loads(result.stdout)
    card = runs[method][0]
    assert side["adapter_loss"] == pytest.approx(card["metrics"]["adapter_eval_loss"], abs=2e-3)
    assert side["base_loss"] == pytest.approx(card["metrics"]["base_eval_loss"], abs=2e-3)


def reference(home, name: str, n: int = 8) -> str:
    """What adapter ``name`` answers greedily through transformers (+ peft) in this process."""
    import torch

    from graftlm.core.settings import load_settings
    from graftlm.core.workspace import Workspace
    from graftlm.tuning.adapter import open_adapter

    settings = load_settings(overrides={"home": str(home)}).settings
    model, tokenizer, _ = open_adapter(name, settings, Workspace(home))
    ids = tokenizer.apply_chat_template(ASK, add_generation_prompt=True, return_tensors="pt",
                                        return_dict=True)
    with torch.no_grad():
        out = model.eval().generate(**ids, max_new_tokens=n, do_sample=False)
    return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)


def greedy(url: str, model: str, n: int = 8) -> str:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
    reply = client.chat.completions.create(model=model, messages=ASK, max_tokens=n,
                                           temperature=0)
    return reply.choices[0].message.content


def test_the_engines_serve_what_they_can_and_refuse_the_rest(trained):
    home, _, _ = trained
    env = {**os.environ, "GRAFT_HOME": str(home), "HF_HUB_OFFLINE": "1",
           "GRAFT_SERVING__VLLM__MERGED_ADAPTERS": "0"}  # PiSSA through vLLM's LoRA path
    adapters = [arg for method in METHODS for arg in ("--adapter", method)]
    with graft_serve("--engine", "local", *adapters, log=home / "local.log", env=env) as (url, _):
        local = {method: greedy(url, method) for method in METHODS}
    for method in METHODS:
        assert local[method] == reference(home, method), method
    # LoReFT here; prefix's refusal is checked in the fast tier (test_methods_served).
    refused = graft("serve", "--engine", "vllm", "--adapter", "loreft", home=str(home),
                    fresh=True)  # a server that started by mistake would stay in this process
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    said = " ".join(refused.stderr.split())
    assert "a LoReFT adapter; vLLM serves LoRA adapters only" in said
    assert "--engine local" in said
    with graft_serve("--engine", "vllm", "--adapter", "pissa", "--adapter", "dora",
                     log=home / "vllm.log", env=env) as (url, _):
        for method in ("pissa", "dora"):
            assert greedy(url, method) == local[method], method
    logs = sorted(p.name for p in (home / "logs").glob("vllm-*.log"))
    assert len(logs) == 2 and any(p.name.startswith("dora-")
                                  for p in (home / "cache" / "merged").iterdir())
