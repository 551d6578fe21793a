"""The PEFT toolbox on the tiny Llama: every method trains, saves, opens on a fresh base as it
trained, switches off to the base, merges (or says why not); impossible settings are refused
before a model loads."""

import json

import pytest
import torch
from pydantic import ValidationError

from tests.conftest import make_tiny_model
from tests.tuning.test_train import FAST, examples
from graftlm.core.errors import ArtifactError, InputError
from graftlm.core.settings import TuningSettings
from graftlm.tuning.methods import (METHODS, SPECTRUM_FILE, check_fits, decoding_view, get, prepare,
                                    save, target_names)
from graftlm.tuning.spectrum import score, select

IDS = torch.tensor([[5, 6, 7, 8, 9, 10]])
ADAPTERS = [name for name, method in METHODS.items() if not method.is_model]


def logits(model, ids=IDS):
    with torch.no_grad():
        return decoding_view(model)(input_ids=ids).logits


def trained(method, tiny_tokenizer, tmp_path, **update):
    settings = FAST.model_copy(update={"method": method, "max_steps": 8, "eval_every": 4,
                                       "full_learning_rate": 5e-3, "spectrum_share": 0.5,
                                       **update})
    model, record = prepare(make_tiny_model(tiny_tokenizer), settings,
                            init_dir=tmp_path / "init")
    from graftlm.tuning.train import train

    data = examples(4)
    result = train(model, tiny_tokenizer, data, data[:4], settings)
    out = tmp_path / "out"
    out.mkdir()
    save(result.model, out, settings, tiny_tokenizer, init_dir=tmp_path / "init")
    return result, record, out


@pytest.mark.parametrize("method", ADAPTERS)
def test_a_method_trains_and_opens_on_a_fresh_base_as_it_trained(method, tiny_tokenizer,
                                                                  tmp_path):
    result, record, out = trained(method, tiny_tokenizer, tmp_path)
    assert result.best.loss < result.base_loss
    assert 0 < record["trainable_parameters"] < record["parameters"]
    model = result.model.eval()
    tuner = get(method)
    opened = tuner.open(make_tiny_model(tiny_tokenizer), out).eval()
    assert torch.allclose(logits(opened), logits(model), atol=1e-5)
    base = logits(make_tiny_model(tiny_tokenizer))
    assert not torch.allclose(logits(opened), base, atol=1e-3)  # it did learn something
    with tuner.switched_off(opened):
        assert torch.allclose(logits(opened), base, atol=1e-6)
    assert torch.allclose(logits(opened), logits(model), atol=1e-5)  # and back on
    if tuner.unmergeable:  # not a change of weights
        with pytest.raises(ArtifactError, match="cannot be merged.*--engine local"):
            tuner.merge(opened, "p")
    else:
        assert torch.allclose(logits(tuner.merge(opened)), logits(model), atol=1e-5)


def test_pissa_is_saved_as_a_plain_lora_of_twice_the_rank(tiny_tokenizer, tmp_path):
    _, _, out = trained("pissa", tiny_tokenizer, tmp_path, rank=4)
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 8 and config["init_lora_weights"] is True
    assert config["peft_type"] == "LORA" and not config["use_dora"]


def test_spectrum_trains_exactly_the_top_share_of_each_type(tiny_tokenizer, tmp_path):
    from safetensors.torch import load_file

    expected = select(score(make_tiny_model(tiny_tokenizer)), 0.5)
    result, record, out = trained("spectrum", tiny_tokenizer, tmp_path)
    names = {s.name for s in expected}
    assert len(names) == 7  # one of the two layers, for each of the 7 linear types
    assert {c["name"] for c in record["chosen"]} == names == set(load_file(out / SPECTRUM_FILE))
    assert {n for n, p in result.model.named_parameters() if p.requires_grad} == names


def test_the_prefix_view_decodes_step_by_step_as_peft_generates(tiny_tokenizer, tmp_path):
    from graftlm.tuning.choice import label_logprobs

    result, _, _ = trained("prefix", tiny_tokenizer, tmp_path)
    model = result.model.eval()
    with torch.no_grad():
        want = model.generate(input_ids=IDS, attention_mask=torch.ones_like(IDS),
                              max_new_tokens=5, do_sample=False,
                              pad_token_id=tiny_tokenizer.pad_token_id)[0, IDS.shape[1]:]
        view = decoding_view(model)
        out = view(input_ids=IDS, attention_mask=torch.ones_like(IDS),
                   position_ids=torch.arange(IDS.shape[1])[None], use_cache=True)
        got, past, mask = [], out.past_key_values, torch.ones_like(IDS)
        for step in range(5):
            token = out.logits[0, -1].argmax()
            got.append(int(token))
            mask = torch.cat([mask, torch.ones(1, 1, dtype=mask.dtype)], dim=1)
            out = view(input_ids=token.view(1, 1), attention_mask=mask, past_key_values=past,
                       position_ids=torch.tensor([[IDS.shape[1] + step]]), use_cache=True)
            past = out.past_key_values
    assert len(want) >= 2 and got[:len(want)] == want.tolist()  # generate stops at the end
    # Choice scoring carries the prompt's cache into the labels' pass: the same as reading
    # prompt and label in one forward.
    labels = [[11, 12], [13]]
    scores = label_logprobs(model, IDS[0].tolist(), labels, pad=0)
    whole = torch.log_softmax(logits(model, torch.tensor([IDS[0].tolist() + [11, 12]]))[0], -1)
    n = IDS.shape[1]
    assert scores[0] == pytest.approx(float(whole[n - 1, 11] + whole[n, 12]) / 2, abs=1e-4)


