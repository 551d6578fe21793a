"""A real gateway on a free port, in a thread: the tiny Llama, a random LoRA adapter on it, and an
index built with the fake word embedder. Clients talk to it over HTTP like any OpenAI client."""

from __future__ import annotations

import pytest

from tests.conftest import WordEmbedder, save_tiny_base

DOCS = {
    "reset.md": "# Reset\n\nHold the reset button for ten seconds to restore factory settings.\n",
    "wifi.md": "# Wifi\n\nThe wifi password is printed on the label under the router.\n",
    "warranty.md": "# Warranty\n\nThe warranty lasts two years from the date of purchase.\n",
}
SERVING = {"max_body_bytes": 20_000, "max_tokens_limit": 64, "default_max_tokens": 8,
           "vllm": {"max_model_len": 128}}
RAG = {"prompt": {"k": 2, "context_tokens": 60, "instruction": "Use the sources."}}


def make_adapter(base, workspace, name: str, *, base_sha256: str | None = None,
                 index: dict | None = None) -> None:
    """A LoRA adapter with random (not zero) weights, so it visibly changes the output."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from graftlm.core.workspace import write_manifest

    torch.manual_seed(1)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base), LoraConfig(
        r=4, lora_alpha=16, target_modules="all-linear", init_lora_weights=False))
    with workspace.writer("adapters", name, replace=True) as staging:
        model.save_pretrained(staging)
        write_manifest(staging, "adapter", {"name": name, "type": "lora", "index": index,
                                            "base_model": {"sha256": base_sha256}})


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """Settings and workspace holding the tiny base model, adapter 'terse' and index 'handbook'."""
    from graftlm.core.settings import Settings
    from graftlm.core.workspace import Workspace
    from graftlm.rag.index import build_index

    home = tmp_path_factory.mktemp("serve-home")
    base = save_tiny_base(home / "tiny-base")
    settings = Settings(home=home, models={"base": str(base)}, serving=SERVING, rag=RAG)
    workspace = Workspace(home)
    make_adapter(base, workspace, "terse")
    docs = home / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    build_index(docs, "handbook", workspace=workspace, settings=settings.rag,
                embedder=WordEmbedder())
    return settings, workspace


def gateway(stack, **serving):
    """A gateway over ``stack`` with these serving settings, as ``run_in_thread``'s context."""
    from graftlm.serving.app import run_in_thread

    return run_in_thread(make_app(stack, **serving), startup_timeout=60)


def make_app(stack, **serving):
    from graftlm.serving.app import create_app
    from graftlm.serving.runtime import Runtime

    settings, workspace = stack
    if serving:
        settings = settings.model_copy(update={
            "serving": settings.serving.model_copy(update=serving)})
    runtime = Runtime(settings, workspace, adapters=["terse"], indexes=["handbook"],
                      engine="local", embedder=WordEmbedder())
    return create_app(runtime)


@pytest.fixture(scope="module")
def url(stack):
    with gateway(stack) as base_url:
        yield base_url


@pytest.fixture
def client(url):
    import openai

    return openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0)
