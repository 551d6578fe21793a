"""Choice scoring: length-normalised log-likelihood of each label after the prompt."""

from types import SimpleNamespace

import pytest
import torch

from tests.conftest import make_tiny_model, make_tiny_tokenizer
from graftlm.tuning.choice import choose, label_logprobs


class _Prefers(torch.nn.Module):
    """A stand-in model whose next-token logits favour some token ids everywhere."""

    def __init__(self, vocab: int, favour: dict[int, float]):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.bias = torch.zeros(vocab)
        for token, logit in favour.items():
            self.bias[token] = logit

    def forward(self, input_ids, logits_to_keep=None, **_):
        rows, width = input_ids.shape
        keep = logits_to_keep or width
        return SimpleNamespace(logits=self.bias.expand(rows, keep, -1).clone(),
                               past_key_values=SimpleNamespace(
                                   batch_repeat_interleave=lambda n: None))


def test_equal_likelihoods_tie_and_the_first_label_wins():
    model = _Prefers(10, {})
    scores = label_logprobs(model, [1, 2, 3], [[4], [5, 6]], pad=0)
    assert scores[0] == pytest.approx(scores[1])  # normalised: length does not matter
    tokenizer = _Words({"alpha": [4], "beta": [5, 6]})
    assert choose(model, tokenizer, [[1, 2, 3]], ["alpha", "beta"]) == ["alpha"]
    assert choose(model, tokenizer, [[1, 2, 3]], ["beta", "alpha"]) == ["beta"]


def test_the_more_likely_label_wins_per_token_not_in_total():
    model = _Prefers(10, {4: 6.0, 5: 9.0, 7: 6.0})
    tokenizer = _Words({"short": [4], "long": [5, 7]})
    short, long = label_logprobs(model, [1], [[4], [5, 7]], pad=0)
    assert long > short and 2 * long < short  # a sum over tokens would pick "short"
    assert choose(model, tokenizer, [[1]], ["short", "long"]) == ["long"]


class _Words:
    pad_token_id, eos_token_id = 0, 0

    def __init__(self, ids: dict[str, list[int]]):
        self.ids = ids

    def __call__(self, text, add_special_tokens=False):
        return {"input_ids": self.ids[text]}


def test_batched_scores_equal_one_unpadded_pass_per_label():
    tokenizer = make_tiny_tokenizer()
    model = make_tiny_model(tokenizer).eval()
    prompt = tokenizer("hello there friend", add_special_tokens=False)["input_ids"]
    labels = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in ("yes", "no thanks")]
    batched = label_logprobs(model, prompt, labels, pad=tokenizer.pad_token_id or 0)
    for label, score in zip(labels, batched):
        ids = torch.tensor([prompt + label])
        with torch.inference_mode():
            logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), -1)
        alone = sum(float(logp[len(prompt) - 1 + i, t]) for i, t in enumerate(label)) / len(label)
        assert score == pytest.approx(alone, abs=1e-4)


def test_labels_scored_in_chunks_score_as_all_at_once(monkeypatch):
    from graftlm.tuning import choice

    tokenizer = make_tiny_tokenizer()
    model = make_tiny_model(tokenizer).eval()
    prompt = tokenizer("hello there friend", add_special_tokens=False)["input_ids"]
    labels = [tokenizer(t, add_special_tokens=False)["input_ids"]
              for t in ("yes", "no thanks", "maybe so", "hello there", "friend yes no")]
    together = label_logprobs(model, prompt, labels, pad=tokenizer.pad_token_id or 0)
    monkeypatch.setattr(choice, "LABEL_CHUNK", 2)
    chunked = label_logprobs(model, prompt, labels, pad=tokenizer.pad_token_id or 0)
    assert chunked == pytest.approx(together, abs=1e-5)
