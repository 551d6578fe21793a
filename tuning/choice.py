"""Choice scoring: which of a closed set of labels the model finds most likely after a prompt.

As lm-evaluation-harness scores multiple choice: for each label, the log-likelihood of its
tokens right after the prompt (the assistant's turn opened by the chat template), divided by
the label's length in tokens so long labels are not penalised for being long; the most likely
label is the answer. No sampling, and no end-of-turn token: what is measured is which answer
the model would start with, not whether it would stop there. All labels of one prompt go through
the model in one batched forward pass, left-padded so every label ends at the same position and
only the last positions' logits are computed.

Ties go to the label listed first. The in-process engine serves the same constraint (a request's
``structured_outputs.choice``) through :func:`label_logprobs`, so a served choice is the measured
one.
"""

from __future__ import annotations

from collections.abc import Sequence

from graftlm.padding import left_pad, pad_id


def label_ids(tokenizer, labels: Sequence[str]) -> list[list[int]]:
    """Each label's tokens as they follow the assistant-turn header."""
    return [tokenizer(label, add_special_tokens=False)["input_ids"] or
            [tokenizer.eos_token_id] for label in labels]


def label_logprobs(model, prompt: Sequence[int], labels: Sequence[Sequence[int]], *,
                   pad: int, **forward) -> list[float]:
    """Length-normalised log-likelihood of each tokenised label after ``prompt``.

    ``forward`` goes to the model's forward (e.g. peft's ``adapter_names``, one per label).
    """
    import torch

    ids, mask = left_pad([list(prompt) + list(label) for label in labels], pad)
    device = next(model.parameters()).device
    ids, mask = ids.to(device), mask.to(device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    longest = max(len(label) for label in labels)
    with torch.inference_mode():
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions,
                       logits_to_keep=longest + 1, use_cache=False, **forward).logits
    # logits[:, j] predicts the token at position width - longest - 1 + j + 1.
    logprobs = torch.log_softmax(logits[:, :-1].float(), dim=-1)
    scores = []
    for row, label in enumerate(labels):
        tail = logprobs[row, longest - len(label):]
        picked = tail.gather(-1, torch.as_tensor(label, device=device)[:, None])
        scores.append(float(picked.sum()) / len(label))
    return scores


def choose(model, tokenizer, prompts: Sequence[Sequence[int]], labels: Sequence[str]
           ) -> list[str]:
    """The most likely label after each prompt (token ids ending with the generation prompt)."""
    tokenised = label_ids(tokenizer, labels)
    pad = pad_id(tokenizer)
    was_training = model.training
    model.eval()
    try:
        picks = []
        for prompt in prompts:
            scores = label_logprobs(model, prompt, tokenised, pad=pad)
            picks.append(labels[max(range(len(labels)), key=lambda i: (scores[i], -i))])
        return picks
    finally:
        model.train(was_training)
