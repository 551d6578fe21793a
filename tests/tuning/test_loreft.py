"""LoReFT on the tiny Llama: the edit touches exactly the prompt's last positions, decoding on a
KV cache answers as a full recompute with the prompt marked (the training path) does, and a
left-padded batch answers as each row alone."""

import pytest
import torch

from graftlm.core.settings import TuningSettings
from graftlm.tuning.methods import get, prepare
from graftlm.tuning.methods.loreft import where
from tests.conftest import make_tiny_model

PROMPT = [5, 6, 7, 8, 9, 10, 11]


def edited(tiny_tokenizer, positions=3):
    model, record = prepare(make_tiny_model(tiny_tokenizer),
                            TuningSettings(method="loreft", reft_rank=2,
                                           reft_positions=positions))
    with torch.no_grad():  # move the edit away from its start, so it visibly changes answers
        for param in model.graft_reft.parameters():
            param.add_(torch.randn_like(param))
    return model.eval(), record


def test_only_the_prompts_last_positions_are_edited_and_only_the_edit_trains(tiny_tokenizer):
    model, record = edited(tiny_tokenizer)
    base = make_tiny_model(tiny_tokenizer).eval()
    ids = torch.tensor([PROMPT])
    with torch.no_grad():
        ours, theirs = model(input_ids=ids).logits, base(input_ids=ids).logits
    same = torch.isclose(ours, theirs, atol=1e-6).all(-1)[0].tolist()
    assert same == [True] * 4 + [False] * 3  # a causal model: nothing before the edit moves
    assert record["config"] == {"rank": 2, "positions": 3, "layers": [0, 1], "hidden_size": 32}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("graft_reft.") for n in trainable)
    # R has orthonormal rows: R Rᵀ = I.
    rotate = model.graft_reft["0"]["rotate"].weight
    assert torch.allclose(rotate @ rotate.T, torch.eye(2), atol=1e-5)


def test_decoding_on_a_cache_answers_as_training_reads_the_same_tokens(tiny_tokenizer):
    model, _ = edited(tiny_tokenizer)
    ids = torch.tensor([PROMPT])
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                             max_new_tokens=4, do_sample=False, min_new_tokens=4,
                             pad_token_id=tiny_tokenizer.pad_token_id)
        whole = model(input_ids=out, prompt_lengths=torch.tensor([len(PROMPT)])).logits
    # Each generated token is the full recompute's greedy choice at the position before it.
    assert out[0, len(PROMPT):].tolist() == whole[0, len(PROMPT) - 1:-1].argmax(-1).tolist()


def test_a_left_padded_batch_answers_as_each_row_alone(tiny_tokenizer):
    from graftlm.core.padding import left_pad

    model, _ = edited(tiny_tokenizer)
    rows = [PROMPT, PROMPT[2:]]
    ids, mask = left_pad(rows, tiny_tokenizer.pad_token_id)
    with torch.no_grad():
        batch = model(input_ids=ids, attention_mask=mask,
                      position_ids=(mask.cumsum(-1) - 1).clamp(min=0)).logits[:, -1]
        alone = [model(input_ids=torch.tensor([r])).logits[0, -1] for r in rows]
    assert torch.allclose(batch[0], alone[0], atol=1e-5)
    assert torch.allclose(batch[1], alone[1], atol=1e-5)


@pytest.mark.parametrize("mask, lengths, want", [
    (None, None, [[0, 0, 1, 1]]),
    ([[0, 1, 1, 1]], None, [[0, 0, 1, 1]]),  # left padding
    ([[1, 1, 1, 0]], None, [[0, 1, 1, 0]]),  # right padding
    ([[1, 1, 1, 0]], [1], [[1, 0, 0, 0]]),  # the prompt ends where the answer starts
])
def test_the_edited_positions(mask, lengths, want):
    ids = torch.zeros(1, 4, dtype=torch.long)
    got = where(ids, torch.tensor(mask) if mask else None, None,
                torch.tensor(lengths) if lengths else None, 2)
    assert got.int().tolist() == want


def test_a_fresh_edit_answers_as_the_base_and_still_learns(tiny_tokenizer):
    model, _ = prepare(make_tiny_model(tiny_tokenizer),
                       TuningSettings(method="loreft", reft_rank=2))
    base = make_tiny_model(tiny_tokenizer).eval()
    ids = torch.tensor([PROMPT])
    out = model(input_ids=ids).logits
    assert torch.allclose(out, base(input_ids=ids).logits, atol=1e-6)
    out[0, -1].logsumexp(-1).backward()  # any loss at an edited position
    grads = [p.grad for p in model.graft_reft.parameters()]
    assert all(g is not None for g in grads) and any(g.abs().sum() > 0 for g in grads)


def test_switched_off_the_edit_answers_as_the_base(tiny_tokenizer):
    model, _ = edited(tiny_tokenizer)
    base = make_tiny_model(tiny_tokenizer).eval()
    ids = torch.tensor([PROMPT])
    with torch.no_grad(), get("loreft").switched_off(model):
        assert torch.allclose(model(input_ids=ids).logits, base(input_ids=ids).logits)
