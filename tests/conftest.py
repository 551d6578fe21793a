"""Shared fixtures: an isolated workspace and environment for every test, a fake embedder, and
hermetic tiny models: a word-level ChatML tokenizer and a tiny random Llama, built here."""

from __future__ import annotations

import os

import pytest

# Captured before any test clears GRAFT_*: end-to-end tests reuse one prepared model across runs.
SHARED_HOME = os.environ.get("GRAFT_HOME") or os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), ".cache", "graft-home")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Each test gets its own GRAFT_HOME and working directory, and no stray GRAFT_* settings."""
    for key in list(os.environ):
        if key.startswith("GRAFT_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("GRAFT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    return tmp_path


class WordEmbedder:
    """A deterministic bag-of-words embedder: texts sharing words are similar. No model needed."""

    name = "fake-words"
    dim = 256

    def count_tokens(self, text):
        return len(text.split())

    def embed(self, texts):
        import hashlib

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                word = word.strip(".,;:!?'\"")
                if len(word) > 3:
                    h = int(hashlib.md5(word.encode()).hexdigest(), 16)
                    out[i, h % self.dim] += 1.0
            norm = np.linalg.norm(out[i])
            if norm:
                out[i] /= norm
        return out


@pytest.fixture
def word_embedder():
    return WordEmbedder()


# -- tiny models ------------------------------------------------------------------------------

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
WORDS = ("system user assistant you are helpful classify the request play some jazz music "
         "book a table for two weather in paris rate this novel five stars PlayMusic "
         "BookRestaurant GetWeather RateBook translate hello bonjour answer with intent only "
         "what is capital of france").split()


def make_tiny_tokenizer():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "[UNK]"]
    vocab = {tok: i for i, tok in enumerate(specials + sorted(set(WORDS)))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="[UNK]",
                                  eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                  additional_special_tokens=["<|im_start|>"])
    tok.chat_template = CHATML
    return tok


def make_tiny_model(tiny_tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, eos_token_id=tiny_tokenizer.eos_token_id,
                         pad_token_id=tiny_tokenizer.pad_token_id)
    return LlamaForCausalLM(config)


def save_tiny_base(path):
    """A tiny random Llama and its tokenizer as a Hugging Face directory (``models.base``)."""
    tokenizer = make_tiny_tokenizer()
    make_tiny_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return make_tiny_tokenizer()


@pytest.fixture
def tiny_model(tiny_tokenizer):
    return make_tiny_model(tiny_tokenizer)


@pytest.fixture
def tiny_model_dir(tmp_path):
    return save_tiny_base(tmp_path / "tiny-base")
