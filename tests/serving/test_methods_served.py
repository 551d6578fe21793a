"""Adapters of every method behind the gateway: the local engine serves each as the method's own
model answers, in one mixed round as one at a time; vLLM gets LoRA and PiSSA as LoRA, DoRA, IA3
and Spectrum as merged copies, and prefix and LoReFT adapters are refused with what to do."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from graftlm.core.errors import ArtifactError
from graftlm.tuning.methods import METHODS as REGISTRY
from tests.conftest import save_tiny_base

METHODS = [name for name, method in REGISTRY.items() if not method.is_model]
ASK = [{"role": "user", "content": "play some jazz music"}]


def make_method_adapter(base, workspace, name: str, method: str) -> None:
    """An adapter of ``method`` whose trainable weights were moved at random from their start,
    so it visibly changes the answers, saved as ``graft train`` saves it."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from graftlm.core.settings import TuningSettings
    from graftlm.core.workspace import write_manifest
    from graftlm.tuning.methods import prepare, save

    torch.manual_seed(len(name))
    settings = TuningSettings(method=method, rank=4, spectrum_share=0.5, prefix_tokens=4,
                              reft_rank=2)
    init = workspace.home / "runs" / name
    model, record = prepare(AutoModelForCausalLM.from_pretrained(base), settings, init_dir=init)
    with torch.no_grad():
        for param in model.parameters():
            if param.requires_grad:
                param.add_(torch.randn_like(param) * 0.5)
    with workspace.writer("adapters", name, replace=True) as staging:
        save(model, staging, settings, AutoTokenizer.from_pretrained(base), init_dir=init)
        write_manifest(staging, "adapter", {"name": name, "type": method, "method": record,
                                            "base_model": {"sha256": None}})


@pytest.fixture(scope="module")
def methods_stack(tmp_path_factory):
    from graftlm.core.settings import Settings
    from graftlm.core.workspace import Workspace
    from tests.serving.conftest import SERVING

    home = tmp_path_factory.mktemp("methods-home")
    base = save_tiny_base(home / "tiny-base")
    settings = Settings(home=home, models={"base": str(base)}, serving=SERVING)
    workspace = Workspace(home)
    for method in METHODS:
        make_method_adapter(base, workspace, method, method)
    return settings, workspace


def reference(settings, workspace, name: str, max_tokens: int) -> str:
    """What adapter ``name`` itself answers, greedily, through transformers' generate."""
    import torch

    from graftlm.tuning.adapter import open_adapter

    model, tokenizer, _ = open_adapter(name, settings, workspace)
    ids = tokenizer.apply_chat_template(ASK, add_generation_prompt=True, tokenize=True,
                                        return_dict=True, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.eval().generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                    max_new_tokens=max_tokens, do_sample=False,
                                    pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)


def test_the_local_engine_serves_every_method_as_the_method_answers(methods_stack):
    import openai

    from graftlm.serving.app import create_app, run_in_thread
    from graftlm.serving.runtime import Runtime

    settings, workspace = methods_stack
    runtime = Runtime(settings, workspace, adapters=METHODS, engine="local")
    with run_in_thread(create_app(runtime), startup_timeout=120) as url:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)

        def ask(model: str) -> str:
            reply = client.chat.completions.create(model=model, messages=ASK, max_tokens=6,
                                                   temperature=0)
            return reply.choices[0].message.content

        alone = {model: ask(model) for model in ["base", *METHODS]}
        with ThreadPoolExecutor(len(alone)) as pool:  # one round, mixed
            together = dict(zip(alone, pool.map(ask, alone)))
        picked = client.chat.completions.create(
            model="prefix", messages=ASK, max_tokens=4,
            extra_body={"structured_outputs": {"choice": ["PlayMusic", "GetWeather"]}})
        assert picked.choices[0].message.content in ("PlayMusic", "GetWeather")
    assert together == alone
    for method in METHODS:
        assert alone[method] == reference(settings, workspace, method, 6), method
    assert len(set(alone.values())) > 2  # the adapters do change the answers


def test_vllm_takes_lora_shaped_adapters_as_lora_and_the_others_merged(methods_stack,
                                                                      monkeypatch):
    from graftlm.serving.engines import vllm
    from graftlm.serving.runtime import Runtime

    monkeypatch.setattr(vllm, "on_gpu", lambda: True)  # LoRA adapters stay LoRA
    settings, workspace = methods_stack
    served = [name for name in METHODS if REGISTRY[name].on_vllm is not None]
    engine = Runtime(settings, workspace, adapters=served, engine="vllm").engine
    assert set(engine.initial) == {"lora", "pissa"}
    assert set(engine.merged) == {"dora", "ia3", "spectrum"}


@pytest.mark.parametrize("serving, adapter, message", [
    ({}, "prefix", "prefix-tuning adapter; vLLM serves LoRA adapters only"),
    ({}, "loreft", "a LoReFT adapter; vLLM serves LoRA adapters only, and it edits"),
    ({"upstream": ["http://127.0.0.1:9"]}, "loreft", "Serve it with --engine local"),
    ({"upstream": ["http://127.0.0.1:9"]}, "prefix", "Serve it with --engine local"),
    ({"upstream": ["http://127.0.0.1:9"]}, "dora", "graft adapters merge dora --out DIR"),
])
def test_what_vllm_cannot_serve_is_refused_at_start_up(methods_stack, serving, adapter,
                                                       message):
    from graftlm.serving.runtime import Runtime

    settings, workspace = methods_stack
    settings = settings.model_copy(update={"serving": settings.serving.model_copy(
        update=serving)})
    with pytest.raises(ArtifactError, match=message):
        Runtime(settings, workspace, adapters=["lora", adapter], engine="vllm")


@pytest.mark.parametrize("adapter", ["prefix", "loreft"])
def test_merging_an_adapter_that_is_no_change_of_weights_says_what_to_do(methods_stack, adapter,
                                                                         tmp_path):
    from graftlm.tuning.merge import merge_adapter

    settings, workspace = methods_stack
    with pytest.raises(ArtifactError, match="cannot be merged. Serve it with --engine local"):
        merge_adapter(adapter, tmp_path / "out", settings, workspace)
    assert not (tmp_path / "out").exists()
