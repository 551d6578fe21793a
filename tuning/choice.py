"""Choice scoring: which of a closed set of labels the model finds most likely after a prompt.

As lm-evaluation-harness scores multiple choice: for each label, the log-likelihood of its
tokens right after the prompt (the assistant's turn opened by the chat template), divided by
the label's length in tokens so long labels are not penalised for being long; the most likely
label is the answer. No sampling, and no end-of-turn token: what is measured is which answer
the model would start with, not whether it would stop there. The prompt is read once; all
labels of one prompt then go through the model in one batched pass over its KV cache, so
scoring a retrieval prompt with three labels costs about one prompt's forward, not three.

Ties go to the label listed first. The in-process engine serves the same constraint (a request's
``structured_outputs.choice``) through :func:`label_logprobs`, so a served choice is the measured
one.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

from graftlm.core.padding import pad_id
from graftlm.tuning.methods import decoding_view

LABEL_CHUNK = 16  # labels scored together after one prompt


def label_ids(tokenizer, labels: Sequence[str]) -> list[list[int]]:
    """Each label's tokens as they follow the assistant-turn header."""
    return [tokenizer(label, add_special_tokens=False)["input_ids"] or
            [tokenizer.eos_token_id] for label in labels]


def label_logprobs(model, prompt: Sequence[int], labels: Sequence[Sequence[int]], *,
                   pad: int, **forward) -> list[float]:
    """Length-normalised log-likelihood of each tokenised label after ``prompt``.

    The prompt goes through the model once; its KV cache, repeated for every label, then carries
    all labels in one batched pass (right-padded: causal attention never reads the padding
    before a real token). ``forward`` goes to both passes (e.g. peft's ``adapter_name``s).
    """
    import torch

    model = decoding_view(model)  # a prefix model's cache must start with its prefix
    device = next(model.parameters()).device
    names = forward.pop("adapter_names", None)
    with torch.inference_mode():
        head = model(input_ids=torch.as_tensor([list(prompt)], device=device), use_cache=True,
                     logits_to_keep=1, **({"adapter_names": names[:1]} if names else {}),
                     **forward)
        first = torch.log_softmax(head.logits[0, -1].float(), dim=-1)
        scores = [float(first[label[0]]) for label in labels]
        cache = head.past_key_values
        # Labels of more than one token continue from the prompt's cache, a chunk of labels at
        # a time: all at once, 64 long choices' logits over the vocabulary take gigabytes.
        for start in range(0, len(labels), LABEL_CHUNK):
            chunk = labels[start:start + LABEL_CHUNK]
            longest = max(len(label) for label in chunk)
            if longest == 1:
                continue
            shared = copy.deepcopy(cache) if len(labels) > LABEL_CHUNK else cache
            shared.batch_repeat_interleave(len(chunk))
            rest = torch.full((len(chunk), longest - 1), pad, dtype=torch.long, device=device)
            for row, label in enumerate(chunk):
                rest[row, :len(label) - 1] = torch.as_tensor(label[:-1], device=device)
            positions = torch.arange(len(prompt), len(prompt) + longest - 1, device=device)
            part = names[start:start + len(chunk)] if names else None
            tail = model(input_ids=rest, past_key_values=shared, use_cache=True,
                         position_ids=positions.expand(len(chunk), -1),
                         **({"adapter_names": part} if part else {}), **forward)
            logprobs = torch.log_softmax(tail.logits.float(), dim=-1)
            for row, label in enumerate(chunk):
                for i, token in enumerate(label[1:]):
                    scores[start + row] += float(logprobs[row, i, token])
    return [score / len(label) for score, label in zip(scores, labels)]


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
