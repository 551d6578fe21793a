"""Hermetic tuning fixtures: a word-level ChatML tokenizer and a tiny random Llama, built here."""

import pytest

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
WORDS = ("system user assistant you are helpful classify the request play some jazz music "
         "book a table for two weather in paris rate this novel five stars PlayMusic "
         "BookRestaurant GetWeather RateBook translate hello bonjour answer with intent only "
         "what is capital of france").split()


@pytest.fixture(scope="session")
def tiny_tokenizer():
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


@pytest.fixture
def tiny_model(tiny_tokenizer):
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tiny_tokenizer), hidden_size=32, intermediate_size=64,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=128, eos_token_id=tiny_tokenizer.eos_token_id,
                         pad_token_id=tiny_tokenizer.pad_token_id)
    return LlamaForCausalLM(config)


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_model, tiny_tokenizer):
    """The tiny model saved as a Hugging Face directory, usable as ``models.base``."""
    path = tmp_path / "tiny-base"
    tiny_model.save_pretrained(path)
    tiny_tokenizer.save_pretrained(path)
    return path
