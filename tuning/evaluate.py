"""Generation-based evaluation: what the model *answers*, not only its loss.

Generation is greedy and batched with left padding; the answers are scored by
:mod:`tuning.metrics`. :func:`evaluate_adapter` sets an adapter beside its base model.
"""

from __future__ import annotations

from collections.abc import Sequence

from graftlm.padding import left_pad, pad_id
from tuning.data import Example, prompt_ids


def generate_answers(model, tokenizer, examples: Sequence[Example], *, max_new_tokens: int,
                     batch_size: int = 16) -> list[str]:
    """Greedy answers of ``model`` to each example's prompt."""
    import torch

    device = next(model.parameters()).device
    pad = pad_id(tokenizer)
    answers: list[str] = []
    was_training = model.training
    model.eval()
    for start in range(0, len(examples), batch_size):
        ids, mask = left_pad([prompt_ids(ex, tokenizer)
                              for ex in examples[start:start + batch_size]], pad)
        width = ids.shape[1]
        with torch.inference_mode():
            out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device),
                                 max_new_tokens=max_new_tokens, do_sample=False,
                                 pad_token_id=pad)
        for row in out[:, width:]:
            answers.append(tokenizer.decode(row, skip_special_tokens=True).strip())
    model.train(was_training)
    return answers


def answer_budget(tokenizer, targets: Sequence[str]) -> int:
    """New tokens to generate: a little more than the longest target."""
    longest = max((len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in targets),
                  default=16)
    return min(512, longest + 8)
