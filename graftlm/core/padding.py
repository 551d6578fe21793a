"""Left-padded batches of token ids: how every batched generation in graftlm lines up prompts.

Generation appends on the right, so prompts of different lengths are padded on the left and
masked; the in-process engine and the evaluation loop both batch this way.
"""

from __future__ import annotations

from collections.abc import Sequence


def pad_id(tokenizer) -> int:
    """The tokenizer's padding token, or its end-of-sequence token when it has none."""
    return tokenizer.pad_token_id if tokenizer.pad_token_id is not None else \
        tokenizer.eos_token_id


def left_pad(rows: Sequence[Sequence[int]], pad: int):
    """``(input_ids, attention_mask)``, both ``(len(rows), longest)`` long tensors, each row's
    ids right-aligned after ``pad`` fill that the mask zeroes."""
    import torch

    width = max(len(row) for row in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        if len(row):
            ids[i, width - len(row):] = torch.as_tensor(list(row), dtype=torch.long)
            mask[i, width - len(row):] = 1
    return ids, mask