def test_targets_name_the_attention_and_mlp_layers(tiny_model):
    assert target_names(tiny_model, "attention") == ["k_proj", "o_proj", "q_proj", "v_proj"]
    assert target_names(tiny_model, "mlp") == ["down_proj", "gate_proj", "up_proj"]
    _, record = prepare(tiny_model, TuningSettings(method="ia3", targets="mlp"))
    assert record["config"]["target_modules"] == ["down_proj"]
    assert record["config"]["feedforward_modules"] == ["down_proj"]


def test_a_rank_above_the_narrowest_layer_is_refused_from_the_config(tiny_model):
    # The tiny Llama's k_proj and v_proj map 32 to 2 heads x 8 = 16.
    check_fits(TuningSettings(rank=16), tiny_model.config)
    with pytest.raises(InputError, match="rank = 17 is above the width of the base model's "
                                         "k_proj layers \\(16\\).*--rank 16"):
        check_fits(TuningSettings(rank=17), tiny_model.config)
    check_fits(TuningSettings(rank=17, targets="mlp"), tiny_model.config)  # 32 wide
    check_fits(TuningSettings(rank=17, method="ia3"), tiny_model.config)  # no rank


def test_prefix_with_packing_is_refused_by_the_settings():
    with pytest.raises(ValidationError, match="packing cannot be used with method 'prefix'"):
        TuningSettings(method="prefix", packing=True)
    assert TuningSettings(method="spectrum").peak_learning_rate == \
        TuningSettings().full_learning_rate


@pytest.mark.parametrize("args, message", [
    (["--full", "--method", "dora"], "--full and --method dora exclude each other"),
    (["--qlora", "--method", "pissa"], "pissa rewrites the base weights"),
    (["--qlora", "--method", "spectrum"], "spectrum trains the base weights"),
    (["--rank", "64"], "rank = 64 is above the width"),
])
def test_impossible_combinations_are_refused_before_training(args, message, tmp_path,
                                                             monkeypatch):
    from typer.testing import CliRunner

    from graftlm.cli import app
    from tests.conftest import save_tiny_base

    base = save_tiny_base(tmp_path / "tiny")
    data = tmp_path / "d.jsonl"
    data.write_text('{"prompt": "play some jazz", "completion": "PlayMusic"}\n' * 4)
    loaded = []
    monkeypatch.setattr("graftlm.tuning.run.load_base", lambda *a, **k: loaded.append(1))
    result = CliRunner().invoke(app, ["train", str(data), "--name", "x", *args],
                                env={"GRAFT_MODELS__BASE": str(base)})
    assert result.exit_code != 0 and message in " ".join(result.output.split())
    assert "Traceback" not in result.output and not loaded


def test_a_prefix_starts_as_the_keys_and_values_of_real_tokens(tiny_model):
    model, record = prepare(tiny_model, TuningSettings(method="prefix", prefix_tokens=4),
                            start_ids=[5, 6, 7])
    assert record["started_from_tokens"] == 3
    with torch.no_grad():
        prefix = model.get_prompt(1)
        real = tiny_model(input_ids=torch.tensor([[5, 6, 7, 5]]), use_cache=True).past_key_values
        for ours, theirs in zip(prefix.layers, real.layers):
            assert torch.allclose(ours.keys, theirs.keys, atol=1e-6)
            assert torch.allclose(ours.values, theirs.values, atol=1e-6)
        # So the prefixed model reads a prompt as the base model reads those tokens before it.
        after = decoding_view(model)(input_ids=torch.tensor([[8, 9, 10]])).logits
        whole = tiny_model(input_ids=torch.tensor([[5, 6, 7, 5, 8, 9, 10]]))
    assert torch.allclose(after, whole.logits[:, 4:], atol=1e-5)


def test_only_the_main_process_writes_pissas_start(tiny_tokenizer, tmp_path, monkeypatch):
    settings = FAST.model_copy(update={"method": "pissa"})
    monkeypatch.setenv("RANK", "1")  # a second process of `accelerate launch`
    prepare(make_tiny_model(tiny_tokenizer), settings, init_dir=tmp_path / "other")
    assert not (tmp_path / "other").exists()
    monkeypatch.setenv("RANK", "0")
    prepare(make_tiny_model(tiny_tokenizer), settings, init_dir=tmp_path / "main")
    assert (tmp_path / "main" / "adapter_config.json").is_file()


@pytest.mark.parametrize("method", ["lora", "dora", "prefix"])
def test_the_new_weights_start_from_the_seed_whatever_the_process_drew_before(method,
                                                                              tiny_tokenizer):
    """tuning.seed fixes the initialisation: a second run in one process (measured advice's
    arms, `graft` commands run in-process) starts from the same adapter weights as a first."""
    def start(draws: int, seed: int = 0) -> dict:
        base = make_tiny_model(tiny_tokenizer)
        torch.rand(draws)  # whatever ran before in this process
        model, _ = prepare(base, TuningSettings(method=method, seed=seed))
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    first, second, other = start(1), start(1000), start(1, seed=1)
    assert all(torch.equal(first[n], second[n]) for n in first)
    assert any(not torch.equal(first[n], other[n]) for n in first)
